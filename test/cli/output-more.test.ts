// What people act on: the table's order, colour and use of the terminal's width, --until, "no new findings"
// with --db, `config check`, `show`, and the progress line.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FindingOutput } from "../../src/cli/analyze.js";
import { main, Progress, PROGRESS_AFTER_MS } from "../../src/cli/main.js";
import { renderTable, tableColumns, useColor, wrap } from "../../src/cli/table.js";
import { runCli } from "../helpers/cli.js";

const ROOT = path.join(import.meta.dirname, "../..");
const JSONL = path.join(ROOT, "test/fixtures/audit-log/incident.jsonl");
const ESC = "\u001b";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-cli-output-more-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, data: string): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
}

interface TtyRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with standard output (and optionally standard error) posing as a terminal. */
async function runTty(args: string[], opts: { columns?: number; env?: NodeJS.ProcessEnv; stdoutTty?: boolean; stderrTty?: boolean } = {}): Promise<TtyRun> {
  const out = Object.assign(new PassThrough(), { isTTY: opts.stdoutTty ?? true, columns: opts.columns });
  const err = Object.assign(new PassThrough(), { isTTY: opts.stderrTty ?? false });
  let stdout = "";
  let stderr = "";
  out.on("data", (c: Buffer) => (stdout += c.toString()));
  err.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await main(args, { stdout: out, stderr: err, env: opts.env ?? {} });
  return { code, stdout, stderr };
}

function finding(over: Partial<FindingOutput>): FindingOutput {
  return {
    detector: "repo-made-public",
    severity: "high",
    summary: "acme/payments was made public (was private)",
    actor: "mallory",
    orgs: ["acme"],
    repos: ["acme/payments"],
    first_seen: "2026-10-02T10:20:00.000Z",
    last_seen: "2026-10-02T10:20:00.000Z",
    count: 1,
    evidence: [],
    fingerprint: "repo-made-public:acme/payments",
    scope: "org:acme",
    ...over,
  };
}

const SEVERITY_WORDS = /^(CRITICAL|HIGH|MEDIUM|LOW) /;
const rowsOf = (table: string) => table.split("\n").filter((l) => SEVERITY_WORDS.test(l));

describe("analyze --format table: order", () => {
  it("lists the most severe first, then by first seen", () => {
    const table = renderTable([
      finding({ severity: "low", summary: "low early", first_seen: "2026-10-01T00:00:00.000Z" }),
      finding({ severity: "high", summary: "high late", first_seen: "2026-10-03T00:00:00.000Z" }),
      finding({ severity: "critical", summary: "critical late", first_seen: "2026-10-04T00:00:00.000Z" }),
      finding({ severity: "high", summary: "high early", first_seen: "2026-10-02T00:00:00.000Z" }),
      finding({ severity: "medium", summary: "medium", first_seen: "2026-10-01T00:00:00.000Z" }),
    ]);
    expect(rowsOf(table).map((l) => l.slice(l.lastIndexOf("  ") + 2))).toEqual(["critical late", "high early", "high late", "medium", "low early"]);
  });

  it("puts the fixture's critical transfer above its earlier high findings", async () => {
    const r = await runCli(["analyze", JSONL, "--format", "table"]);
    const rows = rowsOf(r.stdout);
    expect(rows[0]).toMatch(/^CRITICAL +repo-transferred /);
    expect(rows.slice(1).every((l) => !l.startsWith("CRITICAL"))).toBe(true);
    // The JSON lines keep the order of time: only the table is sorted by severity.
    const json = await runCli(["analyze", JSONL, "--format", "json"]);
    expect(json.findings.at(-1)?.detector).toBe("repo-transferred");
  });

  it("right-aligns COUNT, the number of events in the finding", () => {
    const [header, a, b] = renderTable([finding({ count: 12 }), finding({ count: 3 })]).split("\n");
    const end = header!.indexOf("COUNT") + "COUNT".length;
    expect(a!.slice(end - 2, end)).toBe("12");
    expect(b!.slice(end - 2, end)).toBe(" 3");
  });
});

