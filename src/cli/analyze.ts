// The offline analysis: exported audit logs in, findings out, with the same converter, engine and detectors
// as the live app. Events are judged in batches of ANALYZE_BATCH through the one pipeline (pipeline/judge.ts),
// each batch in one unit of work that records the events' ids, their findings and the detector state they
// changed, so windows carry over from one file to the next and, with a database file, from one run to the next. The CLI, the demo and the
// benchmark all call analyzeFiles; nothing here writes to the terminal.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defaultConfig, type Config } from "../config/schema.js";
import { severityRank, type Severity } from "../domain/severity.js";
import { Engine, type EngineLogger } from "../engine/engine.js";
import { STATE_EXPIRY_GRACE_MS } from "../engine/state-cache.js";
import { fromAuditLog, timeProblem } from "../events/from-audit-log.js";
import type { OrgEvent } from "../events/types.js";
import { judgeBatch } from "../pipeline/judge.js";
import { openStorage } from "../store/open.js";
import type { FindingRow, Storage } from "../store/storage.js";
import { KNOWN_ENVELOPES, UNKNOWN_ENVELOPE } from "./envelopes.js";
import { readAuditLogBatches, UnreadableInput, type AuditLogFormat } from "./read-audit-log.js";

export interface AnalyzeOptions {
  config?: Config;
  /**
   * SQLite file that keeps events, findings and detector windows between runs. Without one the run uses a
   * temporary file that is deleted at the end (not ":memory:", so that memory stays flat on large logs);
   * pass ":memory:" explicitly for small inputs.
   */
  db?: string;
  /** An already open storage (the demo's); it is left open. Wins over `db`. */
  storage?: Storage;
  /** Entries before this time (epoch ms) are skipped. */
  since?: number | null;
  /** Entries at or after this time (epoch ms) are skipped: `since` and `until` make a half-open range. */
  until?: number | null;
  /** Org login for entries that do not name one. */
  org?: string | null;
  /** Events per transaction. */
  batchSize?: number;
  /** Standard input, for the source "-" (tests pass their own). */
  stdin?: NodeJS.ReadableStream;
  /** Called after every batch. */
  onProgress?: (p: AnalyzeProgress) => void;
  /** Told which format each file turned out to be. */
  onFile?: (file: string, format: AuditLogFormat, gzip: boolean) => void;
  log?: EngineLogger;
  /** Wall clock for bookkeeping (finding created_at); detection uses each event's own time. */
  now?: () => number;
  /** How many bad lines to keep with their reason (all are counted). */
  keepBadLines?: number;
}

export interface AnalyzeProgress {
  file: string;
  events: number;
  bad: number;
  findings: number;
}

export interface FileSummary {
  file: string;
  format: AuditLogFormat;
  gzip: boolean;
  /**
   * Most consecutive entries go back in time: the REST API's default order (`order=desc`). Detector windows
   * expect oldest first, so the CLI warns.
   */
  newestFirst: boolean;
  /** Audit events read from this file. */
  events: number;
  /**
   * Why the file was not read to its end or gave no audit event, as a sentence naming it; absent when it
   * was read in full. Any such file leaves the run's result incomplete, which the CLI says (exit code 2).
   */
  problem?: string;
}

export interface BadLine {
  file: string;
  line: number;
  reason: string;
}

export interface EvidenceOutput {
  /** ISO 8601. */
  time: string;
  source: string;
  data: Record<string, string | number | boolean | null>;
}

/** One finding as the CLI prints it (`--format json` writes exactly this, one per line). */
export interface FindingOutput {
  detector: string;
  severity: Severity;
  summary: string;
  actor?: string;
  /** Every org whose entries the finding holds: one, except for one enterprise's orgs (`business`). */
  orgs: string[];
  repos: string[];
  first_seen: string;
  last_seen: string;
  count: number;
  evidence: EvidenceOutput[];
  fingerprint: string;
  /** What the fingerprint is unique within: `org:<login>` or `business:<slug>`. */
  scope: string;
  raised_reason?: string;
}

