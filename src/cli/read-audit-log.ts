// Reads an exported org audit log in any of the shapes GitHub produces, one entry at a time, with memory that
// stays flat however large the file: the UI's JSON array and CSV exports, JSON lines from the REST API and
// from streaming (S3, Azure, GCS, Splunk), each possibly gzipped (streaming always is). The format is chosen
// from the content, not the file name: gzip by its magic bytes, the text encoding by its byte-order mark
// (UTF-8 without one; UTF-16 as PowerShell's `>` writes it), then the first character that is not white
// space (`[` an array, `{` JSON lines, anything else CSV). Each JSON value is an entry or, as streams and
// SIEM exports write them, an envelope around one or more (envelopes.ts). Entries that are not audit events
// are reported with their line number and never stop the read; an input that is not an audit log at all, or
// whose structure breaks part-way, throws UnreadableInput so that it is never taken for an empty or complete
// one.
import fs from "node:fs";
import { Readable, pipeline } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { parse as parseCsv } from "csv-parse";
import { NOT_AN_EVENT, unwrapEntries } from "./envelopes.js";

export type AuditLogItem = { entry: unknown; line: number } | { bad: true; line: number; reason: string };

export type AuditLogFormat = "json-array" | "jsonl" | "csv" | "empty";

export interface ReadOptions {
  /** What "-" reads; process.stdin unless given. */
  stdin?: NodeJS.ReadableStream;
  /** Told once the format is known, before the first item. */
  onFormat?: (format: AuditLogFormat, gzip: boolean) => void;
}

/**
 * The input is not an audit log this can read (binary, an archive, UTF-16 without a byte-order mark, a CSV
 * without an `action` column), or its structure breaks at `line` so that nothing after it can be trusted.
 * Items before it were yielded and are sound.
 */
export class UnreadableInput extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/** A single JSON value longer than this is reported and skipped rather than held in memory. */
const MAX_VALUE_CHARS = 64 * 1024 * 1024;
const CHUNK = 1 << 20;

/**
 * Every entry of an audit log file (`-` for standard input). Bad entries come back as `{ bad: true }` items;
 * throws when the input cannot be read (missing file, broken gzip, UnreadableInput), possibly after items.
 */
export async function* readAuditLog(source: string, opts: ReadOptions = {}): AsyncGenerator<AuditLogItem> {
  for await (const batch of readAuditLogBatches(source, opts)) yield* batch;
}

/**
 * The same items in batches (one per chunk of input): the analyzer's hot path, which saves an async step
 * per entry.
 */
export async function* readAuditLogBatches(source: string, opts: ReadOptions = {}): AsyncGenerator<AuditLogItem[]> {
  const { gzip, chunks } = await openBytes(source, opts.stdin);
  const it = (await utf8Text(chunks))[Symbol.asyncIterator]();
  // Look past white space for the first meaningful character.
  const head: Buffer[] = [];
  let first: number | undefined;
  while (first === undefined) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    first = firstMeaningfulByte(r.value);
  }
  const rest = replay(head, it);
  if (first === undefined) {
    opts.onFormat?.("empty", gzip);
    return;
  }
  if (first === 0x5b /* [ */) {
    opts.onFormat?.("json-array", gzip);
    yield* jsonValues(rest);
  } else if (first === 0x7b /* { */) {
    opts.onFormat?.("jsonl", gzip);
    yield* jsonLines(rest);
  } else {
    opts.onFormat?.("csv", gzip);
    yield* csvRows(rest);
  }
}

// --- bytes ------------------------------------------------------------------------------------------------