describe("analyze --format table: colour", () => {
  it("colours the severity word on a terminal", async () => {
    const r = await runTty(["analyze", JSONL, "--format", "table"], { columns: 200 });
    expect(r.stdout).toContain(`${ESC}[1;31mCRITICAL${ESC}[0m`);
    expect(r.stdout).toContain(`${ESC}[31mHIGH${ESC}[0m`);
    // Only the severity word: nothing else on the line is wrapped in codes.
    for (const line of r.stdout.split("\n").slice(1)) {
      const coloured = line.startsWith(ESC) ? line.indexOf(`${ESC}[0m`) + 4 : 0;
      expect(line.slice(coloured)).not.toContain(ESC);
    }
  });

  it.each<[string, { env: NodeJS.ProcessEnv; stdoutTty: boolean }]>([
    ["NO_COLOR is set", { env: { NO_COLOR: "1" }, stdoutTty: true }],
    ["TERM is dumb", { env: { TERM: "dumb" }, stdoutTty: true }],
    ["the output is not a terminal", { env: {}, stdoutTty: false }],
  ])("writes no escape code when %s", async (_what, opts) => {
    const r = await runTty(["analyze", JSONL, "--format", "table"], { columns: 200, ...opts });
    expect(r.code).toBe(0);
    expect(rowsOf(r.stdout).length).toBeGreaterThan(3);
    expect(r.stdout + r.stderr).not.toContain(ESC);
  });

  it("follows the NO_COLOR convention: set and not empty", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: "0" })).toBe(false);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({}, {})).toBe(false);
  });
});

describe("analyze --format table: width", () => {
  const fixtureSummaries = async () => (await runCli(["analyze", JSONL, "--format", "json"])).findings.map((f) => f.summary);
  /** Every word of every summary, in order, from the table's text (wrapped lines rejoined). */
  const words = (text: string) => text.split(/\s+/).filter((w) => w !== "");

  it("gives the summary the width the other columns leave, wrapped, never cut", async () => {
    const summaries = await fixtureSummaries();
    const r = await runTty(["analyze", JSONL, "--format", "table"], { columns: 150, env: { NO_COLOR: "1" } });
    const lines = r.stdout.trimEnd().split("\n");
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(150);
    expect(r.stdout).not.toContain("…");
    const start = lines[0]!.indexOf("SUMMARY");
    expect(start).toBeGreaterThan(100);
    const summaryText = lines.map((l) => l.slice(start)).join(" ");
    const all = words(summaryText).join(" ");
    for (const s of summaries) expect(all).toContain(words(s).join(" "));
    // The longest summary needed more than one line here.
    expect(lines.length).toBeGreaterThan(summaries.length + 1);
  });

  it("uses a wider terminal for longer summary lines", async () => {
    const narrow = await runTty(["analyze", JSONL, "--format", "table"], { columns: 150, env: { NO_COLOR: "1" } });
    const wide = await runTty(["analyze", JSONL, "--format", "table"], { columns: 250, env: { NO_COLOR: "1" } });
    const summaries = await fixtureSummaries();
    expect(wide.stdout.trimEnd().split("\n")).toHaveLength(summaries.length + 1);
    expect(narrow.stdout.length).toBeGreaterThan(0);
    for (const s of summaries) expect(wide.stdout).toContain(s);
  });

  it("puts each summary on lines of its own when the row leaves too little room", async () => {
    const summaries = await fixtureSummaries();
    const r = await runTty(["analyze", JSONL, "--format", "table"], { columns: 110, env: { NO_COLOR: "1" } });
    const lines = r.stdout.trimEnd().split("\n");
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(110);
    expect(lines[0]).toMatch(/LAST SEEN \(UTC\)$/);
    expect(lines[1]).toBe("          SUMMARY");
    const below = lines.filter((l) => l.startsWith("          ") && !SEVERITY_WORDS.test(l)).join(" ");
    for (const s of summaries) expect(words(below).join(" ")).toContain(words(s).join(" "));
  });

  it("keeps one whole line per finding when the output is not a terminal", async () => {
    const summaries = await fixtureSummaries();
    const r = await runCli(["analyze", JSONL, "--format", "table"]);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(summaries.length + 1);
    for (const s of summaries) expect(r.stdout).toContain(`  ${s}\n`);
  });

  it("takes the width from the terminal, else COLUMNS, else 80 on a terminal and no limit elsewhere", () => {
    expect(tableColumns({ isTTY: true, columns: 132 }, { COLUMNS: "90" })).toBe(132);
    expect(tableColumns({ isTTY: true }, { COLUMNS: "90" })).toBe(90);
    expect(tableColumns({ isTTY: true }, {})).toBe(80);
    expect(tableColumns({ isTTY: false }, {})).toBeUndefined();
    expect(tableColumns({ isTTY: false }, { COLUMNS: "100" })).toBe(100);
    expect(tableColumns({ isTTY: false }, { COLUMNS: "wide" })).toBeUndefined();
  });

  it("wraps at spaces, splits a long word without cutting an escape, and stops after a few lines", () => {
    expect(wrap("aaaa bbbb cccc dddd eeee", 14)).toEqual(["aaaa bbbb cccc", "dddd eeee"]);
    const escaped = `x${"\\u{202E}".repeat(6)}`;
    const pieces = wrap(escaped, 12);
    expect(pieces.length).toBeGreaterThan(1);
    for (const line of pieces) expect(line).toMatch(/^(x|\\u\{202E\})+…?$/);
    const long = wrap("word ".repeat(100), 20);
    expect(long).toHaveLength(4);
    expect(long[3]!.endsWith("…")).toBe(true);
  });
});