export interface AnalyzeResult {
  /** Findings that got new evidence in this run, oldest first. */
  findings: FindingOutput[];
  /** Audit events read (before --since, --until and duplicates were set aside). */
  events: number;
  /** Events new to the store and run through the detectors. */
  processed: number;
  /** Events already stored (streaming delivers at least once; a second run over the same file). */
  duplicates: number;
  /** Events before `since`. */
  skipped: number;
  /** Events at or after `until`. */
  skippedAfter: number;
  /** Lines that were not audit events. */
  bad: number;
  /** The first `keepBadLines` of them. */
  badLines: BadLine[];
  files: FileSummary[];
  /** Detector id → times it threw (the others still ran). */
  detectorFailures: Record<string, number>;
}

/** An input that cannot be read at all: the CLI turns it into exit code 2. */
export class InputError extends Error {}

const LOG_NAME = /\.(json|jsonl|ndjson|csv|log|gz)$/i;

/**
 * Files named on the command line, with directories replaced by the audit-log files under them in path
 * order (a streaming export's YYYY/MM/DD/HH/MM tree then reads oldest first). Throws InputError for a path
 * that does not exist.
 */
export function expandInputs(inputs: readonly string[]): string[] {
  const out: string[] = [];
  // Every path at fault is named at once, so a scheduled job's list is fixed in one go.
  const faults: string[] = [];
  for (const input of inputs) {
    if (input === "-") {
      out.push(input);
      continue;
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch (err) {
      faults.push(`cannot read ${input}: ${reasonOf(err)}`);
      continue;
    }
    if (!stat.isDirectory()) {
      out.push(input);
      continue;
    }
    const found = listLogFiles(input);
    if (found.length === 0) {
      faults.push(`${input} is a directory with no audit-log files (.json, .jsonl, .csv, .log, .gz) under it`);
    }
    out.push(...found);
  }
  if (faults.length > 0) throw new InputError(faults.join("; "));
  return out;
}

function listLogFiles(dir: string): string[] {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listLogFiles(p));
    else if (e.isFile() && LOG_NAME.test(e.name)) out.push(p);
  }
  return out;
}

export function reasonOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOENT") return "no such file";
  if (e?.code === "EACCES" || e?.code === "EPERM") return "permission denied";
  if (e?.code === "EISDIR") return "is a directory";
  if (e?.code === "Z_DATA_ERROR" || e?.code === "Z_BUF_ERROR") return `not a valid gzip stream (${e.message})`;
  return e instanceof Error ? e.message : String(err);
}

/** The sentence for a file that broke part-way, or before anything could be read from it. */
function stoppedProblem(source: string, err: unknown, line: number, events: number, items: number): string {
  const file = source === "-" ? "standard input" : source;
  const where = err instanceof UnreadableInput && err.line !== undefined ? err.line : line;
  if (events === 0 && items === 0) return `cannot read ${file}: ${reasonOf(err)}${where > 1 ? ` (line ${where})` : ""}`;
  return `${file} was read only in part: reading stopped at line ${where}, after ${count(events, "audit entry", "audit entries")}: ${reasonOf(err)}; the rest of the file is not in this result`;
}

