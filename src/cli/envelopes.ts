// Audit-log streams and SIEM exports wrap each GitHub audit-log entry in an envelope of their own: Splunk's
// HTTP Event Collector (`event`) and search exports (`result`, with the entry as `_raw` text or as flat
// fields), Datadog's log exports (`attributes`, the entry there or one level below), Azure Blob and Event Hubs
// (`records`, a list of entries). Without unwrapping, every line of such a file is "not an audit event" and a
// run over it gives no finding, which must never be mistaken for "nothing happened". The envelope is told
// from the value's keys, never from the file name, so a folder of mixed files reads as one log.
//
// Everything here reads input a stranger may have written: text inside an envelope is parsed with JSON.parse
// under the same size limit as a line of the file, nesting is followed only to the fixed depths listed
// above, and objects built from field names have no prototype and refuse names that reach one.

/** One value's outcome: an audit entry, or why a value (or one record of it) is not one. */
export type Unwrapped = { entry: object } | { reason: string };

/** The envelopes read, for messages that send a user to check their file's shape. */
export const KNOWN_ENVELOPES = "Splunk HEC or search export, Datadog log export, Azure `records`";

/** Ends the reason of a value that holds nested data but is in no envelope known here. */
export const UNKNOWN_ENVELOPE = " (an envelope this reader does not know?)";

/** The reason of a value that has no `action` and nothing nested that could hold one. */
export const NOT_AN_EVENT = "no `action` field: not an audit event";

/** Where an audit entry keeps its time (the converter's keys). */
const TIME_KEYS = ["@timestamp", "created_at", "timestamp", "at_sign_timestamp"];

/** Names that reach an object's prototype; no audit-log field is called that. */
const RESERVED = new Set(["__proto__", "constructor", "prototype"]);

/** Keys of a Splunk search export's rows that carry no result (progress, messages, the last-row mark). */
const SPLUNK_META = new Set(["preview", "offset", "init_offset", "lastrow", "messages", "fields", "highlighted", "post_process_count"]);

