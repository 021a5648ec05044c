// The `analyze --format table` layout: findings most severe first, the summary given whatever width the
// terminal has left, and the severity word coloured on a terminal that wants colour. Every value shown comes
// through showInvisible() (text/inert.ts), so attacker text cannot steer the terminal; the only escape codes
// written are the colours added here, around words exfil-monitor chose.
import { severityRank, type Severity } from "../domain/severity.js";
import { showInvisible, truncate } from "../text/inert.js";
import type { FindingOutput } from "./analyze.js";

export interface TableOptions {
  /**
   * Width of the terminal. Without one nothing is cut or wrapped: one line per finding, in full (for a file,
   * a pipe into grep, a log).
   */
  columns?: number;
  /** Colour the severity word (only on a terminal; see useColor). */
  color?: boolean;
}

export const TABLE_HEADER = ["SEVERITY", "DETECTOR", "ORGS", "ACTOR", "REPOS", "COUNT", "FIRST SEEN (UTC)", "LAST SEEN (UTC)", "SUMMARY"] as const;

/** Width assumed for a terminal that does not report one. */
export const DEFAULT_COLUMNS = 80;

/**
 * The summary keeps its column while it gets at least this many characters (after the name columns are cut
 * down); below that it goes on lines of its own under each row, where it has the terminal's whole width.
 */
const MIN_SUMMARY_WIDTH = 30;
/** A summary is wrapped over at most this many lines; hostile names escaped can make it very long. */
const MAX_SUMMARY_LINES = 4;
const GAP = "  ";
/** Columns that may be cut to make room for the summary, and how narrow each may get. */
const SHRINKABLE: ReadonlyMap<number, number> = new Map([
  [2, 12], // ORGS
  [3, 12], // ACTOR
  [4, 16], // REPOS
]);
/** Indent of a summary shown under its row: under DETECTOR, past the severity word. */
const BELOW_INDENT = "SEVERITY".length + GAP.length;

const COLORS: Record<Severity, string> = {
  critical: "\u001b[1;31m",
  high: "\u001b[31m",
  medium: "\u001b[33m",
  low: "\u001b[36m",
};
const RESET = "\u001b[0m";

/**
 * Whether to colour: only when standard output is a terminal, and never when `NO_COLOR` is set to anything
 * (https://no-color.org) or the terminal says it has no colours (`TERM=dumb`).
 */
