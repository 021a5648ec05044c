// Reads an exported org audit log in any of the shapes GitHub produces, one entry at a time, with memory that
// stays flat however large the file: the UI's JSON array and CSV exports, JSON lines from the REST API and
// from streaming (S3, Azure, GCS, Splunk), each possibly gzipped (streaming always is). The format is chosen
// from the content, not the file name: gzip by its magic bytes, then the first character that is not
// white space (`[` an array, `{` JSON lines, anything else CSV). Entries that are not audit events are
// reported with their line number and never stop the read.
import fs from "node:fs";
import { Readable, pipeline } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { parse as parseCsv } from "csv-parse";

export type AuditLogItem = { entry: unknown; line: number } | { bad: true; line: number; reason: string };

export type AuditLogFormat = "json-array" | "jsonl" | "csv" | "empty";

export interface ReadOptions {
  /** What "-" reads; process.stdin unless given. */
  stdin?: NodeJS.ReadableStream;
  /** Told once the format is known, before the first item. */
  onFormat?: (format: AuditLogFormat, gzip: boolean) => void;
}

/** A single JSON value longer than this is reported and skipped rather than held in memory. */
const MAX_VALUE_CHARS = 64 * 1024 * 1024;
const CHUNK = 1 << 20;

/**
 * Every entry of an audit log file (`-` for standard input). Throws only when the input cannot be read
 * at all (missing file, broken gzip); bad entries come back as `{ bad: true }` items.
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
  const it = chunks[Symbol.asyncIterator]();
  // Look past white space (and a byte-order mark) for the first meaningful character.
  const head: Buffer[] = [];
  let first: number | undefined;
  let size = 0;
  while (first === undefined) {
    const r = await it.next();
    if (r.done) break;
    head.push(r.value);
    size += r.value.length;
    // Until three bytes are in, a leading 0xEF may be the start of a byte-order mark split across chunks.
    if (size < 3 && head[0]![0] === 0xef) continue;
    first = firstMeaningfulByte(head.length === 1 ? r.value : Buffer.concat(head));
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

/** The first byte of `b` (the input's start so far) that is not white space or a byte-order mark. */
function firstMeaningfulByte(b: Buffer): number | undefined {
  let i = 0;
  // UTF-8 byte-order mark, which spreadsheet tools put in front of CSV.
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) i = 3;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return undefined;
}

// --- JSON -------------------------------------------------------------------------------------------------

function isEntry(v: unknown): v is { action: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { action?: unknown }).action === "string";
}

function judge(value: unknown, line: number): AuditLogItem {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { bad: true, line, reason: "not a JSON object" };
  }
  if (!isEntry(value)) return { bad: true, line, reason: "no `action` field: not an audit event" };
  return { entry: value, line };
}

function parseJson(text: string, line: number): AuditLogItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { bad: true, line, reason: `invalid JSON (${(err as Error).message})` };
  }
  return judge(value, line);
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
      const probe = (rest + text).replace(/^\uFEFF/, "").trimStart();
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
    let buf = rest + text;
    if (line === 0 && buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1);
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
          if (s.trim() !== "") batch.push(parseJson(s, line));
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
      if (!skipping && rest.trim() !== "") batch.push(parseJson(rest.replace(/\r$/, ""), line + 1));
      if (batch.length > 0) yield batch;
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
  let first = true;

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
          if (c === 0x5d && inArray) inArray = false;
          else batch.push({ bad: true, line, reason: `unexpected '${String.fromCharCode(c)}'` });
          continue;
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
    batch.push(parseJson(value, elementLine));
  };

  for await (const chunk of chunks) {
    let text = decoder.write(chunk);
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    const batch: AuditLogItem[] = [];
    scan(text, batch);
    if (batch.length > 0) yield batch;
  }
  const batch: AuditLogItem[] = [];
  scan(decoder.end(), batch);
  if (scalar || inElement) {
    if (scalar && !skipping) {
      scalar = false;
      finish("", 0, 0, batch);
    } else if (!skipping) {
      batch.push({ bad: true, line: elementLine, reason: "the file ends in the middle of a JSON value" });
    }
  } else if (inArray) {
    batch.push({ bad: true, line, reason: "the file ends before the JSON array is closed" });
  }
  if (batch.length > 0) yield batch;
}

// --- CSV --------------------------------------------------------------------------------------------------

/**
 * CSV with a header row. Dotted column names (`actor_location.country_code`, `data.hook_id`) become nested
 * objects, as in the JSON exports; empty cells are left out. Values stay text: the converter reads "true"
 * and "1788229207412" as well as their JSON counterparts.
 */
async function* csvRows(chunks: AsyncIterable<Buffer>): AsyncGenerator<AuditLogItem[]> {
  const skipped: AuditLogItem[] = [];
  const parser = parseCsv({
    bom: true,
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
      header = record.map((h) => h.trim().split("."));
      continue;
    }
    const entry: Record<string, unknown> = {};
    const n = Math.min(record.length, header.length);
    for (let i = 0; i < n; i++) {
      const cell = record[i];
      if (cell === undefined || cell === "") continue;
      const path = header[i]!;
      if (path.length === 1) {
        entry[path[0]!] = cell;
        continue;
      }
      let o = entry;
      for (let j = 0; j < path.length - 1; j++) {
        const k = path[j]!;
        const next = o[k];
        if (typeof next === "object" && next !== null) o = next as Record<string, unknown>;
        else o = o[k] = {};
      }
      o[path[path.length - 1]!] = cell;
    }
    batch.push(judge(entry, info.lines));
    if (batch.length >= 1000) {
      yield batch;
      batch = [];
    }
  }
  if (skipped.length > 0) batch.push(...skipped.splice(0));
  if (batch.length > 0) yield batch;
}
