// Benchmark of `exfil-monitor analyze` against the floor of what any such tool must do with the same file.
// For each size, a synthetic audit log (bench/generate-audit-log.ts) is written once to a temporary
// directory; then, each in its own child process so that peak memory is measured per run:
//   floor    stream the file, JSON.parse every line, insert the raw entries into SQLite
//            (id TEXT PRIMARY KEY, body TEXT) in batched transactions, nothing else;
//   analyze  analyzeFiles() with every detector turned on.
// Targets: analyze at least half the floor's speed, and peak RSS under 512 MiB that does not grow with the
// size of the log.
//
//   tsx bench/analyze.ts [--events 1000000,4000000] [--seed N] [--keep]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { writeAuditLog } from "./generate-audit-log.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), "..");

export const TARGET_RATIO = 0.5;
export const TARGET_RSS_MIB = 512;
/** RSS from the smallest to the largest size may grow by this fraction and still count as flat. */
export const RSS_GROWTH_TOLERANCE = 0.15;

export interface ChildRun {
  kind: "floor" | "analyze";
  events: number;
  seconds: number;
  eventsPerSecond: number;
  maxRssMiB: number;
  /** analyze only: findings reported. */
  findings?: number;
  /** analyze only: findings per detector and severity, e.g. `new-country/low`. */
  findingsBy?: Record<string, number>;
}

export interface AnalyzeBenchSize {
  events: number;
  fileMiB: number;
  floor: ChildRun;
  analyze: ChildRun;
  /** analyze events/s ÷ floor events/s. */
  ratio: number;
}

export interface AnalyzeBenchResult {
  sizes: AnalyzeBenchSize[];
  /** Every target met: ratio, peak RSS, and RSS flat across sizes. */
  ok: boolean;
  /** What missed a target, one line each (empty when ok). */
  misses: string[];
  /** Human-readable table. */
  report: string;
}

export interface BenchAnalyzeOptions {
  /** Log sizes in events, e.g. [1_000_000, 4_000_000]. */
  events: number[];
  seed?: number;
  /** Write the incidents into the log too (the analyzer must then report them). */
  incidents?: boolean;
  /** Keep the generated files and databases (their directory is printed). */
  keep?: boolean;
  /** Progress lines (generation, each run); defaults to stderr. */
  progress?: (line: string) => void;
}

const MIB = 1024 * 1024;

/** Runs this file as a child (`--child floor|analyze FILE DB`) and reads the JSON it prints last. */
function runChild(kind: "floor" | "analyze", file: string, db: string): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", THIS_FILE, "--child", kind, file, db], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !last.startsWith("{")) {
        reject(new Error(`the ${kind} run failed (exit ${code}): ${err.trim().slice(-2000) || out.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(last) as ChildRun);
    });
  });
}

function finish(kind: ChildRun["kind"], events: number, started: number, extra: Partial<ChildRun> = {}): ChildRun {
  const seconds = (performance.now() - started) / 1000;
  return {
    kind,
    events,
    seconds: Math.round(seconds * 100) / 100,
    eventsPerSecond: Math.round(events / seconds),
    // resourceUsage().maxRSS is in KiB.
    maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    ...extra,
  };
}

/** The floor: split lines, parse, insert raw, in transactions of 1,000 (the analyzer's batch size). */
async function floorChild(file: string, dbFile: string): Promise<ChildRun> {
  const started = performance.now();
  const db = new Database(dbFile);
  // The same pragmas as the app's store (src/store/open.ts), so only the work differs.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec("CREATE TABLE raw (id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT");
  const insert = db.prepare("INSERT INTO raw (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING");
  const flush = db.transaction((rows: [string, string][]) => {
    for (const [id, body] of rows) insert.run(id, body);
  });
  let rows: [string, string][] = [];
  let events = 0;
  const decoder = new StringDecoder("utf8");
  let rest = "";
  const take = (line: string) => {
    if (line.trim() === "") return;
    const entry = JSON.parse(line) as { _document_id?: unknown };
    rows.push([String(entry._document_id), line]);
    events++;
    if (rows.length >= 1000) {
      flush(rows);
      rows = [];
    }
  };
  for await (const chunk of fs.createReadStream(file, { highWaterMark: MIB })) {
    const text = rest + decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      take(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  take(rest + decoder.end());
  if (rows.length > 0) flush(rows);
  db.close();
  return finish("floor", events, started);
}

async function analyzeChild(file: string, dbFile: string): Promise<ChildRun> {
  const { analyzeFiles } = await import("../src/cli/analyze.js");
  const { configSchema } = await import("../src/config/schema.js");
  const { DETECTORS } = await import("../src/detectors/index.js");
  // Every detector on, including those off by default: the cost of the full set is what is measured.
  const config = configSchema.parse({
    detectors: Object.fromEntries(DETECTORS.map((d) => [d.id, { enabled: true }])),
  });
  const started = performance.now();
  const result = await analyzeFiles([file], { config, db: dbFile });
  const findingsBy: Record<string, number> = {};
  for (const f of result.findings) {
    const k = `${f.detector}/${f.severity}`;
    findingsBy[k] = (findingsBy[k] ?? 0) + 1;
  }
  return finish("analyze", result.events, started, { findings: result.findings.length, findingsBy });
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

export function formatReport(sizes: readonly AnalyzeBenchSize[]): string {
  const lines = [
    `${pad("events", 10)} ${pad("floor ev/s", 11)} ${pad("analyze ev/s", 13)} ${pad("ratio", 6)} ${pad("floor RSS", 10)} ${pad("analyze RSS", 12)} ${pad("findings", 9)}`,
  ];
  for (const s of sizes) {
    lines.push(
      `${pad(s.events.toLocaleString("en-US"), 10)} ${pad(s.floor.eventsPerSecond.toLocaleString("en-US"), 11)} ` +
        `${pad(s.analyze.eventsPerSecond.toLocaleString("en-US"), 13)} ${pad(s.ratio.toFixed(2), 6)} ` +
        `${pad(`${s.floor.maxRssMiB} MiB`, 10)} ${pad(`${s.analyze.maxRssMiB} MiB`, 12)} ${pad(s.analyze.findings ?? 0, 9)}`,
    );
  }
  return lines.join("\n");
}

/** Targets missed, one line each. */
export function checkTargets(sizes: readonly AnalyzeBenchSize[]): string[] {
  const misses: string[] = [];
  for (const s of sizes) {
    if (s.ratio < TARGET_RATIO) {
      misses.push(`${s.events} events: analyze runs at ${s.ratio.toFixed(2)} of the floor's speed (target ≥ ${TARGET_RATIO})`);
    }
    if (s.analyze.maxRssMiB >= TARGET_RSS_MIB) {
      misses.push(`${s.events} events: analyze peaked at ${s.analyze.maxRssMiB} MiB (target < ${TARGET_RSS_MIB} MiB)`);
    }
  }
  const bySize = [...sizes].sort((a, b) => a.events - b.events);
  const small = bySize[0];
  const large = bySize.at(-1);
  if (small && large && large.events > small.events && large.analyze.maxRssMiB > small.analyze.maxRssMiB * (1 + RSS_GROWTH_TOLERANCE)) {
    misses.push(
      `analyze memory grows with the log: ${small.analyze.maxRssMiB} MiB at ${small.events} events, ` +
        `${large.analyze.maxRssMiB} MiB at ${large.events}`,
    );
  }
  return misses;
}

