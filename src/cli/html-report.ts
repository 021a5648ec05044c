// `analyze --format html`: the findings as one self-contained page to hand on (to a manager, to counsel, to an
// incident ticket). Pure and deterministic: the findings and the run's facts in, the page out; the time it was
// made is passed in, never read here.
//
// The page holds attacker-chosen text (logins, repo names, evidence values, summaries built from them). Every
// such value goes through text() below: showInvisible() first, exactly as issues and the terminal table show
// it, so a bidirectional override or a zero-width character shows as `\u{202E}` instead of reordering or hiding
// part of a name; then HTML escaping, so `<script>` or `"><img onerror=…>` is shown as text and never becomes
// an element or an attribute. Values only ever land in text nodes and double-quoted attributes, and element ids
// are numbers, never attacker text. The finished page passes through showInvisible() once more, as issue
// bodies do, so nothing invisible reaches the reader by any other path.
//
// As a second wall, the page carries a Content-Security-Policy that allows no script, no network load of any
// kind (images, fonts, frames, fetches) and only the one inline style sheet, by its hash: even a value that
// slipped past escaping could run nothing and send nothing out. Opening the page needs no network. Timeline bar
// positions are classes in that sheet, not `style` attributes, which the policy refuses.
import { createHash } from "node:crypto";
import { WARNING_REFERENCE } from "../alerts/render.js";
import { SEVERITIES, severityRank, type Severity } from "../domain/severity.js";
import { detectorById } from "../detectors/index.js";
import { showInvisible, truncate } from "../text/inert.js";
import type { AnalyzeResult, EvidenceOutput, FindingOutput } from "./analyze.js";

/** The run's facts shown in the page's header. */
export interface HtmlReportMeta {
  /** Inputs in the order they were read; `-` is standard input. */
  files: string[];
  /** Audit events read. */
  events: number;
  /** When the report was made: shown, never read from the clock here. */
  generatedAt: Date;
  /** Lines that were not audit events, and were skipped. */
  bad?: number;
  /** Events already in the --db database. */
  duplicates?: number;
  /** Events before --since, and at or after --until. */
  skipped?: number;
  skippedAfter?: number;
  /**
   * One sentence per input that was not read in full (FileSummary.problem). The page then says, at the top,
   * that its findings cover only what was read: a report must not pass for one over the whole export.
   */
  problems?: string[];
}

/** The header facts of an analyze run. */
export function htmlReportMeta(result: AnalyzeResult, generatedAt: Date): HtmlReportMeta {
  return {
    files: result.files.map((f) => f.file),
    events: result.events,
    generatedAt,
    bad: result.bad,
    duplicates: result.duplicates,
    skipped: result.skipped,
    skippedAfter: result.skippedAfter,
    problems: result.files.flatMap((f) => (f.problem === undefined ? [] : [f.problem])),
  };
}

/**
 * Evidence rows shown per finding, the latest ones; `--format json` and the database keep every row. A burst
 * can hold thousands, which would make the page too long to read and too large to mail.
 */
export const MAX_EVIDENCE_ROWS = 200;
/** Characters shown of one value; the exact value is in `--format json`. */
const MAX_VALUE = 500;
const MAX_SUMMARY = 1000;
/** Narrowest timeline bar, in percent of the track, so an instant is still a visible mark. */
const MIN_BAR = 0.6;

// --- text ------------------------------------------------------------------------------------------------------

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Outside text for a text node or a quoted attribute: invisible and bidirectional characters (line breaks
 * among them) shown as `\u{HEX}` before cutting, as inert() does, so a cut never hides what made a value long.
 */
function text(value: unknown, max = MAX_VALUE): string {
  return escapeHtml(truncate(showInvisible(String(value)), max));
}

/** A value in a code element, or a marker for one that shows nothing. */
function code(value: unknown, max = MAX_VALUE): string {
  if (value === null || value === undefined) return `<span class="none">unknown</span>`;
  const s = String(value);
  // Spaces alone stay in the code element, where they keep their width; only nothing at all is named.
  if (s === "") return `<span class="none">(empty)</span>`;
  return `<code>${text(s, max)}</code>`;
}

/**
 * exfil-monitor's own wording (next steps), written for issues: escaped like any text, then its `code` spans
 * shown as code elements. Never for outside text, whose backticks are just characters.
 */