async function* replay(head: Buffer[], it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  for (const b of head) yield b;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

async function* rawChunks(source: string, stdin: NodeJS.ReadableStream | undefined): AsyncGenerator<Buffer> {
  const stream = source === "-" ? (stdin ?? process.stdin) : fs.createReadStream(source, { highWaterMark: CHUNK });
  for await (const c of stream) yield typeof c === "string" ? Buffer.from(c) : (c as Buffer);
}

/** The input's bytes, gunzipped when they start with gzip's magic number (1f 8b). */
async function openBytes(
  source: string,
  stdin: NodeJS.ReadableStream | undefined,
): Promise<{ gzip: boolean; chunks: AsyncIterable<Buffer> }> {
  const it = rawChunks(source, stdin)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  while (size < 2) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    size += r.value.length;
  }
  const start = Buffer.concat(head);
  const gzip = start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b;
  const raw = replay(start.length > 0 ? [start] : [], it);
  if (!gzip) return { gzip, chunks: raw };
  const gunzip = createGunzip({ chunkSize: CHUNK });
  // pipeline destroys the gunzip stream with the error, so the consumer's for-await throws it.
  pipeline(Readable.from(raw), gunzip, () => {});
  return { gzip, chunks: gunzip as AsyncIterable<Buffer> };
}

/** The first byte of `b` that is not white space. */
function firstMeaningfulByte(b: Buffer): number | undefined {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return undefined;
}

// --- text encoding ----------------------------------------------------------------------------------------

/** How many leading bytes are looked at for a byte-order mark, an archive's magic number or NUL bytes. */
const SNIFF = 512;

/** Magic numbers (matched on the first bytes read as latin1) of what people pass instead of the export. */
/* eslint-disable no-control-regex -- magic numbers are control bytes */
const ARCHIVES: [magic: RegExp, what: string][] = [
  [/^PK\x03\x04/, "a zip archive: unzip it and pass the files inside (a folder works)"],
  [/^BZh[1-9]1AY&SY/, "bzip2-compressed: decompress it first (`bunzip2 -k FILE`)"],
  [/^\xfd7zXZ\x00/, "xz-compressed: decompress it first (`xz -dk FILE`)"],
  [/^\x28\xb5\x2f\xfd/, "zstd-compressed: decompress it first (`zstd -d FILE`)"],
];
/* eslint-enable no-control-regex */

const startsWith = (b: Buffer, magic: number[]) => b.length >= magic.length && magic.every((m, i) => b[i] === m);

/**
 * The text as UTF-8 bytes without a byte-order mark. UTF-16 with a mark (what Windows PowerShell's `>` and
 * `Out-File` write) is decoded; text without a mark is taken as UTF-8, so NUL bytes in it mean UTF-16 without
 * a mark or binary data, which cannot be read reliably and are refused rather than read as garbage.
 */
async function utf8Text(chunks: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const it = chunks[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  while (size < SNIFF) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    size += r.value.length;
  }
  const start = Buffer.concat(head);
  const signature = start.subarray(0, 16).toString("latin1");
  for (const [magic, what] of ARCHIVES) {
    if (magic.test(signature)) throw new UnreadableInput(`the file is ${what}`);
  }
  if (startsWith(start, [0xff, 0xfe, 0x00, 0x00]) || startsWith(start, [0x00, 0x00, 0xfe, 0xff])) {
    throw new UnreadableInput("the file is UTF-32 text, which is not read: convert it to UTF-8 (`iconv -f UTF-32 -t UTF-8`)");
  }
  if (startsWith(start, [0xff, 0xfe])) return fromUtf16(replay([start.subarray(2)], it), "utf-16le");
  if (startsWith(start, [0xfe, 0xff])) return fromUtf16(replay([start.subarray(2)], it), "utf-16be");
  const body = startsWith(start, [0xef, 0xbb, 0xbf]) ? start.subarray(3) : start;
  if (body.subarray(0, SNIFF).includes(0)) throw new UnreadableInput(nulBytes(body.subarray(0, SNIFF)));
  return replay(body.length > 0 ? [body] : [], it);
}

/** What NUL bytes near the start mean: ASCII in UTF-16 has one in every other byte, on one side. */
function nulBytes(b: Buffer): string {
  let even = 0;
  let odd = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] !== 0) continue;
    if (i % 2 === 0) even++;
    else odd++;
  }
  const pairs = Math.floor(b.length / 2);
  const side = odd >= pairs / 4 && even <= odd / 8 ? "LE" : even >= pairs / 4 && odd <= even / 8 ? "BE" : undefined;
  if (side === undefined) {
    return "the file holds binary data (NUL bytes), not a text audit log: pass the JSON, JSON-lines or CSV export, gzipped or not";
  }
  return (
    `the file looks like UTF-16${side} text without a byte-order mark, which cannot be read reliably: convert it to UTF-8 ` +
    `(\`iconv -f UTF-16${side} -t UTF-8\`, or write it from PowerShell with \`Out-File -Encoding utf8\`)`
  );
}