export async function benchAnalyze(opts: BenchAnalyzeOptions): Promise<AnalyzeBenchResult> {
  const progress = opts.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-monitor-bench-"));
  const sizes: AnalyzeBenchSize[] = [];
  try {
    for (const events of opts.events) {
      const file = path.join(dir, `audit-log-${events}.jsonl`);
      const t0 = performance.now();
      await writeAuditLog(file, { events, seed: opts.seed ?? 1, incidents: opts.incidents ?? false });
      const fileMiB = Math.round(fs.statSync(file).size / MIB);
      progress(`generated ${events} events (${fileMiB} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const floor = await runChild("floor", file, path.join(dir, `floor-${events}.db`));
      progress(`floor:   ${floor.eventsPerSecond} events/s, ${floor.maxRssMiB} MiB peak`);
      const analyze = await runChild("analyze", file, path.join(dir, `analyze-${events}.db`));
      progress(`analyze: ${analyze.eventsPerSecond} events/s, ${analyze.maxRssMiB} MiB peak, ${analyze.findings} findings`);
      sizes.push({ events, fileMiB, floor, analyze, ratio: Math.round((analyze.eventsPerSecond / floor.eventsPerSecond) * 100) / 100 });
      if (!opts.keep) {
        // Gigabytes per size: free them before generating the next one.
        for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true });
      }
    }
  } finally {
    if (opts.keep) progress(`files kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  const misses = checkTargets(sizes);
  return { sizes, ok: misses.length === 0, misses, report: formatReport(sizes) };
}

async function main(argv: string[]): Promise<number> {
  const childAt = argv.indexOf("--child");
  if (childAt >= 0) {
    const [kind, file, db] = argv.slice(childAt + 1);
    if ((kind !== "floor" && kind !== "analyze") || !file || !db) throw new Error("usage: --child floor|analyze FILE DB");
    const run = kind === "floor" ? await floorChild(file, db) : await analyzeChild(file, db);
    process.stdout.write(`${JSON.stringify(run)}\n`);
    return 0;
  }
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const events = (get("events") ?? "1000000,4000000").split(",").map((s) => Number(s.replace(/_/g, "")));
  if (events.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error("--events wants a comma-separated list of positive integers, e.g. --events 1000000,4000000");
  }
  const seed = get("seed");
  const result = await benchAnalyze({
    events,
    keep: argv.includes("--keep"),
    incidents: argv.includes("--incidents"),
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
  });
  process.stdout.write(`${result.report}\n`);
  for (const s of result.sizes) {
    if (s.analyze.findingsBy && Object.keys(s.analyze.findingsBy).length > 0) {
      process.stdout.write(`findings at ${s.events}: ${JSON.stringify(s.analyze.findingsBy)}\n`);
    }
  }
  for (const m of result.misses) process.stdout.write(`MISSED: ${m}\n`);
  return result.ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === THIS_FILE) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