function prose(s: string): string {
  return text(s, 2000).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

function ms(iso: string): number {
  return Date.parse(iso);
}

/** `2026-09-01 07:15:21 UTC`, or the value as given when it is not a time. */
function when(iso: string): string {
  const t = ms(iso);
  if (!Number.isFinite(t)) return text(iso);
  return `<time datetime="${new Date(t).toISOString()}">${new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")}</time>`;
}

function duration(msSpan: number): string {
  const min = Math.round(msSpan / 60_000);
  if (min < 1) return `${Math.max(0, Math.round(msSpan / 1000))} s`;
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h${min % 60 ? ` ${min % 60} min` : ""}`;
  const d = Math.floor(h / 24);
  return `${d} d${h % 24 ? ` ${h % 24} h` : ""}`;
}

/** Severity as a class name: the value is typed, but a finding read back from elsewhere may hold anything. */
function sevClass(s: Severity): string {
  return (SEVERITIES as readonly string[]).includes(s) ? `sev-${s}` : "sev-unknown";
}

function sevBadge(s: Severity): string {
  return `<span class="sev ${sevClass(s)}">${text(s)}</span>`;
}

function list(values: readonly string[], max = 300): string {
  return values.length === 0 ? `<span class="none">none</span>` : values.map((v) => code(v, max)).join(", ");
}

// --- sections --------------------------------------------------------------------------------------------------

interface Numbered {
  /** 1-based, in the order of the finding sections; the anchor is `f<n>`. */
  n: number;
  f: FindingOutput;
}

function header(findings: readonly Numbered[], meta: HtmlReportMeta): string {
  const counts = SEVERITIES.slice()
    .reverse()
    .map((s) => {
      const n = findings.filter(({ f }) => f.severity === s).length;
      return `<li class="count ${sevClass(s)}"><span class="n">${n}</span> ${s}</li>`;
    })
    .join("");
  const span = spanOf(findings);
  const spanText = span
    ? `${when(new Date(span.from).toISOString())} to ${when(new Date(span.to).toISOString())} (${duration(span.to - span.from)})`
    : `<span class="none">no findings</span>`;
  const inputs = meta.files.length === 0 ? `<span class="none">none</span>` : meta.files.map((f) => (f === "-" ? "standard input" : code(f))).join(", ");
  const set: string[] = [];
  if (meta.bad) set.push(`${plural(meta.bad, "line")} that ${meta.bad === 1 ? "was" : "were"} not audit events`);
  if (meta.duplicates) set.push(`${plural(meta.duplicates, "duplicate")} already in the database`);
  if (meta.skipped) set.push(`${meta.skipped.toLocaleString("en-US")} before --since`);
  if (meta.skippedAfter) set.push(`${meta.skippedAfter.toLocaleString("en-US")} at or after --until`);
  const problems = meta.problems ?? [];
  const incomplete =
    problems.length === 0
      ? ""
      : `<div class="incomplete" role="alert"><strong>Incomplete:</strong> ${plural(problems.length, "input")} ${problems.length === 1 ? "was" : "were"} not read in full; the findings cover only what was read.<ul>${problems.map((p) => `<li>${text(p, 2000)}</li>`).join("")}</ul></div>`;
  return `<header>
<h1>exfil-monitor report</h1>
<p class="lead">${plural(findings.length, "finding")} from ${plural(meta.events, "audit event")}. Each finding matches one of the signs named in ${escapeHtml(WARNING_REFERENCE)}.</p>
${incomplete}<ul class="counts">${counts}</ul>
<dl class="facts">
<dt>Inputs</dt><dd>${inputs}</dd>
<dt>Events read</dt><dd>${meta.events.toLocaleString("en-US")}${set.length > 0 ? ` (set aside: ${set.join(", ")})` : ""}</dd>
<dt>Time span</dt><dd>${spanText}</dd>
<dt>Generated</dt><dd>${when(meta.generatedAt.toISOString())}</dd>
</dl>
<nav><a href="#timeline">Timeline</a> · <a href="#findings">Findings</a> · <a href="#actors">By actor</a></nav>
</header>`;
}

function spanOf(findings: readonly Numbered[]): { from: number; to: number } | null {
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const { f } of findings) {
    const a = ms(f.first_seen);
    const b = ms(f.last_seen);
    if (Number.isFinite(a)) from = Math.min(from, a);
    if (Number.isFinite(b)) to = Math.max(to, b);
    if (Number.isFinite(a)) to = Math.max(to, a);
  }
  return Number.isFinite(from) && Number.isFinite(to) ? { from, to } : null;
}

/** Percent with two decimals, so the style sheet (and its hash) is the same on every run. */
function pct(x: number): string {
  return `${(Math.round(x * 100) / 100).toFixed(2)}%`;
}

/**
 * One row per finding, oldest first, with a bar from first to last seen on a track spanning all findings.
 * Returns the markup and the style rules that place the bars.
 */
function timeline(findings: readonly Numbered[]): { html: string; css: string } {
  const span = spanOf(findings);
  if (!span || findings.length === 0) {
    return { html: `<section id="timeline"><h2>Timeline</h2><p class="none">No findings.</p></section>`, css: "" };
  }
  const width = span.to - span.from;
  const rules: string[] = [];
  const rows = [...findings]
    .sort((a, b) => ms(a.f.first_seen) - ms(b.f.first_seen) || a.n - b.n)
    .map(({ n, f }) => {
      const a = ms(f.first_seen);
      const b = ms(f.last_seen);
      const start = Number.isFinite(a) ? a : span.from;
      const end = Number.isFinite(b) && b >= start ? b : start;
      let left = width > 0 ? ((start - span.from) / width) * 100 : 0;
      let w = width > 0 ? ((end - start) / width) * 100 : 100;
      w = Math.max(MIN_BAR, w);
      if (left + w > 100) left = Math.max(0, 100 - w);
      rules.push(`.bar-${n}{left:${pct(left)};width:${pct(w)}}`);
      const label = `#${n} ${f.severity} · ${detectorById(f.detector)?.title ?? f.detector}${f.actor ? ` · ${f.actor}` : ""}`;
      return `<li><a class="label" href="#f${n}">${text(label, 120)}</a><span class="track"><a class="bar bar-${n} ${sevClass(f.severity)}" href="#f${n}" title="${text(`${f.first_seen} to ${f.last_seen}: ${f.summary}`, MAX_SUMMARY)}"></a></span></li>`;
    });
  const ticks = [0, 25, 50, 75, 100]
    .map((p) => {
      const at = new Date(span.from + (width * p) / 100).toISOString();
      return `<span class="tick tick-${p}">${at.slice(0, 16).replace("T", " ")}</span>`;
    })
    .join("");
  return {
    html: `<section id="timeline">
<h2>Timeline</h2>
<p class="note">Each bar runs from a finding's first to its last event (UTC); a finding of one event is a short mark.</p>
<ol class="timeline">${rows.join("\n")}</ol>
<div class="axis"><span class="label"></span><span class="ticks">${ticks}</span></div>
</section>`,
    css: rules.join(""),
  };
}

