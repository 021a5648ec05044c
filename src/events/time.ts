// The one reader of timestamps written by GitHub and by the tools an audit log passes through (streaming
// sinks, SIEM exports, spreadsheets), returning epoch milliseconds. A time without a zone is UTC, as GitHub
// records it, whatever the machine's TZ says: nothing here calls Date.parse, which reads a zoneless ISO
// date-time, and anything it half recognizes ("09/01/2026 10:00 PM"), in the local zone, so the same file
// would give different windows in Los Angeles and Tokyo.
//
// Numbers (and numeric text, exponent form included) are epoch time whose unit is told by magnitude: below
// 1e11 seconds (1e11 ms would be March 1973, 1e11 s is the year 5138), below 1e14 milliseconds, below 1e17
// microseconds, above that nanoseconds. Any time, however written, must fall in 2000-2099: a value outside
// is a misread unit or a wrong column (a spreadsheet serial day such as 46266.9, a YYYYMMDD number), and an
// entry dated far ahead would end every detector window early.

export type TimeReading = { ok: true; ms: number } | { ok: false; reason: string };

export interface TimeOptions {
  /** Accept a date alone ("2026-10-01") as its midnight UTC: right for --since, wrong for an event. */
  dateAlone?: boolean;
}

export const EARLIEST = Date.UTC(2000, 0, 1);
export const LATEST = Date.UTC(2100, 0, 1);

/** Plain text for error messages: the forms `readTimestamp` accepts. */
export const TIME_FORMATS =
  "ISO 8601 (2026-09-01T22:00:00Z, zone optional), 2026-09-01 22:00:00 UTC, 09/01/2026 10:00:00 PM, or epoch seconds or milliseconds";

/** Longest text worth trying: the longest accepted form with nine fraction digits and an offset is ~40. */
const MAX_TEXT = 64;

const NUMERIC = /^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?: ?(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?$/i;
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:,? (\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?: ?([AP]M))?)?(?: ?(Z|UTC|GMT))?$/i;

/** Epoch milliseconds (UTC) from any accepted form, or undefined. */
export function parseTimestamp(v: unknown, opts: TimeOptions = {}): number | undefined {
  const r = readTimestamp(v, opts);
  return r.ok ? r.ms : undefined;
}

/** Like parseTimestamp, with the reason when the value is refused (for the line-numbered report). */
export function readTimestamp(v: unknown, opts: TimeOptions = {}): TimeReading {
  if (typeof v === "number") return fromEpoch(v);
  if (typeof v !== "string") return fail(v === undefined || v === null ? "no time" : `not a time (${Array.isArray(v) ? "a list" : typeof v})`);
  const t = v.trim();
  if (t === "") return fail("no time");
  if (t.length > MAX_TEXT) return fail(`${t.length} characters, too long for a time`);
  if (NUMERIC.test(t)) return fromEpoch(Number(t));
  let m = ISO.exec(t);
  if (m) {
    const [, y, mo, d, h, mi, s, frac, zone] = m;
    if (h === undefined && !opts.dateAlone) return fail("a date without a time of day");
    if (h === undefined && zone !== undefined) return fail("a zone after a date without a time of day");
    return civil(+y!, +mo!, +d!, h === undefined ? 0 : +h, mi === undefined ? 0 : +mi, s === undefined ? 0 : +s, frac, zone);
  }
  m = US.exec(t);
  if (m) {
    const [, mo, d, y, h, mi, s, frac, ampm, zone] = m;
    if (+mo! > 12 && +d! <= 12) return fail("day/month/year, it seems: slash dates are read as month/day/year (US)");
    if (h === undefined && !opts.dateAlone) return fail("a date without a time of day");
    let hour = h === undefined ? 0 : +h;
    if (ampm !== undefined) {
      if (hour < 1 || hour > 12) return fail(`an hour that ${ampm.toUpperCase()} cannot have (${hour})`);
      hour = (hour % 12) + (ampm.toUpperCase() === "PM" ? 12 : 0);
    }
    return civil(+y!, +mo!, +d!, hour, mi === undefined ? 0 : +mi, s === undefined ? 0 : +s, frac, zone);
  }
  return fail(`in none of the forms read: ${TIME_FORMATS}`);
}

function fail(reason: string): TimeReading {
  return { ok: false, reason };
}

function inRange(ms: number): TimeReading {
  if (ms < EARLIEST || ms >= LATEST) return fail(`${Number.isFinite(ms) ? new Date(ms).toISOString() : "out of range"}, outside 2000-2099`);
  return { ok: true, ms };
}

function fromEpoch(n: number): TimeReading {
  if (!Number.isFinite(n) || n <= 0) return fail("not a positive epoch time");
  let ms: number;
  if (n < 1e11) ms = n * 1000;
  else if (n < 1e14) ms = n;
  else if (n < 1e17) ms = n / 1e3;
  else ms = n / 1e6;
  return inRange(Math.round(ms));
}

/** A calendar date and wall time, checked field by field (no 31 September, no 24:00), in `zone` or UTC. */
function civil(y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string | undefined, zone: string | undefined): TimeReading {
  if (mo < 1 || mo > 12) return fail(`a month that does not exist (${mo})`);
  if (h > 23 || mi > 59 || s > 59) return fail(`a time of day that does not exist (${pad(h)}:${pad(mi)}:${pad(s)})`);
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  let at = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (new Date(at).getUTCDate() !== d) return fail(`a day that does not exist (${y}-${pad(mo)}-${pad(d)})`);
  if (zone !== undefined && /^[+-]/.test(zone)) {
    const oh = Number(zone.slice(1, 3));
    const om = zone.length > 3 ? Number(zone.slice(-2)) : 0;
    if (oh > 23 || om > 59) return fail(`a zone offset that does not exist (${zone})`);
    at -= (zone[0] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return inRange(at);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}
