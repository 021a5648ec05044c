// Reads the org's `.github/exfil-monitor.yml` and turns it into a Config, or into a list of problems that
// each name the key path, the line and the fix. Plain YAML only: nothing in the file is ever evaluated, no
// tag is resolved into code, and `_extends` is refused, so a config cannot pull settings from elsewhere.
//
// Whoever can push to the org's `.github` repository controls the text, so reading it is bounded: the size is
// checked first, then one linear pass of the YAML lexer counts tokens, keys, aliases and nesting and stops at
// the first limit crossed, and only a file within every limit reaches the parser (whose cost grows faster
// than the file: 100,000 keys kept it busy for minutes, 10,000 nested `- ` ran it out of memory).
import {
  CST,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type YAMLError,
} from "yaml";
import type { z } from "zod";
import { allowEntryProblems } from "./allow.js";
import type { OctokitLike } from "../github/octokit.js";
import { configSchema, defaultConfig, type Config } from "./schema.js";

export interface ConfigProblem {
  /** Dotted key path (`detectors.mass-clone.tier1_repos`, `allow.actors[2]`), or "(file)" for the whole file. */
  path: string;
  message: string;
  /** 1-based line in the file, when the node could be found. */
  line?: number;
}

export type ParseResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

/** Where the config lives: this path in the org's `.github` repository, and nowhere else. */
export const CONFIG_REPO = ".github";
export const CONFIG_PATH = ".github/exfil-monitor.yml";

const FILE = "(file)";

type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return FILE;
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out === "" ? seg : `.${seg}`;
  }
  return out;
}

/**
 * What a config file may hold. The commented example (docs/exfil-monitor.example.yml) is 3 KB, 270 YAML tokens,
 * 22 keys, no alias and 4 levels deep; a config that sets every key of every detector has about 90 keys.
 * These limits are far above that, and keep parsing the worst file within them to tens of milliseconds.
 */
export const CONFIG_LIMITS = {
  /** Bytes of the file (UTF-8). */
  bytes: 256 * 1024,
  /** YAML tokens: keys, values, indicators, comments, line ends. An allowlist entry takes 3 to 5. */
  tokens: 5_000,
  /** Keys (`name:`) in the whole file. */
  keys: 500,
  /** Aliases (`*name`) and anchors (`&name`), each. */
  aliases: 20,
  /** Levels of nesting (sections, lists, `[...]` and `{...}`). */
  depth: 10,
} as const;

/** Problems shown for one file; a longer list says how many more there are. */
const MAX_PROBLEMS = 50;

export interface ParseOptions {
  /** The org the file belongs to, so an allowlist entry like `<org>/*` is recognized as covering everything. */
  org?: string;
}

export function parseConfigText(text: string, opts: ParseOptions = {}): ParseResult {
  const limited = checkLimits(text);
  if (limited) return { ok: false, problems: [limited] };

  const lines = new LineCounter();
  // Keys given twice are found by duplicateKeys() below, in one pass: the parser's own `uniqueKeys` check
  // compares each key with every earlier one. The core schema has no merge keys and no JS tags.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, schema: "core" });
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lines.linePos(offset).line;

  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => yamlProblem(doc, e, lineAt));
  yamlProblems.push(...duplicateKeys(doc.contents, [], lineAt));
  if (yamlProblems.length > 0) return { ok: false, problems: capped(byLine(yamlProblems)) };

  let data: unknown;
  try {
    // maxAliasCount stops "billion laughs" alias bombs from expanding into gigabytes.
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return {
      ok: false,
      problems: [{ path: FILE, message: `${err instanceof Error ? err.message : String(err)}: use fewer YAML aliases (*name)` }],
    };
  }
  // An empty file, or one with only comments, means "all defaults".
  if (data === null || data === undefined) return { ok: true, config: defaultConfig() };

  const parsed = configSchema.safeParse(data);
  if (parsed.success) {
    const broad = allowEntryProblems(parsed.data.allow, opts.org).map((b) => {
      const path = ["allow", b.list, b.index];
      return withLine({ path: formatPath(path), message: `${show(b.entry)} ${b.message}` }, lineAt(locate(doc, path)));
    });
    if (broad.length === 0) return { ok: true, config: parsed.data };
    return { ok: false, problems: capped(broad) };
  }

  const problems: ConfigProblem[] = [];
  // The file is within CONFIG_LIMITS, but 500 unknown keys are still 500 problems, each looked up in the
  // document: describe the first ones (in file order, as zod reports them) and count the rest.
  let unlisted = 0;
  for (const issue of parsed.error.issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s === "string" || typeof s === "number");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(path);
      for (const key of issue.keys) {
        if (problems.length >= MAX_PROBLEMS) {
          unlisted += 1;
          continue;
        }
        const keyPath = [...path, key];
        problems.push(withLine({ path: formatPath(keyPath), message: unknownKeyMessage(key, known) }, lineAt(locate(doc, keyPath))));
      }
      continue;
    }
    if (problems.length >= MAX_PROBLEMS) {
      unlisted += 1;
      continue;
    }
    const message = issueMessage(issue, valueAt(data, path), path);
    problems.push(withLine({ path: formatPath(path), message }, lineAt(locate(doc, path))));
  }
  return { ok: false, problems: capped(byLine(problems), unlisted) };
}

