import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { readAuditLog, UnreadableInput, type AuditLogFormat, type AuditLogItem } from "../../src/cli/read-audit-log.js";

const FIXTURES = path.join(import.meta.dirname, "../fixtures/audit-log");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-read-test-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** UTF-16 big-endian bytes of `text` (Node writes only little-endian). */
function utf16be(text: string): Buffer {
  const b = Buffer.from(text, "utf16le");
  return b.swap16();
}

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

  it("reports non-objects inside an array", async () => {
    const { items } = await readText('[{"action":"a"}, 3, "x", null, [1], {"b":1},\n{"action":"c"}]');
    expect(entries(items).map((i) => (i.entry as { action: string }).action)).toEqual(["a", "c"]);
    expect(bads(items).map((b) => b.reason)).toEqual([
      "not a JSON object",
      "not a JSON object",
      "not a JSON object",
      "not a JSON object",
      "no `action` field: not an audit event",
    ]);
  });

  /** Every item read before the input failed, and the failure. */
  async function readUntilFailure(input: string | Buffer, chunkSize?: number): Promise<{ items: AuditLogItem[]; error: unknown }> {
    const items: AuditLogItem[] = [];
    const buf = typeof input === "string" ? Buffer.from(input) : input;
    const chunks: Buffer[] = [];
    const size = chunkSize ?? buf.length;
    for (let i = 0; i < buf.length; i += size) chunks.push(buf.subarray(i, i + size));
    try {
      for await (const item of readAuditLog("-", { stdin: Readable.from(chunks) })) items.push(item);
    } catch (err) {
      return { items, error: err };
    }
    return { items, error: undefined };
  }

  describe("input that breaks part-way throws after the entries before it", () => {
    it.each([
      ["a JSON array cut inside a value", '[{"action":"a"},\n{"action":"b"},\n{"action":"c"', ["a", "b"], 3, /ends in the middle of a JSON value/],
      ["a JSON array cut between values", '[{"action":"a"},\n{"action":"b"},\n', ["a", "b"], 3, /ends before the JSON array is closed/],
      ["a JSON array with a stray closer", '[{"action":"a"}]\n}\n{"action":"b"}', ["a"], 2, /JSON structure is broken: an unexpected '}'/],
      // The brackets pair up wrongly from there on: "b" and "c" become one invalid value, and the array never closes.
      ["an object missing its closer", '[{"action":"a"},\n{"action":"b",\n{"action":"c"}]\n', ["a"], 4, /ends before the JSON array is closed/],
      ["JSON lines cut inside the last line", '{"action":"a"}\n{"action":"b"}\n{"action":"c","ac', ["a", "b"], 3, /ends in the middle of a JSON line/],
    ])("%s", async (_what, text, before, line, reason) => {
      for (const size of [1, 4, 1 << 16]) {
        const { items, error } = await readUntilFailure(text, size);
        expect(entries(items).map((i) => (i.entry as { action: string }).action)).toEqual(before);
        expect(error).toBeInstanceOf(UnreadableInput);
        expect((error as UnreadableInput).message).toMatch(reason);
        expect((error as UnreadableInput).line).toBe(line);
      }
    });

    it("a last line without newline that is complete JSON is no cut", async () => {
      const { items, error } = await readUntilFailure('{"action":"a"}\n{"action":"b"}');
      expect([entries(items).length, error]).toEqual([2, undefined]);
    });
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

  describe("text encodings", () => {
    const jsonl = fs.readFileSync(path.join(FIXTURES, "incident.jsonl"), "utf8");
    const array = fs.readFileSync(path.join(FIXTURES, "incident.json"), "utf8");
    const csv = fs.readFileSync(path.join(FIXTURES, "incident.csv"), "utf8");

    it.each([
      ["JSON lines", jsonl],
      ["a JSON array", array],
      ["CSV", csv],
    ])("reads %s in UTF-16 LE and BE with a byte-order mark as in UTF-8, across any chunk boundary", async (_what, text) => {
      const utf8 = await readText(text);
      expect(entries(utf8.items).length).toBe(23);
      const encoded = [
        Buffer.from(`\uFEFF${text}`, "utf16le"),
        utf16be(`\uFEFF${text}`),
        // What PowerShell's `>` writes, gzipped by a later step.
        gzipSync(Buffer.from(`\uFEFF${text.replace(/\n/g, "\r\n")}`, "utf16le")),
      ];
      for (const bytes of encoded) {
        for (const size of [1, 3, 1 << 16]) {
          const r = await readText(bytes, size);
          expect({ size, format: r.format, items: r.items }).toEqual({ size, format: utf8.format, items: utf8.items });
        }
      }
    });

    it("keeps characters outside the BMP that a chunk boundary splits", async () => {
      const text = '\uFEFF{"action":"a","s":"\u{1F600}é"}\n';
      for (const bytes of [Buffer.from(text, "utf16le"), utf16be(text)]) {
        const { items } = await readText(bytes, 1);
        expect(items).toEqual([{ entry: { action: "a", s: "\u{1F600}é" }, line: 1 }]);
      }
    });

    it.each([
      ["UTF-16 LE without a byte-order mark", Buffer.from(jsonl, "utf16le"), /UTF-16LE text without a byte-order mark.*iconv -f UTF-16LE -t UTF-8/],
      ["UTF-16 BE without a byte-order mark", utf16be(jsonl), /UTF-16BE text without a byte-order mark/],
      ["UTF-16 without a mark after a UTF-8 one", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(jsonl, "utf16le")]), /UTF-16LE/],
      ["UTF-32 with a byte-order mark", Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('{"action":"a"}')]), /UTF-32/],
      ["binary data", Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256)), /binary data \(NUL bytes\)/],
      ["a zip archive", Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.from(jsonl)]), /zip archive: unzip it/],
      ["an xz file", Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]), /xz-compressed/],
      ["gzipped UTF-16 without a mark", gzipSync(Buffer.from(jsonl, "utf16le")), /UTF-16LE/],
    ])("refuses %s, naming the problem", async (_what, bytes, reason) => {
      for (const size of [1, 1 << 16]) {
        const { items, error } = await readUntilFailure(bytes, size);
        expect(items).toEqual([]);
        expect(error).toBeInstanceOf(UnreadableInput);
        expect((error as Error).message).toMatch(reason);
      }
    });

    it("skips a UTF-8 byte-order mark before CSV", async () => {
      const { items } = await readText(`\uFEFFaction,actor\na,b\n`, 1);
      expect(items).toEqual([{ entry: { action: "a", actor: "b" }, line: 2 }]);
    });
  });

  describe("CSV headers", () => {
    it.each([
      ["__proto__.polluted", 'column 3 is named "__proto__.polluted"'],
      ["__proto__", 'column 3 is named "__proto__"'],
      ["constructor.prototype.polluted", 'no audit-log field is called "constructor"'],
      ["data.constructor.prototype.polluted", 'no audit-log field is called "constructor"'],
      ["prototype", 'no audit-log field is called "prototype"'],
    ])("refuse %s and leave Object.prototype untouched", async (name, message) => {
      const before = Object.getOwnPropertyNames(Object.prototype);
      const csv = `@timestamp,action,${name}\n1790935200000,repo.access,yes\n1790935200001,repo.access,{"x":1}\n`;
      const { items, error } = await readUntilFailure(csv);
      expect(items).toEqual([]);
      expect(error).toBeInstanceOf(UnreadableInput);
      expect((error as Error).message).toContain(message);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(before);
    });

    it("build entries without a prototype, so a header named like a built-in is only a key", async () => {
      const { items } = await readText("action,toString,hasOwnProperty.x,a..b,\nrepo.access,1,2,3,4\n");
      const entry = entries(items)[0]!.entry as Record<string, unknown>;
      expect(Object.getPrototypeOf(entry)).toBeNull();
      // `a..b` has an empty part, so it is one key; the unnamed last column is left out.
      expect({ ...entry }).toEqual({ action: "repo.access", toString: "1", hasOwnProperty: { x: "2" }, "a..b": "3" });
    });

    it("refuse a file whose first line has no `action` column, since no entry can come of it", async () => {
      for (const text of ["x", "name,email\nalice,a@example.com\n", "@timestamp;action;actor\n1790935200000;git.clone;m\n"]) {
        const { items, error } = await readUntilFailure(text);
        expect(items).toEqual([]);
        expect((error as Error).message).toMatch(/read as CSV .* no `action` column, so it is not an audit-log export \(first line: "/);
      }
    });
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
