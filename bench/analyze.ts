// Benchmark of `exfil-monitor analyze` against two floors: what any tool must spend on the same file.
// For each size, a synthetic audit log (bench/generate-audit-log.ts, random `_document_id`s as GitHub's)
// is written once to a temporary directory, flushed to disk and read once, so that every run finds it in the
// page cache and none shares the disk with its write-back;
// then, each in its own child process, so that no run inherits another's heap, JIT or SQLite cache and peak
// memory is measured per run. The children run this file compiled (tsconfig.bench.json, into bench/out/build)
// by plain Node, as the installed `exfil-monitor analyze` runs dist/: a TypeScript loader would add its own
// thread, memory and transform cost to every run.
//   floor A  stream the file, JSON.parse every line, insert the raw entries into SQLite (id TEXT PRIMARY
//            KEY, body TEXT: the line as read) in transactions as large as analyze's (ANALYZE_BATCH), with
//            the store's pragmas: smaller ones would make the floor pay for commits analyze does not make;
//   floor B  stream the file and JSON.parse every line, nothing else: the limit for a JavaScript reader;
//   analyze  analyzeFiles() with every detector on, into a new database file.
// Every run must count the same events as the generator wrote (analyze must process each one, none taken
// for a duplicate), or no ratio is reported.
// Targets: analyze at least as fast as floor A and at least 0.4 of floor B; peak RSS under 256 MiB and flat
// from the smallest log to the largest.
//
//   tsx bench/analyze.ts [--events 1000000,4000000] [--seed N] [--rounds N] [--keep] [--cpu-prof DIR]
//
// --rounds N runs the three N times, alternating, and keeps each one's fastest run. --cpu-prof DIR writes a
// V8 CPU profile of each analyze run into DIR (open it in Chrome DevTools); profiling slows the run, so
// the figures of a profiled run are not comparable.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { writeAuditLog } from "./generate-audit-log.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), "..");

/** analyze events/s ÷ floor A events/s. */
export const TARGET_FLOOR_A = 1.0;
/** analyze events/s ÷ floor B events/s. */
export const TARGET_FLOOR_B = 0.4;
export const TARGET_RSS_MIB = 256;
/** Peak RSS from the smallest to the largest size may grow by this fraction and still count as flat. */
export const RSS_GROWTH_TOLERANCE = 0.15;

export type RunKind = "floor-a" | "floor-b" | "analyze";
const KINDS: readonly RunKind[] = ["floor-a", "floor-b", "analyze"];

export interface ChildRun {
  kind: RunKind;
  /** Audit events the run read (analyze: read and run through the detectors). */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  maxRssMiB: number;
  /** floor A: rows inserted; analyze: events stored and processed. */
  stored?: number;
  /** floor A: entries per transaction. */
  batch?: number;
  /** analyze only: events taken for duplicates, lines that were not audit events. */
  duplicates?: number;
  bad?: number;
  /** analyze only: findings reported, and per detector and severity, e.g. `new-country/low`. */
  findings?: number;
  findingsBy?: Record<string, number>;
}

export interface AnalyzeBenchSize {
  events: number;
  fileMiB: number;
  floorA: ChildRun;
  floorB: ChildRun;
  analyze: ChildRun;
  /** analyze events/s ÷ floor A events/s. */
  ratioA: number;
  /** analyze events/s ÷ floor B events/s. */
  ratioB: number;
}

export interface AnalyzeBenchResult {
  sizes: AnalyzeBenchSize[];
  /** Every target met: both ratios, peak RSS, and RSS flat across sizes. */
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
  /** Runs of each kind per size; the fastest is kept. */
  rounds?: number;
  /** Write the incidents into the log too (the analyzer must then report them). */
  incidents?: boolean;
  /** Keep the generated files and databases (their directory is printed). */
  keep?: boolean;
  /** Write a CPU profile of each analyze run into this directory. */
  cpuProfDir?: string;
  /** Progress lines (generation, each run); defaults to stderr. */
  progress?: (line: string) => void;
}

const MIB = 1024 * 1024;

let compiled: string | undefined;