function withLine(p: ConfigProblem, line: number | undefined): ConfigProblem {
  return line === undefined ? p : { ...p, line };
}

/** In file order, so the list reads top to bottom; problems without a line go last. */
function byLine(problems: ConfigProblem[]): ConfigProblem[] {
  return problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}

function capped(problems: ConfigProblem[], unlisted = 0): ConfigProblem[] {
  const more = problems.length - MAX_PROBLEMS + unlisted;
  if (more <= 0) return problems;
  return [
    ...problems.slice(0, MAX_PROBLEMS),
    { path: FILE, message: `${more} more problem${more === 1 ? "" : "s"} not listed: fix these first` },
  ];
}

// --- limits -------------------------------------------------------------------------------------------

const KB = 1024;

/**
 * The first limit of CONFIG_LIMITS the text crosses, as a problem naming the line where it did, or null.
 * One pass of the YAML lexer (linear, and it knows quotes, comments and block scalars), stopped as soon as a
 * limit is crossed, so even the worst 256 KB file costs only the tokens up to the limit.
 */
export function checkLimits(text: string): ConfigProblem | null {
  const L = CONFIG_LIMITS;
  // A JS string of n UTF-16 units is at least n bytes: skip the exact count when that alone is too much.
  const bytes = text.length > L.bytes ? text.length : Buffer.byteLength(text, "utf8");
  if (bytes > L.bytes) {
    return {
      path: FILE,
      message:
        `the file is ${Math.ceil(bytes / KB)} KB; exfil-monitor reads at most ${L.bytes / KB} KB (a complete config is ` +
        "a few KB): remove what is not config (long comments, generated lists)",
    };
  }
  let tokens = 0;
  let keys = 0;
  let aliases = 0;
  let anchors = 0;
  let line = 1;
  let flow = 0;
  let column = 0;
  /** Columns of the block collections open at this point, innermost last. */
  const blocks: number[] = [];
  /** True at the first token of a line, and right after `- ` or `? ` (a nested node may start there). */
  let nodeStart = true;
  const over = (what: string, limit: number, advice: string): ConfigProblem => ({
    path: FILE,
    line,
    message: `more than ${limit.toLocaleString("en-US")} ${what} (a complete config has far fewer): ${advice}`,
  });
  for (const token of new Lexer().lex(text)) {
    tokens += 1;
    if (tokens > L.tokens) return over("YAML tokens (keys, values, list entries, comments)", L.tokens, "shorten the file");
    const type = CST.tokenType(token);
    switch (type) {
      case "map-value-ind":
      case "explicit-key-ind":
        if ((keys += 1) > L.keys) return over("keys", L.keys, "remove the keys exfil-monitor does not read");
        break;
      case "alias":
        if ((aliases += 1) > L.aliases) return over("aliases (`*name`)", L.aliases, "write the values out instead of aliasing them");
        break;
      case "anchor":
        if ((anchors += 1) > L.aliases) return over("anchors (`&name`)", L.aliases, "write the values out instead of aliasing them");
        break;
      case "flow-map-start":
      case "flow-seq-start":
        flow += 1;
        break;
      case "flow-map-end":
      case "flow-seq-end":
        flow = Math.max(0, flow - 1);
        break;
      case "flow-error-end":
        flow = 0;
        break;
    }
    // Block nesting follows columns: a node that starts a line, or follows `- ` / `? `, opens a level
    // deeper than every open level left of it. Inside `[...]`/`{...}` the flow count does the work.
    const content = type !== "space" && type !== "newline" && type !== "comment" && type !== "doc-mode" && type !== "byte-order-mark";
    if (content && flow === 0 && nodeStart && type !== "scalar") {
      while (blocks.length > 0 && (blocks[blocks.length - 1] ?? 0) > column) blocks.pop();
      if (blocks.length === 0 || (blocks[blocks.length - 1] ?? 0) < column) blocks.push(column);
    }
    if (content && blocks.length + flow > L.depth) {
      return over("levels of nesting", L.depth, "flatten the file");
    }
    if (type === "newline") nodeStart = true;
    else if (type === "seq-item-ind" || type === "explicit-key-ind") nodeStart = true;
    else if (content && type !== "scalar") nodeStart = false;
    // Markers the lexer inserts (document start, scalar) take no room in the text.
    if (type === "doc-mode" || type === "scalar" || type === "flow-error-end") continue;
    const nl = token.lastIndexOf("\n");
    if (nl < 0) column += token.length;
    else {
      for (let i = token.indexOf("\n"); i >= 0; i = token.indexOf("\n", i + 1)) line += 1;
      column = token.length - nl - 1;
    }
  }
  return null;
}

