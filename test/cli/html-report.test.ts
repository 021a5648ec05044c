import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { analyzeFiles, type AnalyzeResult, type FindingOutput } from "../../src/cli/analyze.js";
import { htmlReportMeta, MAX_EVIDENCE_ROWS, renderHtmlReport, type HtmlReportMeta } from "../../src/cli/html-report.js";
import { detectorById } from "../../src/detectors/index.js";

const ROOT = path.join(import.meta.dirname, "../..");
const SAMPLE = path.join(ROOT, "samples/audit-log.jsonl");
const GENERATED_AT = new Date("2026-09-02T08:00:00Z");

/** A finding whose every outside value tries to become markup or to hide part of itself. */
const HOSTILE: FindingOutput = {
  detector: "repo-made-public",
  severity: "high",
  summary: `acme/<script>alert(1)</script> was made public "><img src=x onerror=alert(2)> \u202Eexe.txt`,
  actor: "mallory\u202Egnp.exe",
  orgs: ["acme'><b>org</b>"],
  repos: ["acme/<script>alert(1)</script>", `acme/x"><img src=x onerror=alert(2)>`, "acme/evil\u202Etxt.exe", "acme/zero\u200Bwidth"],
  first_seen: "2026-09-01T12:00:00.000Z",
  last_seen: "2026-09-01T12:30:00.000Z",
  count: 2,
  evidence: [
    {
      time: "2026-09-01T12:00:00.000Z",
      source: "audit-log</td><iframe>",
      data: { repo: `"><svg onload=alert(3)>`, note: "a\u2066b\u2069c\u0000d", "<i>key</i>": "line\nbreak", empty: "", gone: null },
    },
    { time: "2026-09-01T12:30:00.000Z", source: "audit-log", data: { tag: "x\u{E0041}\u{E0042}y" } },
  ],
  fingerprint: "repo-made-public:acme/<script>",
  scope: "org:acme",
  raised_reason: "</dd><script>alert(4)</script>",
};

// --- a small tokenizer for the page's own markup ----------------------------------------------------------------

const ALLOWED_TAGS = new Set(
  "html head meta title style body header main section article footer nav h1 h2 h3 h4 p a span code time strong div ul ol li dl dt dd table thead tbody tr th td".split(" "),
);
const ALLOWED_ATTRS = new Set(["lang", "charset", "http-equiv", "content", "name", "class", "id", "href", "title", "datetime", "role"]);

interface Tag {
  name: string;
  attrs: Record<string, string>;
}

/**
 * Every tag of the page outside the style sheet, with its attributes, read strictly: a tag that does not parse
 * as `<name attr="value">` (an attribute broken out of its quotes, a stray `<`) fails the test.
 */
function tags(html: string): Tag[] {
  const body = html.replace(/<style>[\s\S]*?<\/style>/, "<style></style>").replace(/^<!DOCTYPE html>/, "");
  const out: Tag[] = [];
  let i = 0;
  for (;;) {
    const lt = body.indexOf("<", i);
    if (lt < 0) break;
    const m = /^<(\/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+(?:="[^"<>]*")?)*)\s*>/.exec(body.slice(lt));
    if (!m) throw new Error(`unparsable markup at ${lt}: ${JSON.stringify(body.slice(lt, lt + 80))}`);
    const attrs: Record<string, string> = {};
    for (const a of m[3]!.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) attrs[a[1]!] = a[2] ?? "";
    if (m[1] === "") out.push({ name: m[2]!, attrs });
    i = lt + m[0].length;
  }
  return out;
}

/** Characters showInvisible() escapes, line breaks aside (the page's own). */
const INVISIBLE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Cs}]/u;