describe("analyze --until", () => {
  // The fixture's repo made public is at exactly 2026-10-02T10:20:00Z.
  const publicAt = "2026-10-02T10:20:00Z";
  const has = (fs_: FindingOutput[], d: string) => fs_.some((f) => f.detector === d);

  it("is exclusive, where --since is inclusive", async () => {
    const until = await runCli(["analyze", JSONL, "--until", publicAt]);
    expect(until.code).toBe(0);
    expect(has(until.findings, "repo-made-public")).toBe(false);
    expect(until.findings.every((f) => f.last_seen < "2026-10-02T10:20:00.000Z")).toBe(true);
    expect(until.stderr).toMatch(/\d+ at or after --until skipped/);

    expect(has((await runCli(["analyze", JSONL, "--until", "2026-10-02T10:20:01Z"])).findings, "repo-made-public")).toBe(true);
    expect(has((await runCli(["analyze", JSONL, "--since", publicAt])).findings, "repo-made-public")).toBe(true);
  });

  it("with --since makes a range", async () => {
    const r = await runCli(["analyze", JSONL, "--since", "2026-10-02T10:15:00Z", "--until", "2026-10-02T10:21:00Z"]);
    expect(r.code).toBe(0);
    expect(r.findings.map((f) => f.detector).sort()).toEqual(["deploy-key-added", "repo-made-public"]);
    expect(r.stderr).toContain("before --since skipped");
    expect(r.stderr).toContain("at or after --until skipped");
  });

  it("reads a date alone as the start of that day", async () => {
    expect((await runCli(["analyze", JSONL, "--until", "2026-10-02"])).findings).toEqual([]);
    expect((await runCli(["analyze", JSONL, "--until", "2026-10-03"])).findings.length).toBeGreaterThan(3);
  });

  it.each([
    [["--until", "tomorrow"], "--until wants an ISO 8601 date"],
    [["--since", "2026-10-02", "--until", "2026-10-01"], "--until (2026-10-01T00:00:00.000Z) must be after --since (2026-10-02T00:00:00.000Z)"],
    [["--since", publicAt, "--until", publicAt], "must be after --since"],
  ])("is a usage error for %j", async (args, message) => {
    const r = await runCli(["analyze", JSONL, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });
});

describe("analyze --db: no new findings", () => {
  it("says nothing is new when the database holds findings from an earlier run", async () => {
    const db = path.join(tmp, "again", "exfil.db");
    fs.mkdirSync(path.dirname(db), { recursive: true });
    const first = await runCli(["analyze", JSONL, "--db", db, "--format", "table"]);
    expect(first.code).toBe(0);
    const n = rowsOf(first.stdout).length;
    expect(n).toBeGreaterThan(3);

    const again = await runCli(["analyze", JSONL, "--db", db, "--format", "table"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(
      `No new findings since the last run: the ${n} findings in ${db} are from earlier runs (\`exfil-monitor show FINGERPRINT --db ${db}\` shows one).\n`,
    );
    expect(again.stderr).toContain(`no new findings (${n} findings from earlier runs in the database)`);

    const json = await runCli(["analyze", JSONL, "--db", db, "--format", "json"]);
    expect(json.stdout).toBe("");
    expect(json.stderr).toContain("no new findings");
  });

  it("says no findings when nothing was ever found", async () => {
    const db = path.join(tmp, "quiet.db");
    const benign = write("benign.jsonl", `${fs.readFileSync(JSONL, "utf8").split("\n")[0]}\n`);
    for (let run = 0; run < 2; run++) {
      const r = await runCli(["analyze", benign, "--db", db, "--format", "table"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("No findings.\n");
      expect(r.stderr).toContain("0 findings");
      expect(r.stderr).not.toContain("no new findings");
    }
  });
});

describe("exfil-monitor config check", () => {
  it("is 0 for a valid file and names what it turns off", async () => {
    // A lower threshold reports more: nothing to warn about.
    const ok = write("ok.yml", "detectors:\n  mass-clone:\n    high_more_than_repos: 3\n");
    const r = await runCli(["config", "check", ok]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${ok}: valid.\n`);

    const off = write("off.yml", "detectors:\n  mass-clone:\n    enabled: false\n");
    const weaker = await runCli(["config", "check", off]);
    expect(weaker.code).toBe(0);
    expect(weaker.stdout).toContain(`${off}: valid.\nCompared with the defaults, it watches less`);
    expect(weaker.stdout).toContain("detectors.mass-clone.enabled");

    const empty = write("empty.yml", "# all defaults\n");
    expect((await runCli(["config", "check", empty])).code).toBe(0);
  });

  it("is 1 for a file with problems, each with its line and key path", async () => {
    const bad = write("bad.yml", "detectors:\n  mass-clone:\n    high_more_than_repos: many\n  no-such-detector: {}\n");
    const r = await runCli(["config", "check", bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${bad}:3: detectors.mass-clone.high_more_than_repos: `);
    expect(r.stdout).toContain(`${bad}:4: detectors.no-such-detector: `);
    expect(r.stdout).toContain(`${bad}: 2 problems. The app would not use this file`);
  });

  it("applies the app's limits and, with --org, its allowlist checks", async () => {
    const big = write("big.yml", `# ${"x".repeat(300 * 1024)}\n`);
    const r = await runCli(["config", "check", big]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("exfil-monitor reads at most 256 KB");

    const broad = write("broad.yml", "allow:\n  repos: ['acme/*']\n");
    expect((await runCli(["config", "check", broad])).code).toBe(0);
    const withOrg = await runCli(["config", "check", broad, "--org", "acme"]);
    expect(withOrg.code).toBe(1);
    expect(withOrg.stdout).toContain(`${broad}:2: allow.repos[0]: `);
  });

  it.each([
    [["config", "check", "/nonexistent/exfil-monitor.yml"], "cannot read the config file /nonexistent/exfil-monitor.yml: no such file"],
    [["config", "check"], "config check needs exactly one FILE"],
    [["config", "lint", "x.yml"], 'unknown config subcommand "lint"'],
    [["config"], "config needs a subcommand"],
    [["config", "check", "a.yml", "--org", "not a login"], "--org wants an organization login"],
  ])("is 2 for %j", async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe("");
  });

  it("is 2 for a directory", async () => {
    const r = await runCli(["config", "check", tmp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("it is not a file");
  });
});

describe("exfil-monitor show", () => {
  let db: string;
  beforeAll(async () => {
    db = path.join(tmp, "show.db");
    expect((await runCli(["analyze", JSONL, "--db", db])).code).toBe(0);
  });

  it("prints the issue the app would file, next steps included", async () => {
    const r = await runCli(["show", "repo-made-public:acme/payments", "--db", db]);
    expect(r.code).toBe(0);
    const [title, labels] = r.stdout.split("\n");
    expect(title).toBe("[HIGH] acme/payments was made public (was private)");
    expect(labels).toBe("Labels: exfil-monitor, severity:high, detector:repo-made-public");
    for (const section of ["## What happened", "## Evidence", "## Warning sign", "## Why this severity", "## Next steps", "## Tuning"]) {
      expect(r.stdout).toContain(`\n${section}\n`);
    }
    expect(r.stdout).toMatch(/\n- \[ \] \S/);
    expect(r.stdout).toContain("| **Who** | `mallory` |");
  });

  it("renders with --config's alert settings", async () => {
    const config = write("alerts.yml", "alerts:\n  mention: ['@acme/security']\n  labels: [incident]\n");
    const r = await runCli(["show", "repo-made-public:acme/payments", "--db", db, "--config", config]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Labels: exfil-monitor, severity:high, detector:repo-made-public, incident");
    expect(r.stdout.trimEnd().endsWith("cc @acme/security")).toBe(true);
  });

  it("is 1 for a fingerprint the database does not hold, suggesting near ones", async () => {
    const r = await runCli(["show", "repo-made-public:acme/nope", "--db", db]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^exfil-monitor: no finding with the fingerprint "repo-made-public:acme\/nope" in \S+ \(\d+ findings there\)\./);

    const near = await runCli(["show", "acme/payments", "--db", db]);
    expect(near.code).toBe(1);
    expect(near.stderr).toContain('Fingerprints that contain it: ');
    expect(near.stderr).toContain('"repo-made-public:acme/payments"');

    const scoped = await runCli(["show", "repo-made-public:acme/payments", "--db", db, "--scope", "org:other"]);
    expect(scoped.code).toBe(1);
    expect(scoped.stderr).toContain('in the scope "org:other"');
  });

  it.each([
    [["show", "repo-made-public:acme/payments"], "show needs --db FILE"],
    [["show", "--db", "x.db"], "show needs exactly one FINGERPRINT"],
  ])("is 2 for %j", async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("is 2 for a database that does not exist, and does not create it", async () => {
    const missing = path.join(tmp, "missing.db");
    const r = await runCli(["show", "repo-made-public:acme/payments", "--db", missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot read the database ${missing}: no such file`);
    expect(fs.existsSync(missing)).toBe(false);
  });
});

describe("progress line", () => {
  it("is drawn on a terminal only once a run has taken a while, and cleared", () => {
    let now = 0;
    let text = "";
    const out = new PassThrough();
    out.on("data", (c: Buffer) => (text += c.toString()));
    const p = new Progress(out, () => now);
    p.update("a: 10 events");
    now = PROGRESS_AFTER_MS - 1;
    p.update("a: 20 events");
    expect(text).toBe("");
    now = PROGRESS_AFTER_MS;
    p.update("a: 30 events");
    now += 100;
    p.update("a: 40 events");
    expect(text).toBe(`\r${ESC}[Ka: 30 events`);
    p.clear();
    expect(text.endsWith(`\r${ESC}[K`)).toBe(true);
  });

  it("writes nothing to standard error that is not a terminal, nor for a short run on one", async () => {
    const plain = await runCli(["analyze", JSONL]);
    expect(plain.stderr).not.toContain("\r");
    expect(plain.stderr).not.toContain(ESC);
    const tty = await runTty(["analyze", JSONL, "--format", "json"], { stdoutTty: false, stderrTty: true });
    expect(tty.code).toBe(0);
    expect(tty.stderr).not.toContain("\r");
    expect(tty.stderr).not.toContain(ESC);
  });
});

describe("analyze --format html", () => {
  it("writes one self-contained page with the findings the other formats give", async () => {
    const sample = path.join(import.meta.dirname, "../../samples/audit-log.jsonl");
    const json = await runCli(["analyze", sample, "--format", "json"]);
    const html = await runCli(["analyze", sample, "--format", "html"]);
    expect(html.code).toBe(0);
    expect(html.stdout.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html.stdout).toContain("Content-Security-Policy");
    for (const f of json.findings) expect(html.stdout).toContain(f.fingerprint);
    expect((await runCli(["analyze", sample, "--format", "xml"])).code).toBe(2);
  });
});