function evidenceTable(evidence: readonly EvidenceOutput[]): string {
  if (evidence.length === 0) return `<p class="none">No evidence rows are stored for this finding.</p>`;
  const sorted = [...evidence].sort((a, b) => ms(a.time) - ms(b.time));
  const shown = sorted.slice(Math.max(0, sorted.length - MAX_EVIDENCE_ROWS));
  const hidden = sorted.length - shown.length;
  const rows = shown.map((e) => {
    const data = Object.entries(e.data)
      .map(([k, v]) => `<li><span class="key">${text(k, 120)}</span> ${code(v)}</li>`)
      .join("");
    return `<tr><td class="time">${when(e.time)}</td><td class="source">${code(e.source, 100)}</td><td><ul class="data">${data}</ul></td></tr>`;
  });
  const note =
    hidden > 0
      ? `<p class="note">${plural(hidden, "earlier row")} ${hidden === 1 ? "is" : "are"} not shown here; <code>--format json</code> and the database hold every row.</p>`
      : "";
  return `<table class="evidence"><thead><tr><th>Time (UTC)</th><th>Source</th><th>Data</th></tr></thead><tbody>${rows.join("\n")}</tbody></table>${note}`;
}

function findingSection({ n, f }: Numbered, actorAnchor: ReadonlyMap<string, number>): string {
  const detector = detectorById(f.detector);
  const title = detector ? escapeHtml(detector.title) : `${code(f.detector)} <span class="none">(not a detector of this version)</span>`;
  const actor =
    f.actor === undefined ? `<span class="none">unknown</span>` : `<a href="#a${actorAnchor.get(f.actor)!}">${code(f.actor, 200)}</a>`;
  const sign = detector
    ? `<p class="sign"><strong>Warning sign:</strong> ${escapeHtml(detector.warningSign)}</p>`
    : "";
  const raised = f.raised_reason
    ? `<dt>Raised</dt><dd>one step above the detector's rating: ${code(f.raised_reason)}</dd>`
    : "";
  const steps =
    detector && detector.nextSteps.length > 0
      ? `<h4>Next steps</h4><ol class="steps">${detector.nextSteps.map((s) => `<li>${prose(s)}</li>`).join("")}</ol>`
      : "";
  return `<article class="finding ${sevClass(f.severity)}" id="f${n}">
<h3><span class="num">#${n}</span> ${sevBadge(f.severity)} ${title}</h3>
${sign}<p class="summary">${text(f.summary, MAX_SUMMARY)}</p>
<dl class="facts">
<dt>Actor</dt><dd>${actor}</dd>
<dt>Orgs</dt><dd>${list(f.orgs, 200)}</dd>
<dt>Repositories</dt><dd>${list(f.repos)}</dd>
<dt>First seen</dt><dd>${when(f.first_seen)}</dd>
<dt>Last seen</dt><dd>${when(f.last_seen)}</dd>
<dt>Events</dt><dd>${f.count.toLocaleString("en-US")}</dd>
${raised}<dt>Fingerprint</dt><dd>${code(f.fingerprint, 300)} <span class="note">in ${code(f.scope, 200)}</span></dd>
</dl>
<h4>Evidence</h4>
${evidenceTable(f.evidence)}
${steps}
</article>`;
}

