// Streams and SIEM exports wrap each audit-log entry in an envelope. Each test wraps the bare entries of the
// incident fixture in one envelope and expects exactly the findings of the bare file: an envelope that is
// not unwrapped turns every line into a bad line and the run into "no findings".
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeFiles, type AnalyzeResult, type FindingOutput } from "../../src/cli/analyze.js";
import { unwrapEntries } from "../../src/cli/envelopes.js";
import { readAuditLog, type AuditLogItem } from "../../src/cli/read-audit-log.js";
import { runCli } from "../helpers/cli.js";

const JSONL = path.join(import.meta.dirname, "../fixtures/audit-log/incident.jsonl");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-envelope-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Entry = Record<string, unknown> & { action: string; "@timestamp"?: number; created_at?: number };
const bare: Entry[] = fs
  .readFileSync(JSONL, "utf8")
  .trimEnd()
  .split("\n")
  .map((l) => JSON.parse(l) as Entry);

let n = 0;
function write(name: string, data: string | Buffer): string {
  const dir = path.join(tmp, `case-${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, data);
  return p;
}

const jsonLines = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join("\n") + "\n";
/** An entry's time in epoch ms (one of the fixture's entries has only `created_at`). */
const at = (e: Entry) => e["@timestamp"] ?? e.created_at!;
const iso = (e: Entry) => new Date(at(e)).toISOString();

/** What identifies a finding and its extent, in a stable order. */
const shape = (fs_: FindingOutput[]) =>
  fs_
    .map((f) => ({ detector: f.detector, severity: f.severity, fingerprint: f.fingerprint, count: f.count, repos: f.repos }))
    .sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));

/** An entry as Splunk's JSON field extraction flattens it: dotted names, every value text. */
function splunkFields(e: Record<string, unknown>, prefix = "", out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const [k, v] of Object.entries(e)) {
    if (typeof v === "object" && v !== null && !Array.isArray(v)) splunkFields(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else if (Array.isArray(v)) out[`${prefix}${k}{}`] = v.map(String);
    else out[`${prefix}${k}`] = String(v);
  }
  return out;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const hec = (e: Entry, event: unknown = e) => ({
  time: at(e) / 1000,
  host: "ghes.acme.example",
  source: "github-audit-stream",
  sourcetype: "github:enterprise:audit",
  index: "github",
  event,
});

const splunkMeta = { _time: "", _cd: "12:345", _serial: "0", _si: ["idx-1", "github"], _sourcetype: "github:enterprise:audit", host: "ghes.acme.example", source: "github-audit-stream", sourcetype: "github:enterprise:audit", index: "github", linecount: "1", splunk_server: "idx-1" };

let reference: AnalyzeResult;
beforeAll(async () => {
  reference = await analyzeFiles([JSONL], { db: ":memory:" });
});

describe("audit entries inside a stream's or SIEM's envelope", () => {
  it("has findings to compare with in the bare file", () => {
    expect(reference.events).toBe(bare.length);
    expect(reference.bad).toBe(0);
    expect(reference.findings.length).toBeGreaterThan(5);
  });

  const cases: [string, () => string][] = [
    ["Splunk HEC, `event` an object", () => write("hec.json", jsonLines(bare.map((e) => hec(e))))],
    ["Splunk HEC, `event` as JSON text, gzipped", () => write("hec.json.gz", gzipSync(jsonLines(bare.map((e) => hec(e, JSON.stringify(e))))))],
    ["Splunk HEC in a JSON array", () => write("hec-array.json", JSON.stringify(bare.map((e) => hec(e)), null, 2))],
    [
      "a Splunk search export with `_raw`, its message rows and `lastrow`",
      () =>
        write(
          "splunk-raw.json",
          jsonLines([
            { preview: false, init_offset: 0, messages: [{ type: "INFO", text: "Your timerange was substituted" }] },
            ...bare.map((e, i) => ({
              preview: false,
              offset: i,
              ...(i === bare.length - 1 ? { lastrow: true } : {}),
              result: { ...splunkMeta, _time: iso(e), _raw: JSON.stringify(e) },
            })),
          ]),
        ),
    ],
    [
      "a Splunk search export of flattened fields",
      () => write("splunk-fields.json", jsonLines(bare.map((e, i) => ({ preview: false, offset: i, result: { ...splunkMeta, _time: iso(e), ...splunkFields(e) } })))),
    ],
    [
      "a Splunk search export of fields whose time is only Splunk's `_time`",
      () =>
        write(
          "splunk-time.json",
          jsonLines(
            bare.map((e) => {
              const { "@timestamp": _at, created_at: _created, ...rest } = e;
              return { preview: false, result: { ...splunkMeta, _time: iso(e), ...splunkFields(rest) } };
            }),
          ),
        ),
    ],
    ["a Splunk REST search's `results` page", () => write("splunk-results.json", JSON.stringify({ preview: false, init_offset: 0, messages: [], fields: [{ name: "_raw" }], results: bare.map((e) => ({ _raw: JSON.stringify(e), _time: iso(e) })) }, null, 2))],
    [
      "Datadog logs with the entry as `attributes`",
      () => write("dd-attributes.json", jsonLines(bare.map((e, i) => ({ id: `AQAAAY${i}`, type: "log", attributes: { ...e, service: "github", host: "github.com", status: "info", tags: ["source:github"], timestamp: iso(e) } })))),
    ],
    [
      "Datadog logs with the entry in `attributes.attributes`",
      () =>
        write(
          "dd-nested.json",
          jsonLines(bare.map((e, i) => ({ id: `AQAAAY${i}`, type: "log", attributes: { service: "github", host: "github.com", status: "info", tags: ["source:github"], timestamp: iso(e), message: e.action, attributes: e } }))),
        ),
    ],
    [
      "Datadog logs with the entry as JSON text in `message`",
      () => write("dd-message.json", jsonLines(bare.map((e, i) => ({ id: `AQAAAY${i}`, attributes: { service: "github", timestamp: iso(e), message: JSON.stringify(e), tags: [] } })))),
    ],
    [
      "Datadog logs from the v1 API (`content`), one under `github` as JSON text",
      () => write("dd-content.json", jsonLines(bare.map((e, i) => ({ id: `AQAAAY${i}`, content: { timestamp: iso(e), host: "github.com", attributes: { service: "github", github: JSON.stringify(e) } } })))),
    ],
    ["a Datadog API page (`data`, `meta`, `links`)", () => write("dd-page.json", JSON.stringify({ data: bare.map((e, i) => ({ id: `AQAAAY${i}`, type: "log", attributes: { timestamp: iso(e), attributes: e } })), meta: { page: { after: "x" } }, links: { next: "https://example.invalid/next" } }, null, 2))],
    ["Azure `records`, a few to a line", () => write("PT1H.json", jsonLines(chunks(bare, 5).map((records) => ({ records }))))],
    ["Azure `records`, the whole file one pretty-printed value", () => write("records.json", JSON.stringify({ records: bare }, null, 2))],
    ["Azure `records`, gzipped", () => write("records.json.gz", gzipSync(jsonLines([{ records: bare }])))],
  ];

  it.each(cases)("reads %s with the bare file's findings", async (_what, make) => {
    const file = make();
    const r = await analyzeFiles([file], { db: ":memory:" });
    expect(r.badLines).toEqual([]);
    expect(r.files[0]!.problem).toBeUndefined();
    expect(r.events).toBe(bare.length);
    expect(shape(r.findings)).toEqual(shape(reference.findings));
  });

  it("reads a folder of bare, HEC and Azure files as one log", async () => {
    const [a, b, c] = [bare.slice(0, 8), bare.slice(8, 16), bare.slice(16)];
    const dir = path.join(tmp, "mixed");
    fs.mkdirSync(path.join(dir, "2026/10/01"), { recursive: true });
    fs.writeFileSync(path.join(dir, "2026/10/01/00.jsonl"), jsonLines(a));
    fs.writeFileSync(path.join(dir, "2026/10/01/01.json.gz"), gzipSync(jsonLines(b.map((e) => hec(e)))));
    fs.writeFileSync(path.join(dir, "2026/10/01/02.json"), JSON.stringify({ records: c }, null, 2));
    const r = await analyzeFiles([dir], { db: ":memory:" });
    expect(r.files.map((f) => [path.basename(f.file), f.events, f.problem])).toEqual([
      ["00.jsonl", 8, undefined],
      ["01.json.gz", 8, undefined],
      ["02.json", 7, undefined],
    ]);
    expect(r.bad).toBe(0);
    expect(shape(r.findings)).toEqual(shape(reference.findings));
  });

  it("reports a bad envelope with its own line number and reason, and reads the rest", async () => {
    const values: unknown[] = bare.map((e) => hec(e));
    values.splice(3, 0, hec(bare[0]!, { message: "heartbeat", at: 1 }));
    values.splice(6, 0, hec(bare[0]!, "not json"));
    values.splice(9, 0, { preview: false, result: { _raw: '{"action": "git.clone", cut', _time: "2026-10-01T00:00:00Z" } });
    values.splice(12, 0, { records: [bare[0], 7] });
    const file = write("hec-bad.json", jsonLines(values));
    const r = await analyzeFiles([file], { db: ":memory:" });
    expect(r.badLines.map((b) => [b.line, b.reason])).toEqual([
      [4, "Splunk HEC `event` has no `action` field: not an audit event"],
      [7, expect.stringMatching(/^Splunk HEC `event` is text that is not a JSON audit entry \(/)],
      [10, expect.stringMatching(/^`result._raw` is not valid JSON \(/)],
      [13, "`records[1]` is not a JSON object"],
    ]);
    // The record beside the bad one is read: bare[0] a second time, which the store sets aside.
    expect(r.events).toBe(bare.length + 1);
    expect(r.duplicates).toBe(1);
    expect(shape(r.findings)).toEqual(shape(reference.findings));
  });

  it("reads Splunk's progress rows and an empty `records` as nothing, not as bad lines", async () => {
    const items: AuditLogItem[] = [];
    const file = write("meta.json", jsonLines([{ preview: true, offset: 0, messages: [] }, { records: [] }, { preview: false, lastrow: true }, bare[0]]));
    for await (const i of readAuditLog(file)) items.push(i);
    expect(items).toEqual([{ entry: bare[0], line: 4 }]);
  });

  it("takes from a Datadog log the object with both `action` and a time, over one with `action` alone", () => {
    const e = bare[0]!;
    const log = { id: "x", attributes: { service: "github", attributes: { action: "pipeline.tagged" }, github: JSON.stringify(e) } };
    expect(unwrapEntries(log, 10_000)).toEqual([{ entry: e }]);
  });

  describe("an envelope this reader does not know", () => {
    const unknown = () => write("unknown.json", jsonLines(bare.map((e) => ({ time: at(e) / 1000, host: "collector-1", payload: e }))));
    const reason = "no `action` field; keys: time, host, payload (an envelope this reader does not know?)";

    it("makes bad lines naming the keys, and a problem that says so once", async () => {
      const r = await analyzeFiles([unknown()], { db: ":memory:" });
      expect(r.events).toBe(0);
      expect(r.bad).toBe(bare.length);
      expect(r.badLines[0]).toMatchObject({ line: 1, reason });
      expect(r.files[0]!.problem).toMatch(
        /^\S+ has no audit entries: it was read as JSON lines, and none of its 23 values is an audit event or in an envelope this reader knows \(Splunk HEC or search export, Datadog log export, Azure `records`\) \(line 1: no `action` field; keys: time, host, payload\)$/,
      );
      expect(r.findings).toEqual([]);
    });

    it("makes the CLI exit 2, not 0 with no findings", async () => {
      const file = unknown();
      const r = await runCli(["analyze", file, "--format", "json"]);
      expect(r.code).toBe(2);
      expect(r.findings).toEqual([]);
      expect(r.stderr).toContain(`${file} has no audit entries`);
      expect(r.stderr).toContain("keys: time, host, payload");
    });

    it("names unknown keys inside a known envelope too, quoting names that are not plain", async () => {
      expect(unwrapEntries({ records: [{ "bad\nkey": 1, wrapped: { action: 1 } }] }, 1000)).toEqual([
        { reason: '`records[0]`: no `action` field; keys: "bad\\nkey", wrapped (an envelope this reader does not know?)' },
      ]);
      expect(unwrapEntries({ id: "x", attributes: { service: "github", status: "info" } }, 1000)).toEqual([
        { reason: "Datadog log: no `action` field in `attributes` or below it; keys: service, status" },
      ]);
    });
  });

  describe("hostile input", () => {
    it("parses envelope text only within the size limit", () => {
      const e = bare[0]!;
      expect(unwrapEntries({ result: { _raw: JSON.stringify(e) } }, 100)).toEqual([{ reason: "`result._raw` is not valid JSON (longer than 100 characters)" }]);
      expect(unwrapEntries({ event: JSON.stringify(e) }, 100)).toEqual([{ reason: "Splunk HEC `event` is text that is not a JSON audit entry (longer than 100 characters)" }]);
      expect(unwrapEntries({ attributes: { message: JSON.stringify(e) } }, 100)).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^Datadog log: no `action` field/) })]);
      expect(unwrapEntries({ event: JSON.stringify(e) }, 10_000)).toEqual([{ entry: e }]);
    });

    it("never lets `__proto__` in envelope text or field names reach Object.prototype", async () => {
      const e = bare[0]!;
      const file = write(
        "proto.json",
        jsonLines([
          { result: { _raw: JSON.stringify({ __proto__: null, ...e }).replace(/^\{/, '{"__proto__":{"polluted":"raw"},') } },
          { event: `{"__proto__":{"polluted":"hec"},${JSON.stringify(e).slice(1)}` },
          { result: { ...splunkFields(e), "__proto__.polluted": "fields" } },
          { result: { ...splunkFields(e), "constructor.prototype.polluted": "fields" } },
        ]),
      );
      const r = await analyzeFiles([file], { db: ":memory:" });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty("polluted");
      expect(r.badLines.map((b) => [b.line, b.reason])).toEqual([
        [3, 'Splunk `result` has a field named "__proto__.polluted": no audit-log field is called "__proto__"'],
        [4, 'Splunk `result` has a field named "constructor.prototype.polluted": no audit-log field is called "constructor"'],
      ]);
      expect(r.events).toBe(2);
    });
  });
});