/** Keys given twice in one section: an error, never "the last one wins", which would hide an entry or a threshold. */
function duplicateKeys(node: unknown, path: PathSegment[], lineAt: (offset: number | undefined) => number | undefined): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = keyName(pair.key);
      if (key !== undefined) {
        // `1:` and `"1":` are one key once read: compare the text.
        if (seen.has(key)) {
          out.push(
            withLine(
              { path: formatPath([...path, key]), message: "this key appears twice in the same section: keep one (merge their values)" },
              lineAt((pair.key as YamlNode | null)?.range?.[0]),
            ),
          );
        }
        seen.add(key);
      }
      out.push(...duplicateKeys(pair.value, key === undefined ? path : [...path, key], lineAt));
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => out.push(...duplicateKeys(item, [...path, i], lineAt)));
  }
  return out;
}

// --- YAML errors --------------------------------------------------------------------------------------

function yamlProblem(doc: Document, e: YAMLError, lineAt: (offset: number | undefined) => number | undefined): ConfigProblem {
  const offset = e.pos[0];
  const path = formatPath(pathAtOffset(doc.contents, offset, []));
  const line = lineAt(offset);
  let message: string;
  switch (e.code) {
    case "DUPLICATE_KEY":
      message = "this key appears twice in the same section: keep one (merge their values)";
      break;
    case "MULTIPLE_DOCS":
      message = "the file holds several YAML documents (`---`): keep a single document";
      break;
    case "TAB_AS_INDENT":
      message = "tabs are not allowed for indentation in YAML: indent with spaces";
      break;
    case "TAG_RESOLVE_FAILED":
      message = `${e.message}: exfil-monitor reads plain YAML only; remove the \`!\` tag`;
      break;
    default:
      message = `YAML syntax error: ${e.message}`;
  }
  return withLine({ path, message }, line);
}

/** The key path of the deepest node that contains `offset`, for errors the YAML parser reports by position. */
function pathAtOffset(node: unknown, offset: number, path: PathSegment[]): PathSegment[] {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = keyName(pair.key);
      const keyRange = (pair.key as YamlNode | null)?.range;
      if (key === undefined || !keyRange) continue;
      const end = (pair.value as YamlNode | null)?.range?.[2] ?? keyRange[2];
      // Anything between the key and the end of its value (a tag, an anchor, the value) belongs to that key.
      if (offset >= keyRange[0] && offset < Math.max(end, keyRange[2])) {
        return offset < keyRange[2] ? [...path, key] : pathAtOffset(pair.value, offset, [...path, key]);
      }
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const range = (item as YamlNode | null)?.range;
      if (range && offset >= range[0] && offset < range[2]) return pathAtOffset(item, offset, [...path, i]);
    }
  }
  return path;
}

function keyName(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

/**
 * Offset of the node a key path names: the key itself for a map entry (where a reader looks), the item for
 * a list entry. Falls back to the nearest ancestor that exists.
 */
function locate(doc: Document, path: readonly PathSegment[]): number | undefined {
  let node: unknown = doc.contents;
  let found: number | undefined = (doc.contents as YamlNode | null)?.range?.[0];
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyName(p.key) === String(seg));
      if (!pair) break;
      found = (pair.key as YamlNode | null)?.range?.[0] ?? found;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item) break;
      found = item.range?.[0] ?? found;
      node = item;
    } else {
      break;
    }
  }
  return found;
}

