import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { readAuditLog, type AuditLogFormat, type AuditLogItem } from "../../src/cli/read-audit-log.js";

const FIXTURES = path.join(import.meta.dirname, "../fixtures/audit-log");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-read-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Reads `input` from a fake standard input that delivers it `chunkSize` bytes at a time. */
async function readText(input: string | Buffer, chunkSize = 1 << 16): Promise<{ items: AuditLogItem[]; format?: AuditLogFormat; gzip?: boolean }> {
  const buf = typeof input === "string" ? Buffer.from(input) : input;
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  const out: { items: AuditLogItem[]; format?: AuditLogFormat; gzip?: boolean } = { items: [] };
  for await (const item of readAuditLog("-", {
    stdin: Readable.from(chunks),
    onFormat: (f, g) => {
      out.format = f;
      out.gzip = g;
    },
  })) {
    out.items.push(item);
  }
  return out;
}

const entries = (items: AuditLogItem[]) => items.filter((i): i is { entry: unknown; line: number } => "entry" in i);
const bads = (items: AuditLogItem[]) => items.filter((i): i is { bad: true; line: number; reason: string } => "bad" in i);

describe("readAuditLog", () => {
  it("reads the JSON-lines fixture with line numbers", async () => {
    const items: AuditLogItem[] = [];
    for await (const i of readAuditLog(path.join(FIXTURES, "incident.jsonl"))) items.push(i);
    expect(items).toHaveLength(23);
    expect(items.map((i) => i.line)).toEqual(Array.from({ length: 23 }, (_, k) => k + 1));
    expect(bads(items)).toEqual([]);
  });

  it("reads the same entries from the JSON array, the CSV and gzip of each", async () => {
    const read = async (file: string) => {
      const out: unknown[] = [];
      for await (const i of readAuditLog(file)) if ("entry" in i) out.push(i.entry);
      return out;
    };
    const jsonl = await read(path.join(FIXTURES, "incident.jsonl"));
    const array = await read(path.join(FIXTURES, "incident.json"));
    expect(array).toEqual(jsonl);
    for (const name of ["incident.jsonl", "incident.json"]) {
      const gz = path.join(tmp, `${name}.gz`);
      fs.writeFileSync(gz, gzipSync(fs.readFileSync(path.join(FIXTURES, name))));
      expect(await read(gz)).toEqual(jsonl);
    }
    const csv = await read(path.join(FIXTURES, "incident.csv"));
    expect(csv).toHaveLength(jsonl.length);
    // CSV cells are text and nested by their dotted headers.
    expect(csv[0]).toMatchObject({ actor_location: { country_code: "US" }, actor_is_bot: "true" });
  });

  it("chooses the format by content, not by name", async () => {
    expect((await readText('  \n{"action":"a"}\n')).format).toBe("jsonl");
    expect((await readText('\n [{"action":"a"}]')).format).toBe("json-array");
    expect((await readText("action,actor\na,b\n")).format).toBe("csv");
    expect((await readText("  \n")).format).toBe("empty");
    const gz = await readText(gzipSync('{"action":"a"}\n'));
    expect([gz.format, gz.gzip]).toEqual(["jsonl", true]);
  });

  it("splits JSON lines across any chunk boundary, with CRLF and a byte-order mark", async () => {
    const text = '\uFEFF{"action":"a","s":"é ü"}\r\n\r\n{"action":"b"}\r\n{"action":"c"}';
    for (const size of [1, 2, 3, 7, 1000]) {
      const { items } = await readText(text, size);
      expect(items).toEqual([
        { entry: { action: "a", s: "é ü" }, line: 1 },
        { entry: { action: "b" }, line: 3 },
        { entry: { action: "c" }, line: 4 },
      ]);
    }
  });

  it("reports lines that are not audit events and goes on", async () => {
    const text = ['{"action":"a"}', "{not json", "[1,2]", '"text"', '{"no":"action"}', '{"action":7}', '{"action":"b"}'].join("\n");
    const { items } = await readText(text);
    expect(entries(items).map((i) => i.line)).toEqual([1, 7]);
    expect(bads(items).map((b) => [b.line, b.reason.split(" ")[0]])).toEqual([
      [2, "invalid"],
      [3, "not"],
      [4, "not"],
      [5, "no"],
      [6, "no"],
    ]);
  });

  it("streams a JSON array element by element across chunk boundaries, after a byte-order mark", async () => {
    const text = '\uFEFF[\n  {"action":"a","tricky":"]}[{\\"\\\\"},\n  {"action":"b","n":{"deep":[1,{"x":"}"}]}}\n,\n  {"action":"c"}\n]\n';
    for (const size of [1, 5, 1 << 16]) {
      const { items } = await readText(text, size);
      expect(items).toEqual([
        { entry: { action: "a", tricky: ']}[{"\\' }, line: 2 },
        { entry: { action: "b", n: { deep: [1, { x: "}" }] } }, line: 3 },
        { entry: { action: "c" }, line: 5 },
      ]);
    }
  });

  it("reports non-objects inside an array and a truncated array", async () => {
    const { items } = await readText('[{"action":"a"}, 3, "x", null, [1], {"b":1},\n{"action":"c"');
    expect(entries(items).map((i) => (i.entry as { action: string }).action)).toEqual(["a"]);
    expect(bads(items).map((b) => b.reason)).toEqual([
      "not a JSON object",
      "not a JSON object",
      "not a JSON object",
      "not a JSON object",
      "no `action` field: not an audit event",
      "the file ends in the middle of a JSON value",
    ]);
    expect(bads(items).at(-1)?.line).toBe(2);
  });

  it("reads pages of arrays one after the other (gh api --paginate) and pretty-printed objects", async () => {
    const pages = await readText('[{"action":"a"},{"action":"b"}][{"action":"c"}]\n');
    expect(entries(pages.items).map((i) => (i.entry as { action: string }).action)).toEqual(["a", "b", "c"]);
    const pretty = await readText('{\n  "action": "a"\n}\n{\n  "action": "b"\n}\n', 4);
    expect(pretty.items).toEqual([
      { entry: { action: "a" }, line: 1 },
      { entry: { action: "b" }, line: 4 },
    ]);
  });

  it("reads CSV with quoted fields, nested headers and empty cells left out", async () => {
    const csv = [
      "@timestamp,action,actor,actor_location.country_code,data.config.url,user",
      '1790935200000,hook.create,mallory,KP,"https://x.example/a,b",',
      '1790935200001,repo.access,"al""ice","",,"multi',
      'line"',
      ",,,,,",
    ].join("\n");
    const { items } = await readText(csv, 3);
    expect(items).toEqual([
      {
        entry: { "@timestamp": "1790935200000", action: "hook.create", actor: "mallory", actor_location: { country_code: "KP" }, data: { config: { url: "https://x.example/a,b" } } },
        line: 2,
      },
      { entry: { "@timestamp": "1790935200001", action: "repo.access", actor: 'al"ice', user: "multi\nline" }, line: 4 },
      { bad: true, line: 5, reason: "no `action` field: not an audit event" },
    ]);
  });

  it("reads concatenated gzip members (as streaming sinks append them)", async () => {
    const buf = Buffer.concat([gzipSync('{"action":"a"}\n'), gzipSync('{"action":"b"}\n')]);
    const { items } = await readText(buf, 10);
    expect(entries(items).map((i) => (i.entry as { action: string }).action)).toEqual(["a", "b"]);
  });

  it("throws for a broken gzip stream, which the analyzer reports", async () => {
    const broken = gzipSync('{"action":"a"}\n'.repeat(1000)).subarray(0, 40);
    await expect(readText(broken)).rejects.toThrow();
  });

  it("throws for a missing file", async () => {
    const it = readAuditLog(path.join(tmp, "missing.jsonl"))[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toThrow(/ENOENT/);
  });
});
