// Turns a finding and its evidence into the markdown of its GitHub issue and of later comments, and a notice
// into its issue. Pure: no I/O, no clock. Every value that came from outside exfil-monitor (summaries built
// from repo names, logins, evidence keys and values) goes through inert()/inertTitle(), so an attacker who
// names a branch `@everyone` or `<img onerror=…>` gets a harmless code span, never a ping, a link or HTML.
// Each finished title, body and label also passes through showInvisible() (text/inert.ts), so an invisible or
// bidirectional character that reached the text any other way (a notice's wording, a label from the config)
// is shown escaped too.
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { Detector } from "../detectors/types.js";
import type { EvidenceRow, FindingRow } from "../store/storage.js";
import { inert, inertTitle, showInvisible, truncate } from "../text/inert.js";

/** Rows shown in one evidence table; the database keeps all of them. */
export const MAX_EVIDENCE_ROWS = 50;
/** Evidence keys shown as their own columns; the rest share one "other" column. */
const MAX_KEY_COLUMNS = 8;
/** GitHub refuses issue and comment bodies over 65,536 characters; stay well below. */
const MAX_BODY = 60_000;
const CELL_MAX = 120;
const CONFIG_FILE = ".github/exfil-monitor.yml";

export const WARNING_REFERENCE =
  "the FBI's January 2025 warning about North Korean remote IT workers (copying code to personal accounts, extortion, logins from several countries, credential harvesting)";

/** The hidden line that ties an issue to its finding. A hash: fingerprints hold attacker text, and `-->` would end the comment. */
export function fingerprintMarker(fingerprint: string): string {
  return `<!-- exfil-monitor:fp:${createHash("sha256").update(fingerprint).digest("hex")} -->`;
}

const SEQ_MARKER = /<!-- exfil-monitor:seq:(\d+) -->/;

/** Newest evidence seq an issue body shows, read back when a half-finished filing is adopted. */
export function shownSeq(body: string): number | null {
  const m = SEQ_MARKER.exec(body);
  return m ? Number(m[1]) : null;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : "unknown";
}

/** `@login` or `@org/team` from an `alerts.mention` entry; anything else is dropped rather than pasted. */
export function mentionOf(entry: string): string | null {
  const bare = entry.startsWith("@") ? entry.slice(1) : entry;
  return /^[A-Za-z0-9-]+(\/[A-Za-z0-9._-]+)?$/.test(bare) ? `@${bare}` : null;
}

/** A fence longer than any backtick run in `text`, so quoted text (a config file) cannot close it early. */
export function fenced(text: string, lang = ""): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  const body = text.endsWith("\n") ? text : `${text}\n`;
  return `${fence}${lang}\n${body}${fence}`;
}

function cell(value: unknown): string {
  return inert(value, CELL_MAX);
}

/** Evidence as a table: time, channel, then one column per key (the first few) and an "other" column. */
function evidenceTable(rows: readonly EvidenceRow[]): string {
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(r.data)) if (!keys.includes(k)) keys.push(k);
  const columns = keys.slice(0, MAX_KEY_COLUMNS);
  const rest = keys.length > MAX_KEY_COLUMNS;
  const header = ["Time (UTC)", "Channel", ...columns.map((k) => cell(k)), ...(rest ? ["Other"] : [])];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const r of rows) {
    const values = columns.map((k) => (k in r.data ? cell(r.data[k]) : ""));
    if (rest) {
      const other = Object.entries(r.data)
        .filter(([k]) => !columns.includes(k))
        .map(([k, v]) => `${cell(k)}: ${cell(v)}`);
      values.push(other.join("; "));
    }
    lines.push(`| ${[iso(r.at), cell(r.source), ...values].join(" | ")} |`);
  }
  return lines.join("\n");
}

/**
 * The latest `MAX_EVIDENCE_ROWS` rows in time order, with a line saying how many earlier ones are not
 * shown. Fewer rows are shown when hostile long values would push the text past `budget`.
 */
