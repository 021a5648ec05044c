import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeFiles, type FindingOutput } from "../../src/cli/analyze.js";
import { main, parseSince, renderTable } from "../../src/cli/main.js";

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

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  findings: FindingOutput[];
}

/** Runs the CLI in-process with captured output (not a terminal) and an optional standard input. */
async function cli(args: string[], stdin?: string | Buffer): Promise<Run> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (c: Buffer) => (stdout += c.toString()));
  err.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await main(args, { stdout: out, stderr: err, stdin: stdin === undefined ? undefined : Readable.from([Buffer.from(stdin)]) });
  const findings = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as FindingOutput);
  return { code, stdout, stderr, findings };
}

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
      repos: ["acme/payments"],
      first_seen: "2026-10-02T10:20:00.000Z",
      last_seen: "2026-10-02T10:20:00.000Z",
      count: 1,
      evidence: [{ time: "2026-10-02T10:20:00.000Z", source: "audit-log", data: expect.any(Object) }],
      fingerprint: "repo-made-public:acme/payments",
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
    expect(r.stdout).toContain("\\u001b[2J");
    const [header, row] = r.stdout.split("\n");
    expect(header).toMatch(/^SEVERITY +DETECTOR +ACTOR +REPOS +COUNT +FIRST SEEN \(UTC\) +LAST SEEN \(UTC\) +SUMMARY$/);
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
      [["analyze", JSONL, "--format", "xml"], "--format must be table or json"],
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

    it("reports a file that breaks half-way and reads the next one", async () => {
      const gz = gzipSync(fs.readFileSync(JSONL));
      const truncated = write("truncated.jsonl.gz", gz.subarray(0, gz.length - 30));
      const r = await cli(["analyze", truncated, CSV]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/truncated\.jsonl\.gz:\d+ \(reading stopped: /);
      expect(detectors(r.findings)).toEqual(detectors(reference.findings));
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
  });
});

describe("analyzeFiles", () => {
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
