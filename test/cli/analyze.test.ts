import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeFiles, type FindingOutput } from "../../src/cli/analyze.js";
import { main, parseSince, renderTable } from "../../src/cli/main.js";
import { runCli, type CliRun } from "../helpers/cli.js";

const ROOT = path.join(import.meta.dirname, "../..");
const FIXTURES = path.join(ROOT, "test/fixtures/audit-log");
const JSONL = path.join(FIXTURES, "incident.jsonl");
const ARRAY = path.join(FIXTURES, "incident.json");
const CSV = path.join(FIXTURES, "incident.csv");

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-cli-test-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Run = CliRun;
const cli = runCli;

const lines = () => fs.readFileSync(JSONL, "utf8").trimEnd().split("\n");

function write(name: string, data: string | Buffer): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
}

const detectors = (fs_: FindingOutput[]) => fs_.map((f) => f.detector).sort();

describe("exfil-monitor analyze", () => {
  let reference: Run;
  beforeAll(async () => {
    reference = await cli(["analyze", JSONL]);
  });

  it("finds the incidents in the JSON-lines fixture and nothing for bots or anonymous clones", () => {
    expect(reference.code).toBe(0);
    // Each incident written into the fixture, found through the audit-log converter; the detectors' own
    // tests pin their severities and wording.
    const found = reference.findings.map((f) => `${f.detector} ${f.actor ?? "-"} ${f.repos.join(",")}`);
    expect(found).toEqual(
      expect.arrayContaining([
        "credential-added mallory acme/api,acme/auth,acme/billing,acme/infra,acme/mobile,acme/payments,acme/search",
        "mass-clone mallory acme/api,acme/auth,acme/billing,acme/infra,acme/mobile,acme/payments,acme/search",
        "deploy-key-added bob acme/infra",
        "repo-made-public mallory acme/payments",
        "monitoring-tampered mallory acme/billing",
        "repo-transferred mallory acme/payments-legacy",
      ]),
    );
    expect(found.some((f) => f.startsWith("multi-country mallory "))).toBe(true);
    for (const f of reference.findings) {
      // The CI bot's eight clones and the anonymous clone of a public repository are not incidents.
      expect(f.actor).not.toBe("github-actions[bot]");
      expect(f.repos).not.toContain("acme/docs");
    }
    expect(reference.stderr).toContain(`${reference.findings.length} findings`);
    expect(reference.stderr).toContain("from 23 events in 1 file");
  });

  it("prints one JSON object per finding with the documented fields", () => {
    const f = reference.findings.find((x) => x.detector === "repo-made-public")!;
    expect(f).toEqual({
      detector: "repo-made-public",
      severity: "high",
      summary: "acme/payments was made public (was private)",
      actor: "mallory",
      orgs: ["acme"],
      repos: ["acme/payments"],
      first_seen: "2026-10-02T10:20:00.000Z",
      last_seen: "2026-10-02T10:20:00.000Z",
      count: 1,
      evidence: [{ time: "2026-10-02T10:20:00.000Z", source: "audit-log", data: expect.any(Object) }],
      fingerprint: "repo-made-public:acme/payments",
      scope: "business:acme-corp",
    });
    const burst = reference.findings.find((x) => x.detector === "mass-clone")!;
    expect(burst.repos).toEqual(["acme/api", "acme/auth", "acme/billing", "acme/infra", "acme/mobile", "acme/payments", "acme/search"]);
    expect(burst.evidence.length).toBe(burst.count);
  });

  it("gives the same findings for the JSON array, the CSV, gzip of each, standard input and a directory", async () => {
    const gzJsonl = write("stream/2026/10/02/10/00/a.json.log.gz", gzipSync(fs.readFileSync(JSONL)));
    const gzArray = write("export.json.gz", gzipSync(fs.readFileSync(ARRAY)));
    const gzCsv = write("export.csv.gz", gzipSync(fs.readFileSync(CSV)));
    for (const file of [ARRAY, CSV, gzJsonl, gzArray, gzCsv, path.join(tmp, "stream")]) {
      const r = await cli(["analyze", file]);
      expect({ file, code: r.code, stdout: r.stdout }).toEqual({ file, code: 0, stdout: reference.stdout });
    }
    const piped = await cli(["analyze", "-"], fs.readFileSync(JSONL));
    expect(piped.stdout).toBe(reference.stdout);
    const pipedGz = await cli(["analyze", "-"], gzipSync(fs.readFileSync(CSV)));
    expect(pipedGz.stdout).toBe(reference.stdout);
  });

  it("carries detector windows from one file to the next and drops duplicates across files", async () => {
    const all = lines();
    const a = write("split/1.jsonl", all.slice(0, 15).join("\n") + "\n");
    const b = write("split/2.jsonl", all.slice(12).join("\n") + "\n");
    const r = await cli(["analyze", a, b]);
    expect(r.stdout).toBe(reference.stdout);
    expect(r.stderr).toContain("3 duplicates ignored");
  });

  it("reports bad lines with their numbers and still finds everything", async () => {
    const all = lines();
    const dirty = [all[0], "{oops", ...all.slice(1, 10), "[]", '{"actor":"x"}', ...all.slice(10), '{"action":"git.clone"}', ""].join("\n");
    const file = write("dirty.jsonl", dirty);
    const r = await cli(["analyze", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(reference.stdout);
    expect(r.stderr).toContain("4 lines were not audit events and were skipped");
    expect(r.stderr).toContain(`${file}:2 (invalid JSON`);
    expect(r.stderr).toContain(`${file}:12 (not a JSON object)`);
    expect(r.stderr).toContain(`${file}:13 (no \`action\` field`);
    expect(r.stderr).toContain(`${file}:27 (no usable time`);
  });

  it("warns when a file lists the newest entries first (the API's default order)", async () => {
    const reversed = write("desc.jsonl", lines().reverse().join("\n"));
    const r = await cli(["analyze", reversed]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${reversed} lists the newest entries first`);
    expect(reference.stderr).not.toContain("newest entries first");
  });

  it("skips entries before --since", async () => {
    const r = await cli(["analyze", JSONL, "--since", "2026-10-02T10:15:00Z"]);
    expect(detectors(r.findings)).toEqual(expect.arrayContaining(["deploy-key-added", "monitoring-tampered", "repo-made-public", "repo-transferred"]));
    expect(detectors(r.findings)).not.toContain("mass-clone");
    expect(r.findings.every((f) => f.first_seen >= "2026-10-02T10:15:00.000Z")).toBe(true);
    expect(r.stderr).toContain("19 before --since skipped");
  });

  it("keeps events, findings and windows in --db so that a second run continues", async () => {
    const db = path.join(tmp, "state", "exfil.db");
    const all = lines();
    // The clone burst is split: the new key and two clones in the first run, the rest in the second.
    const first = write("runs/first.jsonl", all.slice(0, 14).join("\n"));
    const second = write("runs/second.jsonl", all.slice(14).join("\n"));
    const r1 = await cli(["analyze", first, "--db", db]);
    expect(r1.code).toBe(0);
    expect(detectors(r1.findings)).toEqual(["credential-added"]);
    expect(r1.findings[0]?.severity).toBe("low");
    expect(fs.existsSync(db)).toBe(true);

    const r2 = await cli(["analyze", second, "--db", db]);
    expect(detectors(r2.findings)).toContain("mass-clone");
    const raised = r2.findings.find((f) => f.detector === "credential-added" && f.actor === "mallory");
    expect(raised?.severity).toBe("high");
    const burst = r2.findings.find((f) => f.detector === "mass-clone")!;
    expect(burst.first_seen).toBe(reference.findings.find((f) => f.detector === "mass-clone")!.first_seen);

    // The same file again: every event is already stored, so nothing is new.
    const r3 = await cli(["analyze", second, "--db", db]);
    expect(r3.findings).toEqual([]);
    expect(r3.stderr).toContain("9 duplicates ignored");
  });

  it("reads thresholds and allowlists from --config", async () => {
    const config = write("exfil-monitor.yml", "detectors:\n  mass-clone:\n    enabled: false\nallow:\n  repos: [payments]\n");
    const r = await cli(["analyze", JSONL, "--config", config]);
    expect(r.code).toBe(0);
    expect(detectors(r.findings)).not.toContain("mass-clone");
    expect(detectors(r.findings)).not.toContain("repo-made-public");
    expect(detectors(r.findings)).toContain("repo-transferred");
  });

  it("writes an aligned table with attacker-chosen text made harmless", async () => {
    const hostile = JSON.stringify({
      "@timestamp": Date.UTC(2026, 9, 2, 10),
      action: "repo.access",
      actor: "mallory",
      org: "acme",
      repo: "acme/pay\u001b[2J\u001b]0;owned\u0007ments",
      previous_visibility: "private",
      visibility: "public",
    });
    const r = await cli(["analyze", "-", "--format", "table"], hostile);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\u001b");
    expect(r.stdout).not.toContain("\u0007");
    expect(r.stdout).toContain("\\u{001B}[2J");
    const [header, row] = r.stdout.split("\n");
    expect(header).toMatch(/^SEVERITY +DETECTOR +ORGS +ACTOR +REPOS +COUNT +FIRST SEEN \(UTC\) +LAST SEEN \(UTC\) +SUMMARY$/);
    expect(row!.indexOf("repo-made-public")).toBe(header!.indexOf("DETECTOR"));
    expect(renderTable([])).toBe("No findings.\n");
  });

  describe("exit codes", () => {
    it("is 1 when --fail-on meets a finding, 0 when none is that severe", async () => {
      expect((await cli(["analyze", JSONL, "--fail-on", "critical"])).code).toBe(1);
      expect((await cli(["analyze", JSONL, "--fail-on", "HIGH"])).code).toBe(1);
      expect((await cli(["analyze", JSONL, "--fail-on", "critical", "--since", "2026-10-02T10:31:00Z"])).code).toBe(0);
      // Without --fail-on findings alone never fail the run.
      expect((await cli(["analyze", JSONL])).code).toBe(0);
    });

    it.each([
      [["analyze"], "at least one FILE"],
      [["analyze", JSONL, "--format", "xml"], "--format must be table, json or html"],
      [["analyze", JSONL, "--fail-on", "severe"], "--fail-on must be one of low, medium, high, critical"],
      [["analyze", JSONL, "--since", "last tuesday"], "--since wants an ISO 8601 date"],
      [["analyze", JSONL, "--nope"], "Unknown option '--nope'"],
      [["scan"], 'unknown command "scan"'],
      [["analyze", "/nonexistent/audit.jsonl"], "cannot read /nonexistent/audit.jsonl: no such file"],
      [["analyze", JSONL, "--config", "/nonexistent.yml"], "cannot read the config file /nonexistent.yml: no such file"],
    ])("is 2 for %j with a one-line reason", async (args, message) => {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
    });

    it("is 2 for - when standard input is a terminal, instead of waiting for typing", async () => {
      const tty = Object.assign(Readable.from([]), { isTTY: true });
      const err = new PassThrough();
      let stderr = "";
      err.on("data", (c: Buffer) => (stderr += c.toString()));
      expect(await main(["analyze", "-"], { stdout: new PassThrough(), stderr: err, stdin: tty })).toBe(2);
      expect(stderr).toContain("standard input, which is a terminal");
    });

    it("is 2 for a config file with problems, naming the key and line", async () => {
      const bad = write("bad.yml", "detectors:\n  mass-clone:\n    high_more_than_repos: many\n");
      const r = await cli(["analyze", JSONL, "--config", bad]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${bad}:3: detectors.mass-clone.high_more_than_repos`);
    });

    it("is 0 for --help, which lists every option", async () => {
      const r = await cli(["analyze", "--help"]);
      expect(r.code).toBe(0);
      for (const opt of ["--format", "--config", "--db", "--since", "--fail-on"]) expect(r.stdout).toContain(opt);
      expect((await cli(["--help"])).code).toBe(0);
      expect((await cli([])).code).toBe(2);
    });

    it("is 2 for a file that breaks half-way: says how far it got, reads the next file, marks the result incomplete", async () => {
      const gz = gzipSync(fs.readFileSync(JSONL));
      const truncated = write("truncated.jsonl.gz", gz.subarray(0, gz.length - 30));
      const r = await cli(["analyze", truncated, CSV, "--fail-on", "low"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `exfil-monitor: ${truncated} was read only in part: reading stopped at line 23, after 22 audit entries: not a valid gzip stream (unexpected end of file); the rest of the file is not in this result\n`,
      );
      expect(r.stderr).toMatch(/\nexfil-monitor: INCOMPLETE: 1 file of 2 was not read in full \(above\); the findings cover only what was read\.\n$/);
      // What was read is still shown: the findings are real.
      expect(detectors(r.findings)).toEqual(detectors(reference.findings));
    });

    it("is 2 when reading fails with an I/O error part-way, with the entries before it counted", async () => {
      const head = `${lines().slice(0, 10).join("\n")}\n`;
      const stdin = new Readable({ read() {} });
      stdin.push(head);
      setImmediate(() => stdin.destroy(Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" })));
      const out = new PassThrough();
      const err = new PassThrough();
      let stderr = "";
      err.on("data", (c: Buffer) => (stderr += c.toString()));
      expect(await main(["analyze", "-", "--fail-on", "low"], { stdout: out, stderr: err, stdin })).toBe(2);
      expect(stderr).toContain("exfil-monitor: standard input was read only in part: reading stopped at line 11, after 10 audit entries: EIO: i/o error, read;");
      expect(stderr).toContain("INCOMPLETE: 1 file of 1");
    });

    it("is 2 for a JSON array whose structure breaks mid-file, with the entries before it counted", async () => {
      const entries = lines().map((l) => JSON.parse(l) as unknown);
      const text = `[\n${entries.slice(0, 10).map((e) => JSON.stringify(e)).join(",\n")}\n]}\n${entries.slice(10).map((e) => JSON.stringify(e)).join(",\n")}\n]\n`;
      const file = write("broken.json", text);
      const r = await cli(["analyze", file, "--format", "table"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${file} was read only in part: reading stopped at line 12, after 10 audit entries: the JSON structure is broken: an unexpected '}'`);
      expect(r.stderr).toContain("INCOMPLETE");
      expect(r.stdout).not.toContain("No findings.");
    });

    // Each of these once ended in "0 findings" and exit 0, which passes a scheduled job forever.
    const jsonl = fs.readFileSync(JSONL, "utf8");
    it.each<[string, string | Buffer, RegExp]>([
      ["an empty file", "", /^\S+ has no audit entries: it is empty$/],
      ["white space only", " \r\n\n", /^\S+ has no audit entries: it is empty$/],
      ["an empty gzip", gzipSync(""), /^\S+ has no audit entries: it is empty once gunzipped$/],
      ["one byte of text", "x", /^cannot read \S+: read as CSV \(it does not start with \[ or \{\), but its first line has no `action` column, so it is not an audit-log export \(first line: "x"\)$/],
      ["one byte {", "{", /^cannot read \S+: the file ends in the middle of a JSON value \(cut short\?\)$/],
      ["one byte [", "[", /^cannot read \S+: the file ends before the JSON array is closed \(cut short\?\)$/],
      ["UTF-16 JSON lines without a byte-order mark", Buffer.from(jsonl, "utf16le"), /^cannot read \S+: the file looks like UTF-16LE text without a byte-order mark/],
      ["a gzip cut in its first block", gzipSync(jsonl).subarray(0, 40), /^cannot read \S+: not a valid gzip stream \(unexpected end of file\)$/],
      [
        "JSON objects with no audit fields",
        '{"name":"alice","email":"a@example.com"}\n{"name":"bob"}\n',
        /^\S+ has no audit entries: it was read as JSON lines, and none of its 2 values is an audit event \(line 1: no `action` field: not an audit event\)$/,
      ],
      ["an empty JSON array", "[]\n", /^\S+ has no audit entries: it was read as a JSON array with nothing in it$/],
      ["a CSV header and nothing else", "@timestamp,action,actor\n", /^\S+ has no audit entries: it holds a CSV header row and nothing else$/],
      [
        "entries whose times are all unreadable",
        '{"action":"git.clone","@timestamp":"yesterday"}\n',
        /^\S+ has no audit entries: .*\(line 1: no usable time: `@timestamp` "yesterday" is in none of the forms read: ISO 8601/,
      ],
      ["binary data", Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256)), /^cannot read \S+: the file holds binary data \(NUL bytes\)/],
    ])("is 2 for %s, with one line naming the file and the reason, even with --fail-on low", async (what, data, reason) => {
      const file = write(`unreadable/${what.replace(/\W+/g, "-")}.log`, data);
      const r = await cli(["analyze", file, "--fail-on", "low", "--format", "table"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const out = r.stderr.split("\n").filter((l) => l !== "");
      expect(out).toHaveLength(1);
      const line = out[0]!.replace(/^exfil-monitor: /, "");
      expect(line).toMatch(reason);
      expect(line).toContain(file);
    });

    it("is 2 for a CSV with prototype-reaching headers, which leaves Object.prototype untouched", async () => {
      const before = Object.getOwnPropertyNames(Object.prototype);
      for (const header of ["__proto__.polluted", "constructor.prototype.polluted", "__proto__", "prototype"]) {
        const file = write("proto.csv", `@timestamp,action,${header}\n1790935200000,repo.access,yes\n`);
        const r = await cli(["analyze", file]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`cannot read ${file}: CSV column 3 is named ${JSON.stringify(header)}`);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(before);
    });

    it("names each unreadable file among several, and still shows the findings of the others", async () => {
      const empty = write("several/empty.jsonl", "");
      const notAudit = write("several/people.jsonl", '{"name":"alice"}\n');
      const utf16 = write("several/utf16.jsonl", Buffer.from(jsonl, "utf16le"));
      const r = await cli(["analyze", empty, JSONL, notAudit, utf16, "--fail-on", "low"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe(reference.stdout);
      expect(r.stderr).toContain(`exfil-monitor: ${empty} has no audit entries: it is empty\n`);
      expect(r.stderr).toContain(`exfil-monitor: ${notAudit} has no audit entries`);
      expect(r.stderr).toContain(`exfil-monitor: cannot read ${utf16}: the file looks like UTF-16LE`);
      expect(r.stderr).toContain("exfil-monitor: INCOMPLETE: 3 files of 4 were not read in full");
    });

    it("is 2 naming every path that does not exist, before reading anything", async () => {
      const r = await cli(["analyze", "/nonexistent/a.jsonl", JSONL, "/nonexistent/b.jsonl"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("exfil-monitor: cannot read /nonexistent/a.jsonl: no such file; cannot read /nonexistent/b.jsonl: no such file\n");
    });
  });

  describe("encodings", () => {
    const swap = (b: Buffer) => Buffer.from(b).swap16();
    it.each([
      ["JSON lines", JSONL],
      ["a JSON array", ARRAY],
      ["CSV", CSV],
    ])("finds the same in %s written as UTF-16 LE or BE with a byte-order mark (PowerShell's >)", async (_what, source) => {
      const text = `\uFEFF${fs.readFileSync(source, "utf8").replace(/\r?\n/g, "\r\n")}`;
      const le = write(`utf16/${path.basename(source)}.le`, Buffer.from(text, "utf16le"));
      const be = write(`utf16/${path.basename(source)}.be`, swap(Buffer.from(text, "utf16le")));
      for (const file of [le, be]) {
        const r = await cli(["analyze", file]);
        expect({ file, code: r.code, stdout: r.stdout }).toEqual({ file, code: 0, stdout: reference.stdout });
      }
    });
  });

  describe("time", () => {
    const saved = process.env.TZ;
    afterAll(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    /** `ms` as a US spreadsheet writes it, in UTC: 10/02/2026 10:20:00 AM. */
    const us = (ms: number) => {
      const d = new Date(ms);
      const h = d.getUTCHours() % 12 || 12;
      const p = (n: number) => String(n).padStart(2, "0");
      return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(h)}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCHours() < 12 ? "AM" : "PM"}`;
    };

    it.each(["America/Los_Angeles", "Asia/Tokyo"])("reads a CSV re-saved by a spreadsheet the same way in %s", async (zone) => {
      // The fixture CSV with both time columns rewritten as a US spreadsheet shows them.
      const [header, ...rows] = fs.readFileSync(CSV, "utf8").trimEnd().split("\n");
      const cols = header!.split(",");
      const timeCols = [cols.indexOf("@timestamp"), cols.indexOf("created_at")];
      const resaved = [header, ...rows.map((row) => row.split(",").map((c, i) => (timeCols.includes(i) && c !== "" ? us(Number(c)) : c)).join(","))].join("\n");
      expect(resaved).toContain("10/02/2026 10:20:00 AM");
      const file = write("spreadsheet.csv", resaved);
      process.env.TZ = zone;
      const r = await cli(["analyze", file]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(reference.stdout);
    });

    it("reads Ruby's UTC form and exponent form, and reports an unreadable time with its line number", async () => {
      const at = Date.UTC(2026, 9, 2, 10, 20);
      const row = (time: string, repo: string) => `${time},repo.access,mallory,acme,acme/${repo},private,public`;
      const file = write(
        "times.csv",
        [
          "@timestamp,action,actor,org,repo,previous_visibility,visibility",
          row("2026-10-02 10:20:00 UTC", "a"),
          row((at / 1000).toExponential(), "b"),
          row("13/10/2026 10:20", "c"),
          row("1.7909352E+12", "d"),
        ].join("\n"),
      );
      const r = await cli(["analyze", file]);
      expect(r.code).toBe(0);
      expect(r.findings.map((f) => [f.repos[0], f.first_seen])).toEqual([
        ["acme/a", "2026-10-02T10:20:00.000Z"],
        ["acme/b", "2026-10-02T10:20:00.000Z"],
        ["acme/d", "2026-10-02T10:00:00.000Z"],
      ].sort((x, y) => (x[1]! < y[1]! ? -1 : 1)));
      expect(r.stderr).toContain(`${file}:4 (no usable time: \`@timestamp\` "13/10/2026 10:20" is day/month/year, it seems: slash dates are read as month/day/year (US))`);
    });
  });

  it("runs as a process: exit code and stderr, no stack trace", () => {
    const run = (args: string[], input?: string) =>
      spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 60_000 });
    const ok = run(["analyze", "-", "--fail-on", "critical"], fs.readFileSync(JSONL, "utf8"));
    expect(ok.status).toBe(1);
    expect(ok.stdout.trim().split("\n").map((l) => (JSON.parse(l) as FindingOutput).fingerprint)).toEqual(
      reference.findings.map((f) => f.fingerprint),
    );
    const missing = run(["analyze", "/nonexistent/audit.jsonl"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr.trim()).toBe("exfil-monitor: cannot read /nonexistent/audit.jsonl: no such file");
    const empty = run(["analyze", "-", "--fail-on", "low"], "");
    expect([empty.status, empty.stdout, empty.stderr]).toEqual([2, "", "exfil-monitor: standard input has no audit entries: it is empty\n"]);
  });
});

describe("analyzeFiles", () => {
  it("keeps the windows of an older file read after a newer one, while it drops expired state as it goes", async () => {
    const entry = (n: number, at: number, actor: string, repo: string) =>
      JSON.stringify({ "@timestamp": at, _document_id: `order-${n}`, action: "git.clone", actor, repo, repository_public: false, org: "acme" });
    const march = Date.UTC(2026, 2, 1);
    const january = Date.UTC(2026, 0, 5);
    // Enough one-event batches that expired state is dropped several times while the newer file is read.
    const newer = write("order/newer.jsonl", Array.from({ length: 40 }, (_, i) => entry(i, march + i * 60_000, "alice", "acme/web")).join("\n"));
    const older = write(
      "order/older.jsonl",
      Array.from({ length: 7 }, (_, i) => entry(100 + i, january + i * 60_000, "mallory", `acme/repo-${i}`)).join("\n"),
    );
    for (const files of [[newer, older], [older, newer]]) {
      const r = await analyzeFiles(files, { db: ":memory:", batchSize: 1 });
      expect(r.processed).toBe(47);
      expect(r.findings.map((f) => `${f.detector} ${f.actor} ${f.repos.length}`)).toEqual(["mass-clone mallory 7"]);
    }
  });

  it("returns counts and the findings, for the demo and the benchmark", async () => {
    const r = await analyzeFiles([JSONL], { db: ":memory:", batchSize: 4 });
    expect(r).toMatchObject({ events: 23, processed: 23, duplicates: 0, skipped: 0, bad: 0, files: [{ file: JSONL, format: "jsonl", gzip: false, newestFirst: false }] });
    // Batches of 4 instead of 1000 change nothing.
    const reference = await analyzeFiles([JSONL]);
    expect(r.findings).toEqual(reference.findings);
    expect(r.findings.length).toBeGreaterThanOrEqual(7);
    expect(r.detectorFailures).toEqual({});
  });
});

describe("parseSince", () => {
  it.each([
    ["2026-10-02", Date.UTC(2026, 9, 2)],
    ["2026-10-02T10:15", Date.UTC(2026, 9, 2, 10, 15)],
    ["2026-10-02T10:15:00Z", Date.UTC(2026, 9, 2, 10, 15)],
    ["2026-10-02T12:15:00+02:00", Date.UTC(2026, 9, 2, 10, 15)],
    ["2026-10-02 10:15:00", Date.UTC(2026, 9, 2, 10, 15)],
  ])("%s", (text, ms) => {
    expect(parseSince(text)).toBe(ms);
  });

  it.each(["yesterday", "1790935200000", "2026-13-45", ""])("refuses %j", (text) => {
    expect(parseSince(text)).toBeNull();
  });
});