function evidenceSection(evidence: readonly EvidenceRow[], budget: number): string {
  if (evidence.length === 0) return "_No evidence rows are stored for this finding._";
  const sorted = [...evidence].sort((a, b) => a.at - b.at || a.seq - b.seq);
  let shown = Math.min(sorted.length, MAX_EVIDENCE_ROWS);
  for (;;) {
    const rows = sorted.slice(sorted.length - shown);
    const hidden = sorted.length - shown;
    const note =
      hidden > 0
        ? `\n\n${hidden} earlier ${hidden === 1 ? "row is" : "rows are"} not shown here; exfil-monitor keeps every row in its database.`
        : "";
    const text = evidenceTable(rows) + note;
    if (text.length <= budget || shown === 1) return text;
    shown = Math.max(1, Math.floor(shown / 2));
  }
}

function seqMarker(evidence: readonly EvidenceRow[]): string {
  const max = evidence.reduce((m, r) => Math.max(m, r.seq), 0);
  return `<!-- exfil-monitor:seq:${max} -->`;
}

export interface RenderIssueInput {
  finding: FindingRow;
  evidence: EvidenceRow[];
  detector: Detector | undefined;
  config: Config;
}

export function issueLabels(finding: FindingRow, config: Config): string[] {
  const labels = ["exfil-monitor", `severity:${finding.severity}`, `detector:${finding.detector}`, ...config.alerts.labels];
  // GitHub creates a label that does not exist yet under exactly this name; 50 characters is its limit.
  return [...new Set(labels.map((l) => truncate(showInvisible(l), 50)))];
}

export function renderIssue(input: RenderIssueInput): { title: string; body: string; labels: string[] } {
  const { finding, evidence, detector, config } = input;
  const title = `[${finding.severity.toUpperCase()}] ${inertTitle(finding.summary)}`;
  const detectorName = detector ? `${detector.title} (\`${detector.id}\`)` : `${cell(finding.detector)} (no longer in this version)`;
  const repos = finding.repos.length > 0 ? finding.repos.map((r) => inert(r, 140)).join(", ") : "_none_";
  const fixedSeverity = (config.detectors as Record<string, { severity?: string } | undefined>)[finding.detector]?.severity;

  const parts: string[] = [];
  parts.push(fingerprintMarker(finding.fingerprint));
  parts.push(seqMarker(evidence));
  parts.push(`## What happened\n\n${inert(finding.summary, 500)}`);
  parts.push(
    [
      "| | |",
      "|---|---|",
      `| **Who** | ${finding.actor === null ? "_unknown_" : inert(finding.actor, 100)} |`,
      `| **First seen** | ${iso(finding.firstSeen)} |`,
      `| **Last seen** | ${iso(finding.lastSeen)} |`,
      `| **Events** | ${finding.count} |`,
      `| **Repositories** | ${repos} |`,
      `| **Severity** | ${finding.severity} |`,
      `| **Detector** | ${detectorName} |`,
      `| **Subject** | ${inert(finding.subject, 200)} |`,
    ].join("\n"),
  );
  if (detector) {
    parts.push(
      `## Warning sign\n\n**${detector.warningSign}**: one of the signs named in ${WARNING_REFERENCE}.`,
    );
  }
  let why: string;
  if (finding.raisedReason) {
    why = `Raised one step above the detector's rating: ${inert(finding.raisedReason, 300)}. Exfiltration soon after joining, or from a new account, is the pattern the warning describes.`;
  } else if (fixedSeverity) {
    why = `Set by \`detectors.${finding.detector}.severity\` in the config.`;
  } else {
    why = "The detector's own rating for this kind of event.";
  }
  parts.push(`## Why this severity\n\n${why}`);
  if (detector && detector.nextSteps.length > 0) {
    parts.push(`## Next steps\n\n${detector.nextSteps.map((s) => `- [ ] ${s}`).join("\n")}`);
  }
  const org = finding.org === null ? "the org" : `${inert(finding.org, 100)}`;
  parts.push(
    `## Tuning\n\nThresholds live under \`detectors.${detector?.id ?? finding.detector}\`; known-good actors, repositories, fork owners and webhook hosts go in \`allow.actors\`, \`allow.repos\`, \`allow.fork_owners\` and \`allow.webhook_hosts\`. Both are in \`${CONFIG_FILE}\` of ${org}'s \`.github\` repository. Prefer a narrow allow entry to turning the detector off.`,
  );
  const mentions = config.alerts.mention.map(mentionOf).filter((m): m is string => m !== null);
  const tail = mentions.length > 0 ? `cc ${mentions.join(" ")}` : "";

  const fixed = parts.join("\n\n") + (tail ? `\n\n${tail}` : "");
  const section = evidenceSection(evidence, MAX_BODY - fixed.length - 100);
  // Evidence sits after the summary table and before the warning sign, where a reader expects it.
  const withEvidence = [...parts.slice(0, 4), `## Evidence\n\n${section}`, ...parts.slice(4)];
  const body = withEvidence.join("\n\n") + (tail ? `\n\n${tail}` : "");
  return { title, body: showInvisible(body, { keepLines: true }), labels: issueLabels(finding, config) };
}