/** The sentence for a file read to its end without a single audit event in it. */
function emptyProblem(summary: FileSummary, items: number, first: BadLine | undefined): string {
  const as = summary.format === "csv" ? "CSV" : summary.format === "json-array" ? "a JSON array" : "JSON lines";
  let why: string;
  if (summary.format === "empty") why = summary.gzip ? "it is empty once gunzipped" : "it is empty";
  else if (!first) why = summary.format === "csv" ? "it holds a CSV header row and nothing else" : `it was read as ${as} with nothing in it`;
  else if (first.reason.endsWith(UNKNOWN_ENVELOPE)) {
    // Said once here rather than left to be guessed from the line's reason: the entries may well be inside.
    why = `it was read as ${as}, and none of its ${count(items, "value")} is an audit event or in an envelope this reader knows (${KNOWN_ENVELOPES}) (line ${first.line}: ${first.reason.slice(0, -UNKNOWN_ENVELOPE.length)})`;
  } else why = `it was read as ${as}, and none of its ${count(items, "value")} is an audit event (line ${first.line}: ${first.reason})`;
  return `${summary.file === "-" ? "standard input" : summary.file} has no audit entries: ${why}`;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/**
 * Entries judged per unit of work. A commit costs about as much as a few thousand entries, so batches are
 * large; but a batch's events are held in memory until then, long enough for the garbage collector to move
 * them to the old generation. Measured on a million entries: 20,000 peaks about 25 MiB higher than 10,000
 * for no more speed, 2,000 is 10% slower.
 */
export const ANALYZE_BATCH = 10_000;

/** Expired detector state is dropped every this many batches (a pass over all of it). */
const EXPIRE_EVERY_BATCHES = 10;

/**
 * Reads every file in order, converts, stores and runs each new event through the enabled detectors, and
 * returns the findings this run touched. Bad lines are counted and never stop the run. A file that breaks
 * part-way (a truncated gzip, broken JSON structure), cannot be read, or gives no audit event at all gets a
 * `problem` and the next file is read: the result is then incomplete, and the caller must say so. Throws
 * InputError only for inputs that do not exist and a database that cannot be opened.
 */
export async function analyzeFiles(inputs: readonly string[], opts: AnalyzeOptions = {}): Promise<AnalyzeResult> {
  const files = expandInputs(inputs);
  const config = opts.config ?? defaultConfig();
  const batchSize = Math.max(1, opts.batchSize ?? ANALYZE_BATCH);
  const keepBad = opts.keepBadLines ?? 20;
  const since = opts.since ?? null;
  const until = opts.until ?? null;
  const orgFallback = opts.org ?? null;

  let tempDir: string | undefined;
  let storage = opts.storage;
  if (!storage) {
    let file = opts.db;
    if (!file) {
      tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-monitor-"));
      file = path.join(tempDir, "analyze.db");
    }
    try {
      storage = openStorage(file);
    } catch (err) {
      if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
      throw new InputError(`cannot open the database ${file}: ${reasonOf(err)}`);
    }
  }
  const ownStore = storage !== opts.storage;

  const failures: Record<string, number> = {};
  const engine = new Engine({
    now: opts.now,
    // An export holds one owner's entries: an enterprise's orgs add up, unrelated orgs never do.
    scope: "business",
    log: {
      error(obj, msg) {
        const id = (obj as { detector?: unknown }).detector;
        if (typeof id === "string") failures[id] = (failures[id] ?? 0) + 1;
        opts.log?.error(obj, msg);
      },
    },
  });

  const result: AnalyzeResult = {
    findings: [],
    events: 0,
    processed: 0,
    duplicates: 0,
    skipped: 0,
    skippedAfter: 0,
    bad: 0,
    badLines: [],
    files: [],
    detectorFailures: failures,
  };
  /** Ids of the findings that got evidence in this run. */
  const touched = new Set<number>();
  let latest = Number.NEGATIVE_INFINITY;
  const bad = (file: string, line: number, reason: string) => {
    result.bad++;
    if (result.badLines.length < keepBad) result.badLines.push({ file, line, reason });
  };

  const s = storage;
  // A database failure (disk full, locked) is not a bad input line: it must end the run, not be skipped.
  let storeFailure: unknown;
  const runBatch = async (events: OrgEvent[]) => {
    try {
      await processBatch(events);
    } catch (err) {
      storeFailure = err;
      throw err;
    }
  };
  // One unit of work per batch holds the batch's ids, findings and detector state together: a run stopped
  // part-way with --db leaves the database as of the last whole batch, never ids without their state.
  let batches = 0;
  const processBatch = async (events: OrgEvent[]) => {
    // Windows that ended well before this batch's oldest event are never read again (an export is read
    // oldest first; a file of older entries read later starts windows of its own): dropping them now and then
    // keeps memory flat however long the log.
    let oldest = Number.POSITIVE_INFINITY;
    if (++batches % EXPIRE_EVERY_BATCHES === 0) for (const e of events) if (e.at < oldest) oldest = e.at;
    const expireStateBefore = Number.isFinite(oldest) ? oldest - STATE_EXPIRY_GRACE_MS : undefined;
    const judged = await judgeBatch(
      events.map((event) => ({ event, config })),
      {
        storage: s,
        engine,
        record: "seen",
        ...(expireStateBefore !== undefined ? { expireStateBefore } : {}),
        onEventError: (_event, err) => {
          throw err;
        },
      },
    );
    result.processed += judged.judged;
    result.duplicates += judged.duplicates;
    for (const r of judged.recorded) if (r.added) touched.add(r.finding.id);
  };

  try {
    for (const file of files) {
      let pending: OrgEvent[] = [];
      let lastLine = 0;
      let items = 0;
      let firstBad: BadLine | undefined;
      let previousAt = Number.NaN;
      let forward = 0;
      let backward = 0;
      const summary: FileSummary = { file, format: "empty", gzip: false, newestFirst: false, events: 0 };
      result.files.push(summary);
      try {
        const batches = readAuditLogBatches(file, {
          stdin: opts.stdin,
          onFormat: (format, gzip) => {
            summary.format = format;
            summary.gzip = gzip;
            opts.onFile?.(file, format, gzip);
          },
        });
        for await (const batch of batches) {
          for (const item of batch) {
            lastLine = item.line;
            items++;
            if ("bad" in item) {
              firstBad ??= { file, line: item.line, reason: item.reason };
              bad(file, item.line, item.reason);
              continue;
            }
            const event = fromAuditLog(item.entry, { orgFallback });
            if (!event) {
              const reason = timeProblem(item.entry) ?? "not an audit event";
              firstBad ??= { file, line: item.line, reason };
              bad(file, item.line, reason);
              continue;
            }
            result.events++;
            summary.events++;
            if (event.at > previousAt) forward++;
            else if (event.at < previousAt) backward++;
            previousAt = event.at;
            if (since !== null && event.at < since) {
              result.skipped++;
              continue;
            }
            if (until !== null && event.at >= until) {
              result.skippedAfter++;
              continue;
            }
            if (event.at > latest) latest = event.at;
            pending.push(event);
            if (pending.length >= batchSize) {
              await runBatch(pending);
              pending = [];
            }
          }
          opts.onProgress?.({ file, events: result.events, bad: result.bad, findings: touched.size });
        }
      } catch (err) {
        if (err instanceof InputError || err === storeFailure) throw err;
        // The part read so far still counts (its findings are real), but the result must not pass for
        // one over the whole file.
        summary.problem = stoppedProblem(file, err, lastLine + 1, summary.events, items);
      }
      if (!summary.problem && summary.events === 0) summary.problem = emptyProblem(summary, items, firstBad);
      if (pending.length > 0) await runBatch(pending);
      summary.newestFirst = backward > forward;
    }
    // Windows that ended before the newest event are never read again.
    if (Number.isFinite(latest)) await storage.state.write([], latest);
    result.findings = await collect(storage, touched);
    return result;
  } finally {
    if (ownStore) await storage.close();
    if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

async function collect(storage: Storage, ids: ReadonlySet<number>): Promise<FindingOutput[]> {
  const rows: FindingRow[] = [];
  for (const id of ids) {
    const row = await storage.findings.getById(id);
    if (row) rows.push(row);
  }
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  rows.sort((a, b) => a.firstSeen - b.firstSeen || text(a.scope, b.scope) || text(a.fingerprint, b.fingerprint));
  const out: FindingOutput[] = [];
  for (const row of rows) out.push(await toOutput(row, storage));
  return out;
}

export async function toOutput(row: FindingRow, storage: Storage): Promise<FindingOutput> {
  const evidence = await storage.findings.evidence(row.id);
  // Keys in a fixed order, actor right after summary, so lines read the same from run to run.
  return {
    detector: row.detector,
    severity: row.severity,
    summary: row.summary,
    ...(row.actor ? { actor: row.actor } : {}),
    orgs: row.orgs,
    repos: row.repos,
    first_seen: new Date(row.firstSeen).toISOString(),
    last_seen: new Date(row.lastSeen).toISOString(),
    count: row.count,
    evidence: evidence.map((e) => ({ time: new Date(e.at).toISOString(), source: e.source, data: e.data })),
    fingerprint: row.fingerprint,
    scope: row.scope,
    ...(row.raisedReason ? { raised_reason: row.raisedReason } : {}),
  };
}

/** Whether any finding is at or above `floor` (for --fail-on). */
export function anyAtLeast(findings: readonly FindingOutput[], floor: Severity): boolean {
  return findings.some((f) => severityRank(f.severity) >= severityRank(floor));
}
