// The `exfil-monitor` command line. `analyze` reads exported org audit logs offline and prints findings, with
// the same detectors as the app; `show` prints the issue the app would file for one of them, and
// `config check` checks a config file. Exit codes: 0 done, 1 a finding at or above --fail-on, 2 a usage
// error or an input that cannot be read, or not in full (one line per file saying why, never a stack trace).
import fs from "node:fs";
import { pathToFileURL } from "node:url";
import type { Config } from "../config/schema.js";
import { inertJson, showInvisible } from "../text/inert.js";
import { SEVERITIES, type Severity } from "../domain/severity.js";
import { parseTimestamp } from "../events/time.js";
import { MEMORY, openStorage } from "../store/open.js";
import { analyzeFiles, anyAtLeast, InputError, reasonOf, type AnalyzeResult, type FindingOutput } from "./analyze.js";
import { configCommand } from "./config-check.js";
import { loadConfigFile } from "./config-file.js";
import { htmlReportMeta, renderHtmlReport } from "./html-report.js";
import { showCommand } from "./show.js";
import { renderTable, tableColumns, useColor } from "./table.js";
import { parseCommandArgs, UsageError } from "./usage.js";

export { renderTable };

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin?: NodeJS.ReadableStream;
  /** Environment (NO_COLOR, COLUMNS, TERM); process.env when not given. */
  env?: NodeJS.ProcessEnv;
}

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

const HELP = `exfil-monitor: catch source code leaving a GitHub organization.

Usage:
  exfil-monitor analyze FILE... [options]
  exfil-monitor show FINGERPRINT --db FILE [--scope SCOPE] [--config FILE]
  exfil-monitor config check FILE [--org LOGIN]
  exfil-monitor --help | --version

analyze reads exported org audit logs and prints what the detectors find. FILE may be
  a JSON array or CSV export from the audit-log page, JSON lines from the REST API or
  from audit-log streaming (S3, Azure, GCS, Splunk), any of them gzipped; a directory
  (every .json, .jsonl, .csv, .log and .gz file under it, in name order); or - for
  standard input. The format is recognized from the content, not the file name.

Options:
  --format table|json|html
                        table (the default on a terminal), one JSON object per finding
                        per line (the default otherwise), or one self-contained HTML page
                        to hand on (a timeline, each finding with its evidence and next
                        steps, a view per actor; it loads nothing from the network). The
                        table lists the most severe
                        first, then by first seen; COUNT is the number of events in the
                        finding. On a terminal the summary wraps in the width left (COLUMNS
                        sets a width elsewhere) and the severity is coloured unless NO_COLOR
                        is set. The table shows control, bidirectional and invisible
                        characters escaped, as \\u{202E}; JSON keeps every value exact (such
                        characters as \\uXXXX escapes)
  --config FILE         exfil-monitor.yml with thresholds and allowlists (default: built-in
                        defaults)
  --db PATH             SQLite file that keeps events, findings and detector windows, so a
                        later run continues where this one stopped (default: a temporary file);
                        a run that adds nothing to it says "no new findings"
  --since ISO           ignore entries before this time, e.g. 2026-10-01 or 2026-10-01T08:00Z
                        (inclusive: an entry at exactly this time is read)
  --until ISO           ignore entries at or after this time (exclusive: --since 2026-10-01
                        --until 2026-10-02 is that one day); must be after --since
  --org LOGIN           org to assume for entries that do not name one
  --fail-on SEVERITY    exit 1 when a finding is at or above low|medium|high|critical
  -h, --help            show this help

Exit codes: 0 done, 1 findings at or above --fail-on, 2 usage error or an input that
  could not be read, or not in full, or that holds no audit entry (one line per file on
  standard error; findings from the rest are still printed, and the result is marked
  incomplete). 2 wins over 1.

show prints the issue the app would file for a finding an analyze --db run kept, and
  config check checks an exfil-monitor.yml as the app reads it: \`exfil-monitor show --help\`
  and \`exfil-monitor config --help\` tell more.
`;

function version(): string {
  try {
    // Same relative path from src/cli (tsx) and dist/cli (built).
    const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
    return pkg.version ?? "unknown";
  } catch (err) {
    return `unknown (${reasonOf(err)})`;
  }
}