interface ActorGroup {
  actor: string | undefined;
  findings: Numbered[];
}

function actorGroups(findings: readonly Numbered[]): ActorGroup[] {
  const byActor = new Map<string | undefined, Numbered[]>();
  for (const x of findings) {
    const group = byActor.get(x.f.actor);
    if (group) group.push(x);
    else byActor.set(x.f.actor, [x]);
  }
  const top = (g: ActorGroup) => Math.max(...g.findings.map(({ f }) => severityRank(f.severity)));
  const name = (g: ActorGroup) => g.actor ?? "";
  // Most severe first, then the actor with more findings, then by name so the order never depends on input order.
  return [...byActor.entries()]
    .map(([actor, fs]) => ({ actor, findings: fs }))
    .sort(
      (a, b) =>
        top(b) - top(a) ||
        b.findings.length - a.findings.length ||
        (a.actor === undefined ? 1 : 0) - (b.actor === undefined ? 1 : 0) ||
        (name(a) < name(b) ? -1 : name(a) > name(b) ? 1 : 0),
    );
}

function actorsSection(groups: readonly ActorGroup[]): string {
  if (groups.length === 0) return `<section id="actors"><h2>By actor</h2><p class="none">No findings.</p></section>`;
  const blocks = groups.map((g, i) => {
    const events = g.findings.reduce((s, { f }) => s + f.count, 0);
    const worst = g.findings.reduce<Severity>((w, { f }) => (severityRank(f.severity) > severityRank(w) ? f.severity : w), "low");
    const rows = g.findings
      .map(
        ({ n, f }) =>
          `<li><a href="#f${n}">#${n}</a> ${sevBadge(f.severity)} ${escapeHtml(detectorById(f.detector)?.title ?? f.detector)}: ${code(f.summary, 300)} <span class="note">${when(f.first_seen)}</span></li>`,
      )
      .join("");
    const who = g.actor === undefined ? `<span class="none">no actor named</span>` : code(g.actor, 200);
    return `<div class="actor" id="a${i + 1}"><h3>${who} ${sevBadge(worst)} <span class="note">${plural(g.findings.length, "finding")}, ${plural(events, "event")}</span></h3><ul>${rows}</ul></div>`;
  });
  return `<section id="actors"><h2>By actor</h2>\n${blocks.join("\n")}\n</section>`;
}

// --- page ------------------------------------------------------------------------------------------------------