/**
 * This file as the children run it: when it runs as TypeScript, compiled once per bench (with the src/ it
 * imports) into bench/out/build; already compiled, itself.
 */
function childScript(): string {
  if (!THIS_FILE.endsWith(".ts")) return THIS_FILE;
  if (!compiled) {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    execFileSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.bench.json")], { cwd: ROOT, stdio: "inherit" });
    const out = path.join(ROOT, "bench", "out", "build");
    // dist-like output: ES modules, as package.json's "type" says for the sources.
    fs.writeFileSync(path.join(out, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
    compiled = path.join(out, "bench", "analyze.js");
  }
  return compiled;
}

/** Runs this file as a child (`--child KIND FILE DB`) and reads the JSON it prints last. */
function runChild(kind: RunKind, file: string, db: string, cpuProfDir?: string): Promise<ChildRun> {
  const profile = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${kind}-${path.basename(db)}.cpuprofile`] : [];
  const script = childScript();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...profile, script, "--child", kind, file, db], {
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

function finish(kind: RunKind, events: number, started: number, extra: Partial<ChildRun> = {}): ChildRun {
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

/**
 * Calls `take` with every non-empty line of the file. The floors' reader: 1 MiB reads (analyze's size),
 * one string per chunk, lines cut with indexOf. Anything analyze's reader does beyond this (sniffing the
 * format, gzip, byte-order marks, line numbers) is analyze's own cost.
 */
async function eachLine(file: string, take: (line: string) => void): Promise<void> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  for await (const chunk of fs.createReadStream(file, { highWaterMark: MIB })) {
    const text = rest + decoder.write(chunk as Buffer);
    let start = 0;
    for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
      if (nl > start) take(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
  }
  const last = rest + decoder.end();
  if (last.trim() !== "") take(last);
}

/** What both floors require of a parsed line, as analyze does: an object with an `action`. */
function isEntry(v: unknown): v is { _document_id?: unknown; action: string } {
  return typeof v === "object" && v !== null && typeof (v as { action?: unknown }).action === "string";
}

/** Floor A: parse, insert raw, in transactions of analyze's size. */
async function floorAChild(file: string, dbFile: string): Promise<ChildRun> {
  const { ANALYZE_BATCH } = await import("../src/cli/analyze.js");
  const started = performance.now();
  const db = new Database(dbFile);
  // The store's pragmas (src/store/open.ts), so only the work differs.
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.exec("CREATE TABLE raw (id TEXT PRIMARY KEY, body TEXT NOT NULL) STRICT");
  const insert = db.prepare("INSERT INTO raw (id, body) VALUES (?, ?) ON CONFLICT (id) DO NOTHING");
  let stored = 0;
  const flush = db.transaction((rows: [string, string][]) => {
    for (const [id, body] of rows) stored += insert.run(id, body).changes;
  });
  let rows: [string, string][] = [];
  let events = 0;
  await eachLine(file, (line) => {
    const entry: unknown = JSON.parse(line);
    if (!isEntry(entry)) return;
    rows.push([String(entry._document_id), line]);
    events++;
    if (rows.length >= ANALYZE_BATCH) {
      flush(rows);
      rows = [];
    }
  });
  if (rows.length > 0) flush(rows);
  db.close();
  return finish("floor-a", events, started, { stored, batch: ANALYZE_BATCH });
}

/** Floor B: parse every line; the check on `action` keeps the parsed value in use. */
async function floorBChild(file: string): Promise<ChildRun> {
  const started = performance.now();
  let events = 0;
  await eachLine(file, (line) => {
    if (isEntry(JSON.parse(line))) events++;
  });
  return finish("floor-b", events, started);
}

async function analyzeChild(file: string, dbFile: string): Promise<ChildRun> {
  const { analyzeFiles } = await import("../src/cli/analyze.js");
  const { configSchema } = await import("../src/config/schema.js");
  const { DETECTORS } = await import("../src/detectors/index.js");
  // Every detector on, including those off by default: the cost of the full set is what is measured.
  const config = configSchema.parse({
    detectors: Object.fromEntries(DETECTORS.map((d) => [d.id, { enabled: true }])),
  });
  if (fs.existsSync(dbFile)) throw new Error(`${dbFile} exists: analyze must start from an empty database`);
  const started = performance.now();
  const result = await analyzeFiles([file], { config, db: dbFile });
  const findingsBy: Record<string, number> = {};
  for (const f of result.findings) {
    const k = `${f.detector}/${f.severity}`;
    findingsBy[k] = (findingsBy[k] ?? 0) + 1;
  }
  return finish("analyze", result.events, started, {
    stored: result.processed,
    duplicates: result.duplicates,
    bad: result.bad,
    findings: result.findings.length,
    findingsBy,
  });
}

/**
 * Why the runs cannot be compared, or undefined when each handled every event: a run that skipped lines,
 * or an analyze that took events for duplicates, did less work than the others.
 */
export function countProblem(expected: number, runs: readonly ChildRun[]): string | undefined {
  for (const r of runs) {
    if (r.events !== expected) return `${r.kind} read ${r.events} events of the ${expected} written`;
    if (r.stored !== undefined && r.stored !== expected) return `${r.kind} stored ${r.stored} events of the ${expected} written`;
    if (r.duplicates) return `${r.kind} took ${r.duplicates} events for duplicates`;
    if (r.bad) return `${r.kind} found ${r.bad} bad lines`;
  }
  return undefined;
}

/**
 * Leaves the file clean and in the page cache, so that every run reads it from memory and none shares the
 * disk with the kernel writing the freshly generated file back (which would slow whichever run comes first
 * and writes to SQLite).
 */
async function settleFile(file: string): Promise<void> {
  const fd = fs.openSync(file, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 8 * MIB })) void chunk;
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

const rate = (n: number) => n.toLocaleString("en-US");

export function formatReport(sizes: readonly AnalyzeBenchSize[]): string {
  const lines = [
    `${pad("events", 10)} ${pad("file", 8)} ${pad("floor A ev/s", 13)} ${pad("floor B ev/s", 13)} ${pad("analyze ev/s", 13)} ` +
      `${pad("×A", 5)} ${pad("×B", 5)}   ${pad("peak RSS A / B / analyze", 25)} ${pad("findings", 9)}`,
  ];
  for (const s of sizes) {
    lines.push(
      `${pad(rate(s.events), 10)} ${pad(`${s.fileMiB} MiB`, 8)} ${pad(rate(s.floorA.eventsPerSecond), 13)} ` +
        `${pad(rate(s.floorB.eventsPerSecond), 13)} ${pad(rate(s.analyze.eventsPerSecond), 13)} ` +
        `${pad(s.ratioA.toFixed(2), 5)} ${pad(s.ratioB.toFixed(2), 5)}   ` +
        `${pad(`${s.floorA.maxRssMiB} / ${s.floorB.maxRssMiB} / ${s.analyze.maxRssMiB} MiB`, 25)} ${pad(s.analyze.findings ?? 0, 9)}`,
    );
  }
  return lines.join("\n");
}

/** Targets missed, one line each. */
export function checkTargets(sizes: readonly AnalyzeBenchSize[]): string[] {
  const misses: string[] = [];
  for (const s of sizes) {
    const at = `${rate(s.events)} events`;
    if (s.ratioA < TARGET_FLOOR_A) {
      misses.push(`${at}: analyze runs at ${s.ratioA.toFixed(2)}× floor A (parse + raw insert; target ≥ ${TARGET_FLOOR_A.toFixed(1)})`);
    }
    if (s.ratioB < TARGET_FLOOR_B) {
      misses.push(`${at}: analyze runs at ${s.ratioB.toFixed(2)}× floor B (parse only; target ≥ ${TARGET_FLOOR_B})`);
    }
    if (s.analyze.maxRssMiB >= TARGET_RSS_MIB) {
      misses.push(`${at}: analyze peaked at ${s.analyze.maxRssMiB} MiB (target < ${TARGET_RSS_MIB} MiB)`);
    }
  }
  const bySize = [...sizes].sort((a, b) => a.events - b.events);
  const small = bySize[0];
  const large = bySize.at(-1);
  if (small && large && large.events > small.events && large.analyze.maxRssMiB > small.analyze.maxRssMiB * (1 + RSS_GROWTH_TOLERANCE)) {
    misses.push(
      `analyze memory grows with the log: ${small.analyze.maxRssMiB} MiB at ${rate(small.events)} events, ` +
        `${large.analyze.maxRssMiB} MiB at ${rate(large.events)}`,
    );
  }
  return misses;
}

const faster = (a: ChildRun | undefined, b: ChildRun) => (a && a.eventsPerSecond >= b.eventsPerSecond ? a : b);
const ratio = (a: ChildRun, b: ChildRun) => Math.round((a.eventsPerSecond / b.eventsPerSecond) * 100) / 100;

export async function benchAnalyze(opts: BenchAnalyzeOptions): Promise<AnalyzeBenchResult> {
  const progress = opts.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rounds = Math.max(1, opts.rounds ?? 1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-monitor-bench-"));
  if (opts.cpuProfDir) fs.mkdirSync(opts.cpuProfDir, { recursive: true });
  const sizes: AnalyzeBenchSize[] = [];
  try {
    for (const events of opts.events) {
      const file = path.join(dir, `audit-log-${events}.jsonl`);
      const t0 = performance.now();
      const written = await writeAuditLog(file, { events, seed: opts.seed ?? 1, incidents: opts.incidents ?? false });
      const fileMiB = Math.round(fs.statSync(file).size / MIB);
      progress(`generated ${rate(written)} events (${fileMiB} MiB) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await settleFile(file);
      const best: Partial<Record<RunKind, ChildRun>> = {};
      for (let round = 0; round < rounds; round++) {
        // Alternate the order between rounds, so that no kind always runs on a machine warmed by another.
        for (const kind of round % 2 === 0 ? KINDS : [...KINDS].reverse()) {
          const db = path.join(dir, `${kind}-${events}-${round}.db`);
          const run = await runChild(kind, file, db, kind === "analyze" ? opts.cpuProfDir : undefined);
          progress(`${kind.padEnd(8)} ${rate(run.eventsPerSecond).padStart(9)} events/s, ${run.maxRssMiB} MiB peak` +
            (run.findings !== undefined ? `, ${run.findings} findings` : ""));
          const problem = countProblem(written, [run]);
          if (problem) throw new Error(`${rate(events)} events: ${problem}; the runs did not do the same work, so no ratio is given`);
          best[kind] = faster(best[kind], run);
          for (const f of fs.readdirSync(dir)) if (f.startsWith(`${kind}-${events}-${round}.db`)) fs.rmSync(path.join(dir, f), { force: true });
        }
      }
      const floorA = best["floor-a"]!;
      const floorB = best["floor-b"]!;
      const analyze = best.analyze!;
      sizes.push({ events, fileMiB, floorA, floorB, analyze, ratioA: ratio(analyze, floorA), ratioB: ratio(analyze, floorB) });
      if (!opts.keep) fs.rmSync(file, { force: true });
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
    if (!KINDS.includes(kind as RunKind) || !file || !db) throw new Error(`usage: --child ${KINDS.join("|")} FILE DB`);
    const run = kind === "floor-a" ? await floorAChild(file, db) : kind === "floor-b" ? await floorBChild(file) : await analyzeChild(file, db);
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
  const rounds = get("rounds");
  const cpuProfDir = get("cpu-prof");
  const result = await benchAnalyze({
    events,
    keep: argv.includes("--keep"),
    incidents: argv.includes("--incidents"),
    ...(seed !== undefined ? { seed: Number(seed) } : {}),
    ...(rounds !== undefined ? { rounds: Number(rounds) } : {}),
    ...(cpuProfDir !== undefined ? { cpuProfDir: path.resolve(cpuProfDir) } : {}),
  });
  process.stdout.write(`${result.report}\n`);
  for (const s of result.sizes) {
    if (s.analyze.findingsBy && Object.keys(s.analyze.findingsBy).length > 0) {
      process.stdout.write(`findings at ${rate(s.events)}: ${JSON.stringify(s.analyze.findingsBy)}\n`);
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