// --- schema issues ------------------------------------------------------------------------------------

interface LooseDef {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  shape?: Record<string, ZodLike>;
  element?: ZodLike;
  valueType?: ZodLike;
}
interface ZodLike {
  _zod: { def: LooseDef };
}

const WRAPPERS = new Set(["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"]);

function unwrap(schema: ZodLike): ZodLike {
  let s = schema;
  for (let i = 0; i < 20; i += 1) {
    const def = s._zod.def;
    if (WRAPPERS.has(def.type) && def.innerType) s = def.innerType;
    else if (def.type === "pipe" && def.in) s = def.in;
    else break;
  }
  return s;
}

/** The keys the schema allows at a path, for "did you mean" suggestions. */
function knownKeysAt(path: readonly PathSegment[]): string[] {
  let s: ZodLike | undefined = unwrap(configSchema as unknown as ZodLike);
  for (const seg of path) {
    const def: LooseDef = s._zod.def;
    if (def.type === "object" && typeof seg === "string") s = def.shape?.[seg];
    else if (def.type === "array") s = def.element;
    else if (def.type === "record") s = def.valueType;
    else s = undefined;
    if (!s) return [];
    s = unwrap(s);
  }
  const def = s._zod.def;
  return def.type === "object" && def.shape ? Object.keys(def.shape) : [];
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  if (key === "_extends") {
    return (
      "unknown key `_extends`: exfil-monitor reads only this file, so that no other repository can change what it " +
      "watches. Copy the settings you need into this file and remove `_extends`"
    );
  }
  const suggestion = closest(key, known);
  const hint = suggestion ? `did you mean \`${suggestion}\`?` : known.length > 0 ? `known keys here: ${known.map((k) => `\`${k}\``).join(", ")}` : "remove it";
  return `unknown key ${show(key)}: ${hint}`;
}

/** The known key nearest to a typo, when it is near enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, "_");
  const w = norm(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, norm(c));
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const allowed = Math.max(1, Math.floor(w.length / 3));
  return bestDistance <= allowed ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v: unknown = data;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

function kindOf(v: unknown): string {
  if (v === null || v === undefined) return "nothing (an empty value)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a section of keys";
  if (typeof v === "string") return `the text ${show(v)}`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `\`${v}\``;
  return typeof v;
}

const EXPECTED: Record<string, string> = {
  object: "a section of keys",
  array: "a list",
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "`true` or `false`",
};

/** Short, bounded rendering of a value the user wrote. */
function show(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? String(v);
  const cut = s.length > 60 ? `${s.slice(0, 59)}…` : s;
  return JSON.stringify(cut);
}

function issueMessage(issue: z.core.$ZodIssue, value: unknown, path: readonly PathSegment[]): string {
  switch (issue.code) {
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      let msg = `expected ${expected}, got ${kindOf(value)}`;
      if (path.length === 0) return `the file must be a section of keys (\`mode:\`, \`alerts:\`, ...), not ${kindOf(value)}`;
      if (value === null || value === undefined) msg += ": fill it in, or remove the key to use its default";
      else if (issue.expected === "boolean" && typeof value === "string") msg += ": write `true` or `false` without quotes";
      else if ((issue.expected === "number" || issue.expected === "int") && typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) {
        msg += ": remove the quotes";
      } else if (issue.expected === "string" && (typeof value === "number" || typeof value === "boolean")) {
        msg += `: put it in quotes (${show(String(value))}) so YAML reads it as text`;
      } else if (issue.expected === "array" && typeof value === "string") msg += `: write a list, e.g. [${show(value)}]`;
      else if (issue.expected === "object" && typeof value === "boolean" && path[0] === "detectors" && path.length === 2) {
        msg += `: to switch the detector, write \`enabled: ${value}\` under it`;
      }
      return msg;
    }
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => `\`${String(v)}\``).join(", ")}; got ${kindOf(value)}`;
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const bound = small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum;
      const inclusive = issue.inclusive !== false;
      const cmp = small ? (inclusive ? "at least" : "more than") : inclusive ? "at most" : "less than";
      if (issue.origin === "string") {
        return small && Number(bound) === 1 ? "must not be empty" : `must be ${cmp} ${bound} characters long`;
      }
      if (issue.origin === "array" || issue.origin === "set") return `must have ${cmp} ${bound} entries`;
      return `must be ${cmp} ${bound}; got ${kindOf(value)}`;
    }
    case "invalid_format":
      // Schemas give regexes a message that says what is expected; keep it and show the value.
      return issue.message.startsWith("Invalid")
        ? `${show(value)} is not a valid ${issue.format}`
        : `${show(value)} is not ${issue.message}`;
    default:
      return issue.message;
  }
}

// --- fetching -----------------------------------------------------------------------------------------

/**
 * The most a contents answer for a file within CONFIG_LIMITS.bytes takes: base64 (4 characters per 3 bytes)
 * with a line break every 60 characters (written `\n` in JSON), and the file's metadata and links.
 */
const MAX_ANSWER_BYTES = Math.ceil(((CONFIG_LIMITS.bytes * 4) / 3) * (62 / 60)) + 16 * 1024;

/**
 * The JSON of a contents answer, read from its body stream until MAX_ANSWER_BYTES and no further: a larger
 * answer is a larger file, refused without reading or parsing the rest. A client that hands over parsed data
 * (test doubles, hand-made clients) is taken as it is.
 */
async function readBoundedJson(body: unknown, where: string): Promise<unknown> {
  const stream = body as { getReader?: () => ReadableStreamDefaultReader<Uint8Array> } | null;
  if (typeof stream?.getReader !== "function") return body;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new ConfigFileError(
        `${where} is over ${CONFIG_LIMITS.bytes / KB} KB; exfil-monitor reads at most ${CONFIG_LIMITS.bytes / KB} KB (a complete config is a few KB): remove what is not config`,
      );
    }
    chunks.push(value);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`GitHub's answer for ${where} is not JSON`, { cause: err });
  }
}