const count = (html: string, s: string) => html.split(s).length - 1;
const articles = (html: string) => [...html.matchAll(/<article class="finding [^"]*" id="f(\d+)">([\s\S]*?)<\/article>/g)];

let sample: AnalyzeResult;
let sampleHtml: string;
let tmp: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-html-report-"));
  sample = await analyzeFiles([SAMPLE], { db: ":memory:" });
  sampleHtml = renderHtmlReport(sample.findings, htmlReportMeta(sample, GENERATED_AT));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("renderHtmlReport on the sample audit log", () => {
  it("has the header, timeline, a section per finding and the per-actor view", () => {
    expect(sample.findings.length).toBeGreaterThan(3);
    expect(sampleHtml.startsWith("<!DOCTYPE html>")).toBe(true);
    for (const id of ["timeline", "findings", "actors"]) expect(sampleHtml).toContain(`<section id="${id}">`);
    expect(sampleHtml).toContain(`<dt>Inputs</dt><dd><code>${SAMPLE}</code></dd>`);
    expect(sampleHtml).toContain(`<dt>Events read</dt><dd>${sample.events.toLocaleString("en-US")}</dd>`);
    expect(sampleHtml).toContain("<dt>Generated</dt><dd>");
    expect(sampleHtml).toContain("2026-09-02 08:00:00 UTC");
    const first = sample.findings.map((f) => f.first_seen).sort()[0]!;
    const last = sample.findings.map((f) => f.last_seen).sort().at(-1)!;
    expect(sampleHtml).toContain(`<dt>Time span</dt><dd><time datetime="${first}">`);
    expect(sampleHtml).toContain(`<time datetime="${last}">`);
  });

  it("counts findings by severity", () => {
    for (const s of ["critical", "high", "medium", "low"] as const) {
      const n = sample.findings.filter((f) => f.severity === s).length;
      expect(sampleHtml).toContain(`<li class="count sev-${s}"><span class="n">${n}</span> ${s}</li>`);
    }
  });

  it("shows every finding with its detector's title, warning sign, facts, evidence and next steps", () => {
    const found = articles(sampleHtml);
    expect(found.map((m) => Number(m[1]))).toEqual(sample.findings.map((_, i) => i + 1));
    // Most severe first.
    const order = ["critical", "high", "medium", "low"];
    const sevs = found.map((m) => /<span class="sev sev-(\w+)">/.exec(m[2]!)![1]!);
    expect(sevs).toEqual([...sevs].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    for (const f of sample.findings) {
      const article = found.find((m) => m[2]!.includes(`<code>${f.fingerprint}</code>`));
      expect(article, f.fingerprint).toBeDefined();
      const a = article![2]!;
      const d = detectorById(f.detector)!;
      expect(a).toContain(d.title);
      expect(a).toContain(`<strong>Warning sign:</strong> ${d.warningSign}`);
      expect(a).toContain(`<p class="summary">${f.summary}</p>`);
      expect(a).toContain(`<dt>Events</dt><dd>${f.count}</dd>`);
      for (const r of f.repos) expect(a).toContain(`<code>${r}</code>`);
      for (const o of f.orgs) expect(a).toContain(`<code>${o}</code>`);
      expect(a).toContain(`<a href="#a`);
      expect(a).toContain(`<code>${f.actor!}</code>`);
      expect(count(a, "<tr><td class=\"time\">")).toBe(Math.min(f.evidence.length, MAX_EVIDENCE_ROWS));
      expect(a).toContain("<th>Time (UTC)</th><th>Source</th><th>Data</th>");
      // Next steps in order, their `code` spans as code elements.
      const steps = /<ol class="steps">([\s\S]*?)<\/ol>/.exec(a)![1]!;
      expect([...steps.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1])).toEqual(
        d.nextSteps.map((s) =>
          s
            .replace(/&/g, "&amp;")
            .replace(/</g, "&lt;")
            .replace(/>/g, "&gt;")
            .replace(/"/g, "&quot;")
            .replace(/'/g, "&#39;")
            .replace(/`([^`]+)`/g, "<code>$1</code>"),
        ),
      );
    }
  });

  it("draws one timeline bar per finding and lists every actor's findings", () => {
    const bars = [...sampleHtml.matchAll(/<a class="bar bar-(\d+) sev-\w+" href="#f(\d+)"/g)];
    expect(bars.length).toBe(sample.findings.length);
    for (const b of bars) {
      expect(b[1]).toBe(b[2]);
      // Placed by the style sheet, inside the track.
      const rule = new RegExp(`\\.bar-${b[1]}\\{left:(\\d+\\.\\d\\d)%;width:(\\d+\\.\\d\\d)%\\}`).exec(sampleHtml);
      expect(rule, `bar ${b[1]}`).not.toBeNull();
      expect(Number(rule![1]) + Number(rule![2])).toBeLessThanOrEqual(100.01);
    }
    const actors = sampleHtml.slice(sampleHtml.indexOf('<section id="actors">'));
    for (const actor of new Set(sample.findings.map((f) => f.actor!))) {
      const block = new RegExp(`<div class="actor" id="a\\d+"><h3><code>${actor}</code>[\\s\\S]*?</div>`).exec(actors);
      expect(block, actor).not.toBeNull();
      const mine = sample.findings.filter((f) => f.actor === actor).length;
      expect(count(block![0], "<li>")).toBe(mine);
    }
  });

  it("needs nothing from the network and allows no script", () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(sampleHtml);
    expect(csp).not.toBeNull();
    expect(csp![1]).toContain("default-src 'none'");
    expect(csp![1]).not.toMatch(/script-src|unsafe|https?:|\*/);
    // The one style sheet is allowed by its hash, and the policy comes before it.
    const style = /<style>([\s\S]*?)<\/style>/.exec(sampleHtml)!;
    const hash = createHash("sha256").update(style[1]!, "utf8").digest("base64");
    expect(csp![1]).toContain(`style-src 'sha256-${hash}'`);
    expect(sampleHtml.indexOf("Content-Security-Policy")).toBeLessThan(style.index);
    const all = tags(sampleHtml);
    for (const t of all) {
      expect(ALLOWED_TAGS.has(t.name), t.name).toBe(true);
      for (const a of Object.keys(t.attrs)) expect(ALLOWED_ATTRS.has(a), `${t.name} ${a}`).toBe(true);
      if (t.attrs.href !== undefined) expect(t.attrs.href).toMatch(/^#[a-z]+\d*$/);
    }
    expect(style[1]).not.toMatch(/url\(|@import|@font-face/);
  });

  it("is deterministic: the clock does not matter", () => {
    vi.useFakeTimers();
    try {
      vi.setSystemTime(new Date("2031-01-01T00:00:00Z"));
      const again = renderHtmlReport(sample.findings, htmlReportMeta(sample, GENERATED_AT));
      expect(again).toBe(sampleHtml);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("renderHtmlReport with hostile values", () => {
  const meta: HtmlReportMeta = { files: ["x<b>.jsonl", "-"], events: 5, generatedAt: GENERATED_AT };
  const html = renderHtmlReport([HOSTILE], meta);

  it("produces no element, attribute or link from outside text", () => {
    const all = tags(html);
    const names = new Set(all.map((t) => t.name));
    for (const bad of ["script", "img", "svg", "iframe", "b", "i"]) expect(names.has(bad), bad).toBe(false);
    for (const t of all) {
      for (const a of Object.keys(t.attrs)) expect(ALLOWED_ATTRS.has(a), `${t.name} ${a}`).toBe(true);
      if (t.attrs.id !== undefined) expect(t.attrs.id).toMatch(/^[a-z]+\d*$/);
    }
    expect(html).toContain("acme/&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("acme/x&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
    expect(html).toContain("&quot;&gt;&lt;svg onload=alert(3)&gt;");
    expect(html).toContain("&lt;/dd&gt;&lt;script&gt;alert(4)&lt;/script&gt;");
    expect(html).toContain("acme&#39;&gt;&lt;b&gt;org&lt;/b&gt;");
    expect(html).toContain("&lt;i&gt;key&lt;/i&gt;");
    expect(html).toContain("x&lt;b&gt;.jsonl");
    expect(html).toContain("audit-log&lt;/td&gt;&lt;iframe&gt;");
  });

  it("shows invisible and bidirectional characters as issues do", () => {
    expect(html).not.toMatch(INVISIBLE);
    expect(html).toContain("<code>mallory\\u{202E}gnp.exe</code>");
    expect(html).toContain("<code>acme/evil\\u{202E}txt.exe</code>");
    expect(html).toContain("<code>acme/zero\\u{200B}width</code>");
    expect(html).toContain("<code>a\\u{2066}b\\u{2069}c\\u{0000}d</code>");
    expect(html).toContain("<code>line\\u{000A}break</code>");
    expect(html).toContain("<code>x\\u{E0041}\\u{E0042}y</code>");
    expect(html).toContain("\\u{202E}exe.txt</p>");
    expect(html).toContain("(empty)");
    expect(html).toContain('<span class="none">unknown</span>');
  });

  it("cuts long values and long evidence, and says so", () => {
    const rows = Array.from({ length: MAX_EVIDENCE_ROWS + 50 }, (_, i) => ({
      time: new Date(Date.UTC(2026, 8, 1, 0, 0, i)).toISOString(),
      source: "audit-log",
      data: { n: i, long: "y".repeat(5000) },
    }));
    const big = renderHtmlReport([{ ...HOSTILE, evidence: rows, count: rows.length }], meta);
    expect(count(big, '<tr><td class="time">')).toBe(MAX_EVIDENCE_ROWS);
    expect(big).toContain("50 earlier rows are not shown here");
    // The latest rows are the ones shown.
    expect(big).toContain(`<code>${MAX_EVIDENCE_ROWS + 49}</code>`);
    expect(big).not.toContain("<code>49</code>");
    expect(big).not.toContain("y".repeat(501));
  });

  it("says at the top when an input was not read in full", () => {
    const partial = renderHtmlReport([HOSTILE], { ...meta, problems: ["big.json.gz was read only in part: <eof>"] });
    expect(partial).toContain('<div class="incomplete" role="alert"><strong>Incomplete:</strong> 1 input was not read in full');
    expect(partial).toContain("big.json.gz was read only in part: &lt;eof&gt;");
    expect(html).not.toContain('class="incomplete"');
  });

  it("renders an empty run", () => {
    const empty = renderHtmlReport([], meta);
    expect(empty).toContain("0 findings from 5 audit events");
    expect(empty).toContain('<p class="none">No findings.</p>');
    expect(() => tags(empty)).not.toThrow();
  });
});

// --- in a real browser ------------------------------------------------------------------------------------------

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = fs.existsSync(CHROMIUM);

interface ChromiumRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function chromium(args: readonly string[], page: string): ChromiumRun {
  const r = spawnSync(
    CHROMIUM,
    [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--enable-logging=stderr",
      "--v=0",
      // A profile of its own, so runs side by side do not wait on one another's profile lock.
      `--user-data-dir=${fs.mkdtempSync(path.join(tmp, "profile-"))}`,
      ...args,
      pathToFileURL(page).href,
    ],
    { encoding: "utf8", timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/**
 * Lines where Chromium reports the page's console: `[pid:tid:time:INFO:CONSOLE:3] "Uncaught SyntaxError: …",
 * source: file:///… (3)`. Console messages, uncaught errors and Content-Security-Policy refusals all come out
 * this way; the browser's own complaints about the machine (no D-Bus, no GPU) do not.
 */
function consoleLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /:CONSOLE[:\]]|Uncaught/.test(l));
}

function screenshot(html: string, name: string): { run: ChromiumRun; png: string } {
  const page = path.join(tmp, `${name}.html`);
  fs.writeFileSync(page, html);
  const png = path.join(tmp, `${name}.png`);
  const run = chromium([`--screenshot=${png}`, "--window-size=1280,2000"], page);
  return { run, png };
}

describe("the report in Chromium", () => {
  if (!haveChromium && process.env.CI) {
    it("has Chromium to render the report (CI installs it in .ci/run)", () => {
      expect.fail(`${CHROMIUM} is missing: CI must install it (apt-get install chromium) so the report is checked in a browser`);
    });
    return;
  }
  const skipped = haveChromium ? "" : ` (skipped: ${CHROMIUM} is not installed; apt-get install chromium to run it)`;

  it.skipIf(!haveChromium)(`the console check sees console errors, uncaught errors and policy refusals${skipped}`, () => {
    // Without this, a Chromium that logged the console some other way would let every page pass.
    const bad = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'"><title>t</title></head><body><p>x</p>
<script>console.error("deliberate console error");</script>
<script>this is not javascript(</script>
<img src="https://example.invalid/x.png"></body></html>`;
    const { run } = screenshot(bad, "broken");
    expect(run.status, run.stderr).toBe(0);
    const lines = consoleLines(run.stderr);
    expect(lines.some((l) => l.includes("deliberate console error")), run.stderr).toBe(true);
    expect(lines.some((l) => l.includes("Uncaught SyntaxError")), run.stderr).toBe(true);
    expect(lines.some((l) => l.includes("Content Security Policy")), run.stderr).toBe(true);
  }, 120_000);

  it.skipIf(!haveChromium)(`renders the sample report with no console error${skipped}`, () => {
    const { run, png } = screenshot(sampleHtml, "sample");
    expect(run.signal, "Chromium timed out").toBeNull();
    expect(run.status, run.stderr).toBe(0);
    expect(consoleLines(run.stderr)).toEqual([]);
    expect(fs.existsSync(png)).toBe(true);
    const image = fs.readFileSync(png);
    expect(image.subarray(1, 4).toString("latin1")).toBe("PNG");
    // A blank 1280×2000 page compresses to about 12 KB; the report's text and bars take far more.
    expect(image.length).toBeGreaterThan(60_000);
  }, 120_000);

  it.skipIf(!haveChromium)(`parses the hostile report into no injected element${skipped}`, () => {
    const page = path.join(tmp, "hostile.html");
    fs.writeFileSync(page, renderHtmlReport([HOSTILE, ...sample.findings], { files: ["x<b>.jsonl"], events: 5, generatedAt: GENERATED_AT }));
    const run = chromium(["--dump-dom"], page);
    expect(run.status, run.stderr).toBe(0);
    expect(consoleLines(run.stderr)).toEqual([]);
    const dom = run.stdout;
    expect(dom).toContain('<section id="findings">');
    // Text and attribute values are serialized escaped, so a tag name after `<` is a real element.
    for (const el of ["script", "img", "svg", "iframe", "b", "i"]) expect(dom, el).not.toMatch(new RegExp(`<${el}[\\s>]`));
    expect(dom).toContain("mallory\\u{202E}gnp.exe");
  }, 120_000);
});