async function* fromUtf16(chunks: AsyncIterable<Buffer>, encoding: "utf-16le" | "utf-16be"): AsyncGenerator<Buffer> {
  // Streaming decode keeps a code unit or surrogate pair split across chunks for the next one.
  const decoder = new TextDecoder(encoding);
  for await (const c of chunks) {
    const text = decoder.decode(c, { stream: true });
    if (text !== "") yield Buffer.from(text, "utf8");
  }
  const tail = decoder.decode();
  if (tail !== "") yield Buffer.from(tail, "utf8");
}

// --- JSON -------------------------------------------------------------------------------------------------

function isEntry(v: unknown): v is { action: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { action?: unknown }).action === "string";
}

/**
 * Adds the audit entries in one parsed JSON value to `batch`: the value itself, or what a streaming or SIEM
 * envelope around it holds (envelopes.ts), all with the line the value starts on; or the reason it is none.
 */
function judge(value: unknown, line: number, batch: AuditLogItem[]): void {
  // Bare entries, nearly every line of most files, skip the envelope checks.
  if (isEntry(value)) {
    batch.push({ entry: value, line });
    return;
  }
  for (const u of unwrapEntries(value, MAX_VALUE_CHARS)) {
    batch.push("entry" in u ? { entry: u.entry, line } : { bad: true, line, reason: u.reason });
  }
}

/** A CSV row's entry: its columns are flat text, never an envelope. */
function judgeRow(row: Record<string, unknown>, line: number): AuditLogItem {
  return isEntry(row) ? { entry: row, line } : { bad: true, line, reason: NOT_AN_EVENT };
}

const INVALID_JSON = "invalid JSON";

/** Parses one JSON value into `batch`; false, with nothing added, when the text is not JSON at all. */
function parseJson(text: string, line: number, batch: AuditLogItem[], keepInvalid = true): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (keepInvalid) batch.push({ bad: true, line, reason: `${INVALID_JSON} (${(err as Error).message})` });
    return false;
  }
  judge(value, line, batch);
  return true;
}

/**
 * JSON lines. A file whose first line is a lone `{` is pretty-printed JSON (jq's output, say) rather than
 * one object per line: it goes to the value scanner instead.
 */