/** Keys of a Datadog API page around its list of logs. */
const DATADOG_PAGE = new Set(["data", "meta", "links"]);

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** `o[k]` when `o` itself has it: an inherited name (`constructor`) is never taken for a field. */
const own = (o: Obj, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

const hasAction = (o: Obj): boolean => typeof own(o, "action") === "string";

const hasTime = (o: Obj): boolean =>
  TIME_KEYS.some((k) => {
    const v = own(o, k);
    return v !== undefined && v !== null && v !== "";
  });

/**
 * The audit entries in one parsed JSON value: the value itself when it is a bare entry, the entry or entries
 * inside a known envelope (none for a Splunk export's rows without a result, or an empty `records`), or
 * the reason it is neither. `maxTextChars` bounds any JSON text inside the envelope that is parsed.
 */
export function unwrapEntries(value: unknown, maxTextChars: number): Unwrapped[] {
  if (!isObj(value)) return [{ reason: "not a JSON object" }];
  if (hasAction(value)) return [{ entry: value }];
  // Lists of entries: Azure's `records`, a Splunk REST search's `results`, a Datadog API page's `data`.
  const records = own(value, "records");
  if (Array.isArray(records)) return list(records, "records", maxTextChars);
  const results = own(value, "results");
  if (Array.isArray(results) && Object.keys(value).every((k) => k === "results" || SPLUNK_META.has(k))) {
    return results.map((r, i) => (isObj(r) ? splunkResult(r, maxTextChars, `results[${i}]`) : { reason: `\`results[${i}]\` is not a JSON object` }));
  }
  const data = own(value, "data");
  if (Array.isArray(data) && Object.keys(value).every((k) => DATADOG_PAGE.has(k))) return list(data, "data", maxTextChars);
  const one = single(value, maxTextChars);
  if (one) return [one];
  // A Splunk export's progress and message rows, and its closing `lastrow` mark, stand around the results.
  if (Object.keys(value).length > 0 && Object.keys(value).every((k) => SPLUNK_META.has(k)) && (Object.hasOwn(value, "preview") || Object.hasOwn(value, "lastrow"))) {
    return [];
  }
  return [{ reason: noAction(value) }];
}

/** Each element of a list envelope, itself a bare entry or in a one-entry envelope (never another list). */
function list(items: unknown[], key: string, maxTextChars: number): Unwrapped[] {
  return items.map((item, i): Unwrapped => {
    const where = `\`${key}[${i}]\``;
    if (!isObj(item)) return { reason: `${where} is not a JSON object` };
    if (hasAction(item)) return { entry: item };
    const one = single(item, maxTextChars);
    if (!one) return { reason: `${where}: ${noAction(item)}` };
    return "reason" in one ? { reason: `${where}: ${one.reason}` } : one;
  });
}

/** The entry of a one-entry envelope (Splunk export row, Splunk HEC, Datadog log), or undefined for none. */
function single(value: Obj, maxTextChars: number): Unwrapped | undefined {
  const result = own(value, "result");
  if (isObj(result)) return splunkResult(result, maxTextChars, "result");
  if (Object.hasOwn(value, "event")) return hecEvent(value.event, maxTextChars);
  const attributes = own(value, "attributes");
  const content = own(value, "content");
  if (isObj(attributes) || isObj(content)) return datadogLog(value, maxTextChars);
  return undefined;
}

// --- Splunk -----------------------------------------------------------------------------------------------

/** Splunk's HTTP Event Collector format: the entry is `event`, as an object or as JSON text. */
function hecEvent(event: unknown, maxTextChars: number): Unwrapped {
  let v = event;
  if (typeof v === "string") {
    const parsed = parseText(v, maxTextChars);
    if ("error" in parsed) return { reason: `Splunk HEC \`event\` is text that is not a JSON audit entry (${parsed.error})` };
    v = parsed.value;
  }
  if (!isObj(v)) return { reason: "Splunk HEC `event` is not a JSON object" };
  if (!hasAction(v)) return { reason: `Splunk HEC \`event\` has ${noAction(v)}` };
  return { entry: v };
}

/**
 * One result of a Splunk search export: `_raw` is the event as it was indexed, the entry's JSON text, and
 * is read first since it keeps the entry's types. Without a usable `_raw` (a search that left it out, or an
 * event Splunk truncated at its line limit) the result's own fields are the entry, flattened by Splunk's
 * JSON extraction to dotted names.
 */
function splunkResult(result: Obj, maxTextChars: number, where: string): Unwrapped {
  const raw = own(result, "_raw");
  let rawProblem: string | undefined;
  if (typeof raw === "string") {
    const parsed = parseText(raw, maxTextChars);
    if ("error" in parsed) rawProblem = `\`${where}._raw\` is not valid JSON (${parsed.error})`;
    else if (!isObj(parsed.value)) rawProblem = `\`${where}._raw\` is not a JSON object`;
    else if (hasAction(parsed.value)) return { entry: parsed.value };
    else rawProblem = `\`${where}._raw\` has ${noAction(parsed.value)}`;
  }
  return fromSplunkFields(result, where) ?? { reason: rawProblem ?? `Splunk \`${where}\` has ${noAction(result)}` };
}

/**
 * A Splunk result's fields as an entry: `a.b` nests as in the CSV export, `a{}` (a multivalue field) is `a`,
 * a field holding one value in a list is that value. Splunk's own fields (`_time`, `_cd`, `_serial`...) are
 * left out, except that `_time` stands in for an entry time the fields lack. Undefined when the fields
 * hold no `action` text.
 */
function fromSplunkFields(result: Obj, where: string): Unwrapped | undefined {
  const entry = Object.create(null) as Obj;
  for (const [name, cell] of Object.entries(result)) {
    const path = name.split(".").map((p) => (p.endsWith("{}") ? p.slice(0, -2) : p));
    const bad = path.find((p) => RESERVED.has(p));
    if (bad !== undefined) {
      return { reason: `Splunk \`${where}\` has a field named ${JSON.stringify(name.slice(0, 60))}: no audit-log field is called ${JSON.stringify(bad)}` };
    }
    if (name.startsWith("_") && name !== "_document_id") continue;
    if (cell === undefined || cell === null || cell === "") continue;
    if (path.includes("")) continue;
    const value = Array.isArray(cell) && cell.length === 1 ? cell[0] : cell;
    let o = entry;
    for (let j = 0; j < path.length - 1; j++) {
      const k = path[j]!;
      const next = o[k];
      if (isObj(next)) o = next;
      else o = o[k] = Object.create(null) as Obj;
    }
    o[path[path.length - 1]!] = value;
  }
  if (typeof entry.action !== "string") return undefined;
  const time = own(result, "_time");
  if (!hasTime(entry) && typeof time === "string" && time !== "") entry["@timestamp"] = time;
  return { entry };
}

// --- Datadog ----------------------------------------------------------------------------------------------

/**
 * A Datadog log: the entry is `attributes` (or the v1 API's `content`) itself, or one level below it or
 * below its custom `attributes`, as an object (`attributes.attributes`) or as JSON text (`message`, or a
 * pipeline's `github`, `audit`, `log`).
 * Datadog's own keys sit beside the entry's, so the object picked is the first that has both `action` and a
 * time; failing that, the first with `action`, whose missing time the converter then reports.
 */
function datadogLog(value: Obj, maxTextChars: number): Unwrapped {
  const outer: Obj[] = [];
  for (const k of ["attributes", "content"]) {
    const v = own(value, k);
    if (isObj(v)) outer.push(v);
  }
  const candidates: Obj[] = [...outer];
  // Datadog's custom attributes sit under `attributes` of either: one level below them is looked at too.
  const holders = [...outer];
  for (const o of outer) {
    const custom = own(o, "attributes");
    if (isObj(custom)) holders.push(custom);
  }
  for (const o of holders) {
    for (const v of Object.values(o)) {
      if (isObj(v)) candidates.push(v);
      else if (typeof v === "string" && v.trimStart().startsWith("{")) {
        const parsed = parseText(v, maxTextChars);
        if ("value" in parsed && isObj(parsed.value)) candidates.push(parsed.value);
      }
    }
  }
  const withAction = candidates.filter(hasAction);
  const entry = withAction.find(hasTime) ?? withAction[0];
  if (entry) return { entry };
  const first = outer[0]!;
  return { reason: `Datadog log: no \`action\` field in \`${first === own(value, "attributes") ? "attributes" : "content"}\` or below it; keys: ${keyList(first)}` };
}

// --- shared -----------------------------------------------------------------------------------------------

/** JSON text inside an envelope: parsed only when no longer than a line of the file may be. */
function parseText(text: string, maxTextChars: number): { value: unknown } | { error: string } {
  if (text.length > maxTextChars) return { error: `longer than ${maxTextChars} characters` };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Why an object without `action` is not read. One holding nested data may be an entry in an envelope not
 * known here, so its keys are named for the user to recognise it; one of plain values is just not an event.
 */
function noAction(o: Obj): string {
  const nested = Object.values(o).some((v) => (typeof v === "object" && v !== null) || (typeof v === "string" && /^\s*[[{]/.test(v)));
  return nested ? `no \`action\` field; keys: ${keyList(o)}${UNKNOWN_ENVELOPE}` : NOT_AN_EVENT;
}

/** The first keys of `o`, each clipped, in quotes when not a plain name, so a crafted key cannot forge a message. */
function keyList(o: Obj): string {
  const keys = Object.keys(o);
  if (keys.length === 0) return "(none)";
  const shown = keys.slice(0, 12).map((k) => (/^[\w@$.:-]{1,40}$/.test(k) ? k : JSON.stringify(k.slice(0, 40))));
  return shown.join(", ") + (keys.length > 12 ? `, ... (${keys.length} in all)` : "");
}