export function useColor(stdout: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (!stdout.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}

/**
 * The width to lay the table out in: the terminal's, else `COLUMNS`, else DEFAULT_COLUMNS on a terminal that
 * reports none. Output that is not a terminal gets no limit unless `COLUMNS` asks for one, so a saved table
 * keeps every summary whole.
 */
export function tableColumns(stdout: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number | undefined {
  const fromEnv = env.COLUMNS !== undefined && /^\d+$/.test(env.COLUMNS.trim()) ? Number(env.COLUMNS) : undefined;
  if (stdout.isTTY) return stdout.columns && stdout.columns > 0 ? stdout.columns : (fromEnv ?? DEFAULT_COLUMNS);
  return fromEnv && fromEnv > 0 ? fromEnv : undefined;
}

/**
 * Most severe first; within a severity, the one that started first. Equal ones keep the order they came in
 * (the sort is stable), which analyzeFiles already makes fixed.
 */
export function bySeverity(a: FindingOutput, b: FindingOutput): number {
  const time = a.first_seen < b.first_seen ? -1 : a.first_seen > b.first_seen ? 1 : 0;
  return severityRank(b.severity) - severityRank(a.severity) || time;
}

const TABLE_TIME = (iso: string) => iso.slice(0, 16).replace("T", " ");

/**
 * Pieces of shown text that must stay whole when a line is broken: a `\u{HEX}` escape, a surrogate pair, or
 * one character.
 */
const ATOMS = /\\u\{[0-9A-F]+\}|[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S]/g;

/**
 * `text` broken into lines of at most `width` characters, at spaces where it can and inside a word that is
 * longer than a line where it must (never inside an escape), at most MAX_SUMMARY_LINES lines, the last ending
 * in `…` when text is left over.
 */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(12, width);
  const lines: string[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    if (lines.length === MAX_SUMMARY_LINES - 1 || rest.length <= w) {
      lines.push(truncate(rest, w));
      break;
    }
    let cut = rest.lastIndexOf(" ", w);
    if (cut <= 0) {
      // One word longer than the line: as many whole atoms as fit.
      cut = 0;
      for (const m of rest.matchAll(ATOMS)) {
        if (cut + m[0].length > w) break;
        cut += m[0].length;
      }
      if (cut === 0) cut = w;
    }
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  return lines.length > 0 ? lines : [""];
}

/**
 * The findings as an aligned table, most severe first. `columns` (a terminal's width) lets the summary use
 * all the width the other columns leave, wrapped over a few lines; when that is too little, each summary is
 * shown on its own lines under its row. COUNT is the number of events the finding holds.
 */
export function renderTable(findings: readonly FindingOutput[], options: TableOptions | number = {}): string {
  const opts: TableOptions = typeof options === "number" ? { columns: options } : options;
  if (findings.length === 0) return "No findings.\n";
  const sorted = [...findings].sort(bySeverity);
  const rows = sorted.map((f) => {
    const repos = f.repos.length === 0 ? "-" : f.repos.length === 1 ? f.repos[0]! : `${f.repos[0]} +${f.repos.length - 1}`;
    return [
      f.severity.toUpperCase(),
      showInvisible(f.detector),
      // Every org involved: one, except when an enterprise export adds up several of its orgs.
      truncate(showInvisible(f.orgs.length === 0 ? "-" : f.orgs.join(",")), 40),
      truncate(showInvisible(f.actor ?? "-"), 30),
      truncate(showInvisible(repos), 40),
      String(f.count),
      TABLE_TIME(f.first_seen),
      TABLE_TIME(f.last_seen),
      showInvisible(f.summary),
    ];
  });
  const fixedCount = TABLE_HEADER.length - 1;
  const widths = TABLE_HEADER.slice(0, fixedCount).map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const rowWidth = () => widths.reduce((a, b) => a + b, 0) + GAP.length * (fixedCount - 1);
  /** Cuts the widest cuttable column a character at a time until the fixed columns fit in `target`. */
  const shrinkTo = (target: number) => {
    while (rowWidth() > target) {
      let widest = -1;
      for (const [i, floor] of SHRINKABLE) if (widths[i]! > floor && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      if (widest < 0) return;
      widths[widest]!--;
    }
  };

  const columns = opts.columns && opts.columns > 0 ? opts.columns : undefined;
  const longest = Math.max(...rows.map((r) => r[fixedCount]!.length));
  let mode: "line" | "column" | "below" = "line";
  let summaryWidth = Number.POSITIVE_INFINITY;
  if (columns !== undefined) {
    const natural = [...widths];
    // Room for the summaries, up to MIN_SUMMARY_WIDTH, and for the header's word at least.
    const wanted = Math.max("SUMMARY".length, Math.min(longest, MIN_SUMMARY_WIDTH));
    shrinkTo(columns - GAP.length - wanted);
    summaryWidth = columns - rowWidth() - GAP.length;
    if (summaryWidth >= wanted) {
      mode = "column";
    } else {
      // Too narrow for a summary column: the row keeps what fits, and the summary gets lines of its own.
      widths.splice(0, widths.length, ...natural);
      shrinkTo(columns);
      mode = "below";
      summaryWidth = columns - BELOW_INDENT;
    }
  }

  const cells = (r: readonly string[]) =>
    r.slice(0, fixedCount).map((c, i) => {
      const cut = truncate(c, widths[i]!);
      // COUNT is right-aligned, so the numbers line up.
      return i === 5 ? cut.padStart(widths[i]!) : cut.padEnd(widths[i]!);
    });
  const fit = (line: string) => (columns !== undefined && line.length > columns ? truncate(line, columns) : line).trimEnd();
  const out: string[] = [];
  const colour = (line: string, severity: Severity | undefined) => {
    if (!opts.color || severity === undefined) return line;
    const word = severity.toUpperCase();
    return line.startsWith(word) ? `${COLORS[severity]}${word}${RESET}${line.slice(word.length)}` : line;
  };

  if (mode === "below") {
    out.push(fit(cells(TABLE_HEADER).join(GAP)));
    out.push(fit(`${" ".repeat(BELOW_INDENT)}${TABLE_HEADER[fixedCount]}`));
  } else {
    out.push(fit([...cells(TABLE_HEADER), TABLE_HEADER[fixedCount]].join(GAP)));
  }
  rows.forEach((r, n) => {
    const severity = sorted[n]!.severity;
    const summary = r[fixedCount]!;
    if (mode === "line") {
      out.push(colour([...cells(r), summary].join(GAP).trimEnd(), severity));
    } else if (mode === "column") {
      const [first, ...more] = wrap(summary, summaryWidth);
      out.push(colour(fit([...cells(r), first].join(GAP)), severity));
      const indent = " ".repeat(rowWidth() + GAP.length);
      for (const m of more) out.push(`${indent}${m}`);
    } else {
      out.push(colour(fit(cells(r).join(GAP)), severity));
      for (const m of wrap(summary, summaryWidth)) out.push(`${" ".repeat(BELOW_INDENT)}${m}`);
    }
  });
  return `${out.join("\n")}\n`;
}