export interface RenderCommentInput {
  finding: FindingRow;
  /** Only the rows the issue does not show yet. */
  evidence: EvidenceRow[];
  detector: Detector | undefined;
}

export function renderComment(input: RenderCommentInput): string {
  const { finding, evidence } = input;
  const n = evidence.length;
  const head = `**${n} new ${n === 1 ? "event" : "events"}** for this finding. Severity now **${finding.severity}**, ${finding.count} events in all, last seen ${iso(finding.lastSeen)}.`;
  const repos = finding.repos.length > 0 ? `\n\nRepositories: ${finding.repos.map((r) => inert(r, 140)).join(", ")}` : "";
  const fixed = `${head}${repos}`;
  return showInvisible(`${seqMarker(evidence)}\n${fixed}\n\n${evidenceSection(evidence, MAX_BODY - fixed.length - 100)}`, {
    keepLines: true,
  });
}

export interface NoticeInput {
  org: string;
  key: string;
  title: string;
  /** Admin or system text, rendered as markdown. */
  body: string;
  /** Text quoted as is (a config file, an error message with its lines): shown in a fence it cannot close. */
  quote?: string;
  quoteLang?: string;
}

export function noticeLabels(key: string): string[] {
  if (key.startsWith("config:")) return ["exfil-monitor", "config-error"];
  if (key.startsWith("config-change:")) return ["exfil-monitor", "config-change"];
  return ["exfil-monitor", "exfil-monitor-notice"];
}

export function renderNotice(n: NoticeInput): { title: string; body: string; labels: string[] } {
  const marker = `<!-- exfil-monitor:notice:${createHash("sha256").update(`${n.org}\u0000${n.key}`).digest("hex")} -->`;
  // Escaped before it is cut: a body of invisible characters grows up to ten times when shown.
  const body = truncate(showInvisible(n.body, { keepLines: true }), 20_000);
  const parts = [marker, body];
  if (n.quote !== undefined) {
    // Cut before fencing, so the fence is measured on exactly what is shown; even a quote that is all
    // backticks (fence twice its length) then fits GitHub's 65,536-character limit.
    parts.push(fenced(truncate(showInvisible(n.quote, { keepLines: true }), 20_000), n.quoteLang ?? "yaml"));
  }
  parts.push("_Filed once by exfil-monitor; close this issue when it is fixed._");
  return {
    title: inertTitle(`exfil-monitor: ${n.title}`),
    body: showInvisible(parts.join("\n\n"), { keepLines: true }),
    labels: noticeLabels(n.key),
  };
}