/** Runs the command line and returns the exit code; never throws. */
export async function main(argv: readonly string[], io: CliIo = process): Promise<number> {
  try {
    return await run(argv, io);
  } catch (err) {
    // Messages quote arguments, file names and file contents: shown with their invisible characters escaped.
    const say = (text: string) => io.stderr.write(showInvisible(text, { keepLines: true }));
    if (err instanceof UsageError) {
      say(`exfil-monitor: ${err.message}\nRun \`exfil-monitor --help\` for usage.\n`);
      return EXIT_USAGE;
    }
    if (err instanceof InputError) {
      say(`exfil-monitor: ${err.message}\n`);
      return EXIT_USAGE;
    }
    // Unexpected: still one line, with what the user can do about it.
    say(`exfil-monitor: ${reasonOf(err)} (set DEBUG=exfil-monitor for details)\n`);
    if (process.env.DEBUG?.includes("exfil-monitor") && err instanceof Error) io.stderr.write(`${err.stack}\n`);
    return EXIT_USAGE;
  }
}

async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr.write(HELP);
    return EXIT_USAGE;
  }
  if (command === "-h" || command === "--help" || command === "help") {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  if (command === "--version" || command === "-v") {
    io.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  if (command === "analyze") return analyzeCommand(rest, io);
  if (command === "show") return showCommand(rest, io);
  if (command === "config") return configCommand(rest, io);
  throw new UsageError(`unknown command ${JSON.stringify(command)}: the commands are \`analyze\`, \`show\` and \`config check\``);
}

interface AnalyzeArgs {
  files: string[];
  format: "table" | "json" | "html";
  config: Config | undefined;
  db: string | undefined;
  since: number | null;
  until: number | null;
  org: string | null;
  failOn: Severity | null;
  help: boolean;
}

function parseAnalyzeArgs(args: readonly string[], io: CliIo): AnalyzeArgs {
  const parsed = parseCommandArgs(args, {
        format: { type: "string" },
        config: { type: "string" },
        db: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        org: { type: "string" },
        "fail-on": { type: "string" },
        help: { type: "boolean", short: "h" },
      });
  const v = parsed.values;
  const help = v.help === true;
  let format: "table" | "json" | "html";
  if (v.format === undefined) format = io.stdout.isTTY ? "table" : "json";
  else if (v.format === "table" || v.format === "json" || v.format === "html") format = v.format;
  else throw new UsageError(`--format must be table, json or html, not ${JSON.stringify(v.format)}`);

  let failOn: Severity | null = null;
  if (v["fail-on"] !== undefined) {
    const s = v["fail-on"].toLowerCase();
    if (!(SEVERITIES as readonly string[]).includes(s)) {
      throw new UsageError(`--fail-on must be one of ${SEVERITIES.join(", ")}, not ${JSON.stringify(v["fail-on"])}`);
    }
    failOn = s as Severity;
  }

  let since: number | null = null;
  if (v.since !== undefined) {
    since = parseSince(v.since);
    if (since === null) {
      throw new UsageError(`--since wants an ISO 8601 date or time such as 2026-10-01 or 2026-10-01T08:00:00Z, not ${JSON.stringify(v.since)}`);
    }
  }
  let until: number | null = null;
  if (v.until !== undefined) {
    until = parseSince(v.until);
    if (until === null) {
      throw new UsageError(`--until wants an ISO 8601 date or time such as 2026-10-02 or 2026-10-02T08:00:00Z, not ${JSON.stringify(v.until)}`);
    }
    // An empty range reads nothing and would report a clean run.
    if (since !== null && until <= since) {
      throw new UsageError(`--until (${new Date(until).toISOString()}) must be after --since (${new Date(since).toISOString()}): the range is empty`);
    }
  }

  if (v.org !== undefined && !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(v.org)) {
    throw new UsageError(`--org wants an organization login, not ${JSON.stringify(v.org)}`);
  }

  if (!help && parsed.positionals.length === 0) {
    throw new UsageError("analyze needs at least one FILE (or - for standard input)");
  }
  return {
    files: parsed.positionals,
    format,
    config: v.config === undefined ? undefined : loadConfigFile(v.config),
    db: v.db,
    since,
    until,
    org: v.org ?? null,
    failOn,
    help,
  };
}

/**
 * ISO 8601 date or date-time, read by the same parser as the entries (a time without a zone is UTC), for
 * --since and --until. Only the ISO forms: an epoch number or a slash date is too easy to get wrong on a
 * command line.
 */
export function parseSince(text: string): number | null {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return null;
  return parseTimestamp(t, { dateAlone: true }) ?? null;
}

async function analyzeCommand(args: readonly string[], io: CliIo): Promise<number> {
  const a = parseAnalyzeArgs(args, io);
  if (a.help) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  const stdin = (io.stdin ?? process.stdin) as NodeJS.ReadableStream & { isTTY?: boolean };
  if (a.files.includes("-") && stdin.isTTY) {
    throw new UsageError("- reads standard input, which is a terminal here: pipe an export in (`gunzip -c x.json.gz | exfil-monitor analyze -`)");
  }
  const env = io.env ?? process.env;
  const progress = io.stderr.isTTY ? new Progress(io.stderr) : undefined;
  let result: AnalyzeResult;
  try {
    result = await analyzeFiles(a.files, {
      config: a.config,
      db: a.db,
      since: a.since,
      until: a.until,
      org: a.org,
      stdin,
      onProgress: progress ? (p) => progress.update(`${p.file === "-" ? "stdin" : p.file}: ${p.events.toLocaleString("en-US")} events, ${p.findings} findings`) : undefined,
    });
  } finally {
    progress?.clear();
  }

  const unread = result.files.filter((f) => f.problem !== undefined);
  if (unread.length > 0 && result.events === 0) {
    // Nothing was read: no "No findings." and no counts, which would read as a clean bill.
    io.stderr.write(problemLines(result));
    return EXIT_USAGE;
  }
  // With --db, an empty run over a database that already holds findings found nothing new, which is not the
  // same as nothing found: say which. Not when a file went unread, where neither may pass for a clean run.
  const earlier = result.findings.length === 0 && unread.length === 0 && a.db !== undefined && a.db !== MEMORY ? await findingsIn(a.db) : 0;
  if (a.format === "json") {
    for (const f of result.findings) io.stdout.write(`${jsonLine(f)}\n`);
  } else if (a.format === "html") {
    // The page says itself when an input was not read in full, as the exit status does.
    io.stdout.write(renderHtmlReport(result.findings, htmlReportMeta(result, new Date())));
  } else if (earlier > 0) {
    io.stdout.write(
      `No new findings since the last run: the ${plural(earlier, "finding")} in ${safeText(a.db!)} ${earlier === 1 ? "is" : "are"} from earlier runs (\`exfil-monitor show FINGERPRINT --db ${safeText(a.db!)}\` shows one).\n`,
    );
  } else if (unread.length === 0 || result.findings.length > 0) {
    io.stdout.write(renderTable(result.findings, { columns: tableColumns(io.stdout, env), color: useColor(io.stdout, env) }));
  }
  io.stderr.write(summaryLines(result, { earlier }));
  if (unread.length > 0) {
    // Exit 2 even when --fail-on matched too: a scheduled job must never pass on a file it did not read.
    io.stderr.write(problemLines(result));
    io.stderr.write(
      `exfil-monitor: INCOMPLETE: ${plural(unread.length, "file")} of ${result.files.length} ${unread.length === 1 ? "was" : "were"} not read in full (above); the findings cover only what was read.\n`,
    );
    return EXIT_USAGE;
  }
  if (a.failOn && anyAtLeast(result.findings, a.failOn)) return EXIT_FINDINGS;
  return EXIT_OK;
}

/** Findings a database already holds; 0 when it cannot be read (the run itself has just used it). */
async function findingsIn(db: string): Promise<number> {
  try {
    const storage = openStorage(db);
    try {
      return (await storage.findings.list()).length;
    } finally {
      await storage.close();
    }
  } catch {
    return 0;
  }
}

/** One line per file that could not be read, or not in full, or held no audit entry. */
export function problemLines(r: AnalyzeResult): string {
  return r.files
    .filter((f) => f.problem !== undefined)
    .map((f) => `exfil-monitor: ${safeText(f.problem!)}\n`)
    .join("");
}

// --- output -----------------------------------------------------------------------------------------------

/**
 * One finding as one JSON line. Values stay exact (JSON.parse gives back what the store holds); control,
 * bidirectional and invisible characters are written as `\uXXXX` escapes, so the raw line cannot steer a
 * terminal or hide text from someone reading it with `cat` or `less`.
 */
export function jsonLine(f: FindingOutput): string {
  return inertJson(f);
}

/**
 * Attacker-chosen text (repo names, logins, key titles) for the terminal: control characters (ANSI escapes
 * among them), line breaks, bidirectional and invisible characters shown as `\u{HEX}`, so a value cannot move
 * the cursor, recolour, reorder or hide part of a line.
 */
export function safeText(s: string): string {
  return showInvisible(s);
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

export interface SummaryContext {
  /** Findings the --db database held from earlier runs, when this run added none. */
  earlier?: number;
}

export function summaryLines(r: AnalyzeResult, ctx: SummaryContext = {}): string {
  const out: string[] = [];
  const bySeverity = SEVERITIES.slice()
    .reverse()
    .map((s) => [s, r.findings.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const earlier = ctx.earlier ?? 0;
  const parts = [
    r.findings.length === 0 && earlier > 0
      ? `no new findings (${plural(earlier, "finding")} from earlier runs in the database)`
      : `${plural(r.findings.length, "finding")}${bySeverity.length > 0 ? ` (${bySeverity.join(", ")})` : ""}`,
    `from ${plural(r.events, "event")} in ${plural(r.files.length, "file")}`,
  ];
  if (r.duplicates > 0) parts.push(`${plural(r.duplicates, "duplicate")} ignored`);
  if (r.skipped > 0) parts.push(`${r.skipped.toLocaleString("en-US")} before --since skipped`);
  if (r.skippedAfter > 0) parts.push(`${r.skippedAfter.toLocaleString("en-US")} at or after --until skipped`);
  out.push(`exfil-monitor: ${parts.join(", ")}.`);
  if (r.bad > 0) {
    const shown = r.badLines.slice(0, 5).map((b) => `${b.file === "-" ? "stdin" : b.file}:${b.line} (${safeText(b.reason)})`);
    const more = r.bad > shown.length ? `, and ${(r.bad - shown.length).toLocaleString("en-US")} more` : "";
    out.push(`exfil-monitor: ${plural(r.bad, "line")} ${r.bad === 1 ? "was" : "were"} not audit events and ${r.bad === 1 ? "was" : "were"} skipped: ${shown.join(", ")}${more}.`);
  }
  for (const f of r.files) {
    if (!f.newestFirst) continue;
    out.push(
      `exfil-monitor: ${f.file === "-" ? "stdin" : f.file} lists the newest entries first; time windows need the oldest first, so bursts may be missed. Export with order=asc (\`gh api "/orgs/ORG/audit-log?order=asc" --paginate\`) or reverse the lines (\`tac\`).`,
    );
  }
  for (const [id, n] of Object.entries(r.detectorFailures)) {
    out.push(`exfil-monitor: the ${id} detector failed on ${plural(n, "event")}; the other detectors still ran. Please report it with the event.`);
  }
  // File names and reasons can hold what the files hold.
  return showInvisible(`${out.join("\n")}\n`, { keepLines: true });
}

/**
 * One self-overwriting status line on a terminal, redrawn at most a few times a second. Nothing is drawn for
 * the first PROGRESS_AFTER_MS: a short input finishes before a line would help, and would only flicker.
 */
export const PROGRESS_AFTER_MS = 1000;

export class Progress {
  private last = 0;
  private shown = false;
  private readonly started: number;
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }
  update(text: string): void {
    const now = this.now();
    if (now - this.started < PROGRESS_AFTER_MS || now - this.last < 250) return;
    this.last = now;
    this.shown = true;
    this.out.write(`\r\u001b[K${safeText(text)}`);
  }
  clear(): void {
    if (this.shown) this.out.write("\r\u001b[K");
  }
}

/** Entry point for bin/exfil-monitor.js. */
export async function cli(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2));
}

// Run directly (`tsx src/cli/main.ts analyze ...` while developing); the installed command goes through bin/.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await cli();