export type { OctokitLike };

/** The file exists but is not something a config can be read from (a directory, a submodule, too large). */
export class ConfigFileError extends Error {
  override name = "ConfigFileError";
}

/**
 * The text of `.github/exfil-monitor.yml` in the org's `.github` repository, or null when the repository or
 * the file does not exist (or the installation cannot see that repository, which GitHub also answers 404).
 *
 * Only that one file is ever read. A file inside a monitored repository is deliberately ignored: otherwise
 * anyone who can push to a repository could add themselves to an allowlist or turn a detector off for the
 * very repository they are copying. Changing the org's `.github` repository needs its own write access.
 */
export async function fetchOrgConfigText(octokit: OctokitLike, org: string): Promise<string | null> {
  const where = `${org}/${CONFIG_REPO}/${CONFIG_PATH}`;
  let data: unknown;
  try {
    const res = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: org,
      repo: CONFIG_REPO,
      path: CONFIG_PATH,
      // The answer is read here, with a bound, rather than by Octokit: GitHub inlines files up to 1 MB (as
      // base64 in JSON), and Octokit's JSON reader takes tens of milliseconds of the event loop on that.
      request: { parseSuccessResponseBody: false },
    });
    data = await readBoundedJson(res.data, where);
  } catch (err) {
    if ((err as { status?: unknown } | null)?.status === 404) return null;
    throw err;
  }
  if (Array.isArray(data)) throw new ConfigFileError(`${where} is a directory: make it a YAML file`);
  const file = (data ?? {}) as { type?: unknown; encoding?: unknown; content?: unknown; size?: unknown };
  if (file.type !== "file") {
    throw new ConfigFileError(`${where} is a ${String(file.type ?? "non-file")}, not a file: make it a plain YAML file`);
  }
  const limit = `exfil-monitor reads at most ${CONFIG_LIMITS.bytes / KB} KB (a complete config is a few KB)`;
  // Refused on the size GitHub reports, before anything is decoded or parsed.
  if (typeof file.size === "number" && file.size > CONFIG_LIMITS.bytes) {
    throw new ConfigFileError(`${where} is ${Math.ceil(file.size / KB)} KB; ${limit}: remove what is not config`);
  }
  if (file.encoding !== "base64" || typeof file.content !== "string") {
    // The contents API returns no content for files over 1 MB.
    throw new ConfigFileError(`${where} could not be read (${String(file.size ?? "?")} bytes): ${limit}`);
  }
  // Without a size, the base64 text itself says how large the file is.
  if (file.content.length > MAX_ANSWER_BYTES) {
    throw new ConfigFileError(`${where} is over ${CONFIG_LIMITS.bytes / KB} KB; ${limit}: remove what is not config`);
  }
  return Buffer.from(file.content, "base64").toString("utf8");
}
