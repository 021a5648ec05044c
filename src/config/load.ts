// Reads the org's `.github/exfil-monitor.yml` and turns it into a Config, or into a list of problems that
// each name the key path, the line and the fix. Plain YAML only: nothing in the file is ever evaluated, no
// tag is resolved into code, and `_extends` is refused, so a config cannot pull settings from elsewhere.
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
  type YAMLError,
} from "yaml";
import type { z } from "zod";
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

export function parseConfigText(text: string): ParseResult {
  const lines = new LineCounter();
  // uniqueKeys: a key given twice is an error, never "the last one wins" (which would hide an allowlist
  // entry or a threshold someone thought was in force). The core schema has no merge keys and no JS tags.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, schema: "core" });
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lines.linePos(offset).line;

  const yamlProblems = [...doc.errors, ...doc.warnings].map((e) => yamlProblem(doc, e, lineAt));
  if (yamlProblems.length > 0) return { ok: false, problems: yamlProblems };

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
  if (parsed.success) return { ok: true, config: parsed.data };

  const problems: ConfigProblem[] = [];
  for (const issue of parsed.error.issues) {
    const path = issue.path.filter((s): s is PathSegment => typeof s === "string" || typeof s === "number");
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(path);
      for (const key of issue.keys) {
        const keyPath = [...path, key];
        problems.push(withLine({ path: formatPath(keyPath), message: unknownKeyMessage(key, known) }, lineAt(locate(doc, keyPath))));
      }
      continue;
    }
    const message = issueMessage(issue, valueAt(data, path), path);
    problems.push(withLine({ path: formatPath(path), message }, lineAt(locate(doc, path))));
  }
  // In file order, so the list reads top to bottom; problems without a line go last.
  problems.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return { ok: false, problems };
}

function withLine(p: ConfigProblem, line: number | undefined): ConfigProblem {
  return line === undefined ? p : { ...p, line };
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
  let data: unknown;
  try {
    ({ data } = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: org,
      repo: CONFIG_REPO,
      path: CONFIG_PATH,
    }));
  } catch (err) {
    if ((err as { status?: unknown } | null)?.status === 404) return null;
    throw err;
  }
  const where = `${org}/${CONFIG_REPO}/${CONFIG_PATH}`;
  if (Array.isArray(data)) throw new ConfigFileError(`${where} is a directory: make it a YAML file`);
  const file = (data ?? {}) as { type?: unknown; encoding?: unknown; content?: unknown; size?: unknown };
  if (file.type !== "file") {
    throw new ConfigFileError(`${where} is a ${String(file.type ?? "non-file")}, not a file: make it a plain YAML file`);
  }
  if (file.encoding !== "base64" || typeof file.content !== "string") {
    // The contents API returns no content for files over 1 MB.
    throw new ConfigFileError(`${where} could not be read (${String(file.size ?? "?")} bytes): keep it under 1 MB`);
  }
  return Buffer.from(file.content, "base64").toString("utf8");
}