async function* jsonLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<AuditLogItem[]> {
  const decoder = new StringDecoder("utf8");
  const it = chunks[Symbol.asyncIterator]();
  let rest = "";
  let line = 0;
  let decided = false;
  let skipping = false;
  const seen: Buffer[] = [];
  for (;;) {
    const r = await it.next();
    const text = r.done ? decoder.end() : decoder.write(r.value);
    if (!decided) {
      if (!r.done) seen.push(r.value);
      const probe = (rest + text).trimStart();
      const nl = probe.indexOf("\n");
      if (nl === -1 && !r.done) {
        rest += text;
        continue;
      }
      decided = true;
      const firstLine = (nl === -1 ? probe : probe.slice(0, nl)).trim();
      if (firstLine === "{") {
        yield* jsonValues(replay(seen, it));
        return;
      }
      seen.length = 0;
    }
    const batch: AuditLogItem[] = [];
    const buf = rest + text;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf("\n", start);
      if (nl === -1) break;
      line++;
      if (skipping) {
        skipping = false;
      } else {
        const end = nl > start && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        if (end > start) {
          const s = buf.slice(start, end);
          if (s.trim() !== "") parseJson(s, line, batch);
        }
      }
      start = nl + 1;
    }
    rest = start === 0 ? buf : buf.slice(start);
    if (rest.length > MAX_VALUE_CHARS && !skipping) {
      // A "line" this long is not an audit event; drop it instead of holding gigabytes.
      batch.push({ bad: true, line: line + 1, reason: `line longer than ${MAX_VALUE_CHARS} characters` });
      skipping = true;
    }
    if (skipping) rest = "";
    if (r.done) {
      const last = skipping ? "" : rest.replace(/\r$/, "");
      let cut = false;
      if (last.trim() !== "") {
        // A last line without its newline that is not JSON is where the file was cut (a copy or a streaming
        // sink interrupted): what should have followed is lost, which is not a bad line but a broken file.
        cut = !parseJson(last, line + 1, batch, false);
      }
      if (batch.length > 0) yield batch;
      if (cut) throw new UnreadableInput("the file ends in the middle of a JSON line (cut short?)", line + 1);
      return;
    }
    if (batch.length > 0) yield batch;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

/**
 * A scanner for a JSON array of objects that hands each element to JSON.parse on its own, so only one
 * element is ever in memory. It tracks strings, escapes and nesting depth across chunk boundaries. It also
 * accepts a sequence of top-level arrays or objects (`gh api --paginate` prints one array per page).
 */
async function* jsonValues(chunks: AsyncIterable<Buffer>): AsyncGenerator<AuditLogItem[]> {
  const decoder = new StringDecoder("utf8");
  let line = 1;
  // depth counts brackets inside the current element; 0 between elements.
  let depth = 0;
  let inArray = false;
  let inString = false;
  let escaped = false;
  let parts: string[] = [];
  let partsLength = 0;
  let elementLine = 0;
  let inElement = false;
  let skipping = false;
  let scalar = false;
  let broken: UnreadableInput | undefined;

  const scan = (text: string, batch: AuditLogItem[]) => {
    let start = -1; // where the current element starts in `text`, when it started in this piece
    if (inElement) start = 0;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === NEWLINE) line++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) {
          inString = false;
          if (depth === 0) finish(text, start, i + 1, batch);
        }
        continue;
      }
      if (scalar) {
        // A bare number or literal at the top level ends at a delimiter.
        if (c === 0x2c || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          scalar = false;
          finish(text, start, i, batch);
        } else continue;
      }
      if (c === 0x7b || c === 0x5b) {
        if (depth === 0 && !inElement) {
          if (c === 0x5b && !inArray) {
            inArray = true;
            continue;
          }
          inElement = true;
          elementLine = line;
          start = i;
        }
        depth++;
      } else if (c === 0x7d || c === 0x5d) {
        if (depth === 0) {
          if (c === 0x5d && inArray) {
            inArray = false;
            continue;
          }
          // A closer with nothing open: the brackets no longer pair up, so every element after this one
          // would be cut in the wrong places.
          broken = new UnreadableInput(`the JSON structure is broken: an unexpected '${String.fromCharCode(c)}'`, line);
          return;
        }
        depth--;
        if (depth === 0) finish(text, start, i + 1, batch);
      } else if (c === QUOTE) {
        inString = true;
        if (depth === 0 && !inElement) {
          inElement = true;
          elementLine = line;
          start = i;
        }
      } else if (depth === 0 && !inElement && c !== 0x2c && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        inElement = true;
        scalar = true;
        elementLine = line;
        start = i;
      }
    }
    if (inElement && start >= 0 && !skipping) {
      const piece = text.slice(start);
      parts.push(piece);
      partsLength += piece.length;
      if (partsLength > MAX_VALUE_CHARS) {
        batch.push({ bad: true, line: elementLine, reason: `JSON value longer than ${MAX_VALUE_CHARS} characters` });
        parts = [];
        partsLength = 0;
        skipping = true;
      }
    }
  };

  const finish = (text: string, start: number, end: number, batch: AuditLogItem[]) => {
    inElement = false;
    if (skipping) {
      skipping = false;
      return;
    }
    let value = text.slice(Math.max(start, 0), end);
    if (parts.length > 0) {
      value = parts.join("") + value;
      parts = [];
      partsLength = 0;
    }
    parseJson(value, elementLine, batch);
  };

  for await (const chunk of chunks) {
    const batch: AuditLogItem[] = [];
    scan(decoder.write(chunk), batch);
    if (batch.length > 0) yield batch;
    if (broken) throw broken;
  }
  const batch: AuditLogItem[] = [];
  scan(decoder.end(), batch);
  if (!broken && scalar) {
    scalar = false;
    if (!skipping) finish("", 0, 0, batch);
  } else if (!broken && inElement) {
    broken = new UnreadableInput("the file ends in the middle of a JSON value (cut short?)", elementLine);
  } else if (!broken && inArray) {
    broken = new UnreadableInput("the file ends before the JSON array is closed (cut short?)", line);
  }
  if (batch.length > 0) yield batch;
  if (broken) throw broken;
}