const STYLE = `
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--critical:#a40e26;--high:#bc4c00;--medium:#9a6700;--low:#0969da;--unknown:#57606a}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1200px;padding:24px;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{margin:0 0 4px;font-size:24px}h2{margin:32px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line);font-size:20px}
h3{margin:0 0 8px;font-size:16px}h4{margin:16px 0 6px;font-size:14px}
a{color:var(--low)}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:0 4px;overflow-wrap:anywhere;white-space:pre-wrap}
.none,.note{color:var(--muted)}.none{font-style:italic}.note{font-size:12px}
.lead{margin:0 0 12px;color:var(--muted)}
.incomplete{border:2px solid var(--critical);border-radius:6px;padding:8px 12px;margin:12px 0;background:#fff0f0}
.counts{display:flex;gap:12px;list-style:none;padding:0;margin:12px 0}
.count{border:1px solid var(--line);border-left:6px solid var(--sev);border-radius:6px;padding:6px 14px;min-width:110px}
.count .n{font-size:22px;font-weight:600;margin-right:4px}
.sev-critical{--sev:var(--critical)}.sev-high{--sev:var(--high)}.sev-medium{--sev:var(--medium)}.sev-low{--sev:var(--low)}.sev-unknown{--sev:var(--unknown)}
.sev{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;background:var(--sev);font-size:12px;font-weight:600;text-transform:uppercase;vertical-align:1px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.facts dt{font-weight:600;color:var(--muted)}dl.facts dd{margin:0}
nav{margin-top:8px}
.timeline{list-style:none;padding:0;margin:0}
.timeline li,.axis{display:grid;grid-template-columns:380px 1fr;gap:12px;align-items:center;min-height:24px}
.timeline .label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;color:var(--fg);text-decoration:none;font-size:13px}
.track{position:relative;height:14px;background:var(--soft);border-radius:3px;border:1px solid var(--line)}
.bar{position:absolute;top:0;bottom:0;background:var(--sev);border-radius:3px}
.ticks{position:relative;height:18px;font-size:11px;color:var(--muted)}
.tick{position:absolute;top:0;white-space:nowrap}
.tick-0{left:0}.tick-25{left:25%;transform:translateX(-50%)}.tick-50{left:50%;transform:translateX(-50%)}.tick-75{left:75%;transform:translateX(-50%)}.tick-100{right:0}
.finding{border:1px solid var(--line);border-left:6px solid var(--sev);border-radius:6px;padding:12px 16px;margin:16px 0;break-inside:avoid-page}
.finding .num{color:var(--muted)}
.sign{margin:0 0 6px}.summary{margin:0 0 8px;font-size:15px;overflow-wrap:anywhere}
table.evidence{border-collapse:collapse;width:100%;font-size:12px}
table.evidence th,table.evidence td{border:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
table.evidence th{background:var(--soft)}
td.time,td.source code{white-space:nowrap}
ul.data{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:2px 12px}
.key{color:var(--muted)}
.steps li{margin:2px 0}
.actor{border-bottom:1px solid var(--line);padding:8px 0}
.actor ul{margin:4px 0;padding-left:20px}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{body{max-width:none;padding:0}nav{display:none}.finding{border-left-width:4px}}
`;

/**
 * The findings of an analyze run as one HTML page that needs nothing else to open: styles inline, no script,
 * no image, no font, no network. Sections appear most severe first; the timeline is in time order.
 */
export function renderHtmlReport(findings: readonly FindingOutput[], meta: HtmlReportMeta): string {
  const numbered: Numbered[] = [...findings]
    .map((f, i) => ({ f, i }))
    .sort((a, b) => severityRank(b.f.severity) - severityRank(a.f.severity) || ms(a.f.first_seen) - ms(b.f.first_seen) || a.i - b.i)
    .map(({ f }, i) => ({ n: i + 1, f }));
  const groups = actorGroups(numbered);
  const actorAnchor = new Map<string, number>();
  groups.forEach((g, i) => {
    if (g.actor !== undefined) actorAnchor.set(g.actor, i + 1);
  });
  const tl = timeline(numbered);
  const style = STYLE + tl.css;
  const hash = createHash("sha256").update(style, "utf8").digest("base64");
  // No script-src and no img-src: default-src 'none' covers them, and every other fetch. base-uri and
  // form-action do not fall back to default-src, so they are closed by name.
  const csp = `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'`;
  const findingsHtml =
    numbered.length === 0
      ? `<p class="none">No findings.</p>`
      : numbered.map((x) => findingSection(x, actorAnchor)).join("\n");
  const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>exfil-monitor report: ${plural(numbered.length, "finding")}</title>
<style>${style}</style>
</head>
<body>
${header(numbered, meta)}
<main>
${tl.html}
<section id="findings">
<h2>Findings</h2>
${findingsHtml}
</section>
${actorsSection(groups)}
</main>
<footer>Made by exfil-monitor. Names, repositories and evidence are shown as recorded, with control, bidirectional and invisible characters written as <code>\\u{HEX}</code> and values over ${MAX_VALUE} characters cut; <code>exfil-monitor analyze --format json</code> gives every value exactly.</footer>
</body>
</html>
`;
  return showInvisible(page, { keepLines: true });
}