// --- CSV --------------------------------------------------------------------------------------------------

/**
 * CSV with a header row. Dotted column names (`actor_location.country_code`, `data.hook_id`) become nested
 * objects, as in the JSON exports; empty cells are left out. Values stay text: the converter reads "true"
 * and "1788229207412" as well as their JSON counterparts. Header names are the file's, so they are checked
 * before they become keys, and the objects have no prototype to reach through.
 */
async function* csvRows(chunks: AsyncIterable<Buffer>): AsyncGenerator<AuditLogItem[]> {
  const skipped: AuditLogItem[] = [];
  const parser = parseCsv({
    info: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  });
  parser.on("skip", (err: Error & { lines?: number }) => {
    skipped.push({ bad: true, line: err.lines ?? 0, reason: `unreadable CSV row (${err.message})` });
  });
  pipeline(Readable.from(chunks), parser, () => {});
  let header: string[][] | undefined;
  let batch: AuditLogItem[] = [];
  for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (skipped.length > 0) batch.push(...skipped.splice(0));
    const { record, info } = rec;
    if (!header) {
      header = csvHeader(record);
      continue;
    }
    const entry = Object.create(null) as Record<string, unknown>;
    const n = Math.min(record.length, header.length);
    for (let i = 0; i < n; i++) {
      const cell = record[i];
      if (cell === undefined || cell === "") continue;
      const path = header[i]!;
      if (path.length === 0) continue;
      if (path.length === 1) {
        entry[path[0]!] = cell;
        continue;
      }
      let o = entry;
      for (let j = 0; j < path.length - 1; j++) {
        const k = path[j]!;
        const next = o[k];
        if (typeof next === "object" && next !== null) o = next as Record<string, unknown>;
        else o = o[k] = Object.create(null) as Record<string, unknown>;
      }
      o[path[path.length - 1]!] = cell;
    }
    batch.push(judgeRow(entry, info.lines));
    if (batch.length >= 1000) {
      yield batch;
      batch = [];
    }
  }
  if (skipped.length > 0) batch.push(...skipped.splice(0));
  if (batch.length > 0) yield batch;
}

/** Names that reach an object's prototype; no audit-log field is called that. */
const RESERVED = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Each column's key path: `a.b.c` nests, a name with an empty part (`a..b`) stays one key, an unnamed
 * column is left out (`[]`). A file whose header has no `action` column cannot hold an audit entry, and one
 * with a reserved name is not an export: both are refused with the column named.
 */
function csvHeader(record: string[]): string[][] {
  const header = record.map((h) => {
    const name = h.trim();
    if (name === "") return [];
    const parts = name.split(".");
    return parts.includes("") ? [name] : parts;
  });
  header.forEach((path, i) => {
    const bad = path.find((p) => RESERVED.has(p));
    if (bad !== undefined) {
      throw new UnreadableInput(
        `CSV column ${i + 1} is named ${JSON.stringify(record[i]!.trim().slice(0, 60))}: no audit-log field is called ${JSON.stringify(bad)}, and such names are how a crafted file reaches every object in a program; remove or rename the column`,
        1,
      );
    }
  });
  if (!header.some((path) => path.length === 1 && path[0] === "action")) {
    const shown = record.slice(0, 5).map((h) => JSON.stringify(h.trim().slice(0, 30))).join(", ");
    throw new UnreadableInput(
      `read as CSV (it does not start with [ or {), but its first line has no \`action\` column, so it is not an audit-log export (first line: ${shown}${record.length > 5 ? ", ..." : ""})`,
      1,
    );
  }
  return header;
}
