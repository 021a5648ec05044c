import { afterEach, describe, expect, it } from "vitest";
import { parseTimestamp, readTimestamp } from "../../src/events/time.js";

// 2026-09-01 22:00:00 UTC, the instant every accepted spelling below stands for.
const AT = Date.UTC(2026, 8, 1, 22, 0, 0);

const ACCEPTED: [string, unknown, number][] = [
  ["epoch milliseconds", AT, AT],
  ["epoch seconds", AT / 1000, AT],
  ["epoch seconds with a fraction", AT / 1000 + 0.25, AT + 250],
  ["epoch microseconds", AT * 1000, AT],
  ["epoch nanoseconds", AT * 1e6, AT],
  ["epoch milliseconds as text (CSV)", String(AT), AT],
  ["epoch seconds as text", String(AT / 1000), AT],
  ["epoch milliseconds in exponent form (a spreadsheet)", "1.788300000000E+12", AT],
  ["epoch seconds in exponent form, lower case", "1.7883e9", AT],
  ["epoch with white space around", `  ${AT}\t`, AT],
  ["ISO 8601 with Z", "2026-09-01T22:00:00Z", AT],
  ["ISO 8601 with milliseconds", "2026-09-01T22:00:00.000Z", AT],
  ["ISO 8601 with nanoseconds (truncated)", "2026-09-01T22:00:00.123456789Z", AT + 123],
  ["ISO 8601 with a comma before the fraction", "2026-09-01T22:00:00,5Z", AT + 500],
  ["ISO 8601 with an offset", "2026-09-02T07:00:00+09:00", AT],
  ["ISO 8601 with an offset without colon", "2026-09-01T15:00:00-0700", AT],
  ["ISO 8601 with an hour offset", "2026-09-02T00:00:00+02", AT],
  ["ISO 8601 with a half-hour offset", "2026-09-02T03:30:00+05:30", AT],
  ["ISO 8601 without zone (UTC)", "2026-09-01T22:00:00", AT],
  ["ISO 8601 without seconds", "2026-09-01T22:00", AT],
  ["ISO 8601 lower-case t and z", "2026-09-01t22:00:00z", AT],
  ["a space instead of T, no zone", "2026-09-01 22:00:00", AT],
  ["a space instead of T, with fraction", "2026-09-01 22:00:00.268", AT + 268],
  ["YYYY-MM-DD HH:MM:SS UTC (Ruby)", "2026-09-01 22:00:00 UTC", AT],
  ["with GMT", "2026-09-01 22:00:00 GMT", AT],
  ["with a spaced offset", "2026-09-01 15:00:00 -0700", AT],
  ["US spreadsheet, PM", "09/01/2026 10:00:00 PM", AT],
  ["US spreadsheet, no leading zeros, lower case", "9/1/2026 10:00:00 pm", AT],
  ["US spreadsheet, 24-hour without seconds (Excel's default)", "9/1/2026 22:00", AT],
  ["US with a comma (toLocaleString en-US)", "9/1/2026, 10:00:00 PM", AT],
  ["US with UTC", "09/01/2026 10:00:00 PM UTC", AT],
  ["12 AM is midnight", "09/02/2026 12:00:00 AM", Date.UTC(2026, 8, 2, 0, 0)],
  ["12 PM is noon", "09/01/2026 12:00:00 PM", Date.UTC(2026, 8, 1, 12, 0)],
  ["29 February in a leap year", "2028-02-29T00:00:00Z", Date.UTC(2028, 1, 29)],
];

const REFUSED: [string, unknown, RegExp][] = [
  ["nothing", undefined, /no time/],
  ["null", null, /no time/],
  ["empty text", "  ", /no time/],
  ["a boolean", true, /not a time \(boolean\)/],
  ["an object", { at: AT }, /not a time \(object\)/],
  ["a list", [AT], /not a time \(a list\)/],
  ["zero", 0, /not a positive/],
  ["a negative number", -AT, /not a positive/],
  ["a negative number as text", `-${AT}`, /in none of the forms read: ISO 8601/],
  ["NaN", Number.NaN, /not a positive/],
  ["Infinity", Number.POSITIVE_INFINITY, /not a positive/],
  ["a spreadsheet serial day", 46266.9, /outside 2000-2099/],
  ["a YYYYMMDD number", "20260901", /outside 2000-2099/],
  ["a 1970s epoch", 86_400, /outside 2000-2099/],
  ["the year 2100", "2100-01-01T00:00:00Z", /outside 2000-2099/],
  ["ms that a 9-digit typo makes 1975", 178_830_000_000, /outside 2000-2099/],
  ["a date alone", "2026-09-01", /without a time of day/],
  ["a US date alone", "09/01/2026", /without a time of day/],
  ["day/month/year", "13/09/2026 22:00", /month\/day\/year/],
  ["month 13", "2026-13-01T00:00:00Z", /a month that does not exist \(13\)/],
  ["31 September", "2026-09-31T22:00:00Z", /a day that does not exist \(2026-09-31\)/],
  ["29 February in a common year", "2026-02-29 10:00:00", /a day that does not exist \(2026-02-29\)/],
  ["hour 24", "2026-09-01T24:00:00Z", /a time of day that does not exist \(24:00:00\)/],
  ["a leap second", "2026-12-31T23:59:60Z", /\(23:59:60\)/],
  ["13 PM", "09/01/2026 13:00:00 PM", /an hour that PM cannot have \(13\)/],
  ["0 AM", "09/01/2026 0:00:00 AM", /AM cannot have \(0\)/],
  ["an offset of 25 hours", "2026-09-01T22:00:00+25:00", /a zone offset that does not exist/],
  ["a named zone other than UTC", "2026-09-01 22:00:00 PST", /in none of the forms read: ISO 8601/],
  ["two-digit year", "9/1/26 22:00", /in none of the forms read: ISO 8601/],
  ["words", "last tuesday", /in none of the forms read: ISO 8601/],
  ["JavaScript's Date string", "Tue Sep 01 2026 22:00:00 GMT+0000", /in none of the forms read: ISO 8601/],
  ["RFC 2822", "Tue, 01 Sep 2026 22:00:00 GMT", /in none of the forms read: ISO 8601/],
  ["hexadecimal", "0x1A0B", /in none of the forms read: ISO 8601/],
  ["a very long value", `2026-09-01T22:00:00${"0".repeat(100)}Z`, /too long/],
];

describe("readTimestamp", () => {
  it.each(ACCEPTED)("reads %s", (_what, value, expected) => {
    expect(readTimestamp(value)).toEqual({ ok: true, ms: expected });
    expect(parseTimestamp(value)).toBe(expected);
  });

  it.each(REFUSED)("refuses %s with a reason", (_what, value, reason) => {
    const r = readTimestamp(value);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toMatch(reason);
    expect(parseTimestamp(value)).toBeUndefined();
  });

  it("tells units apart by magnitude at the documented bounds", () => {
    // Just below 1e11 is seconds (the year 5138, refused as out of range); from 1e11 on it is milliseconds.
    expect(readTimestamp(99_999_999_999).ok).toBe(false);
    expect(parseTimestamp(1e11)).toBeUndefined(); // 1973: milliseconds, before 2000
    expect(parseTimestamp(1_000_000_000)).toBe(1_000_000_000_000); // 2001-09-09, seconds
    expect(parseTimestamp(1e12)).toBe(1e12); // 2001-09-09, milliseconds
    expect(parseTimestamp(1e15)).toBe(1e12); // microseconds
    expect(parseTimestamp(1e18)).toBe(1e12); // nanoseconds
  });

  it("accepts a date alone only when asked (--since)", () => {
    expect(parseTimestamp("2026-09-01", { dateAlone: true })).toBe(Date.UTC(2026, 8, 1));
    expect(parseTimestamp("09/01/2026", { dateAlone: true })).toBe(Date.UTC(2026, 8, 1));
    expect(readTimestamp("2026-09-01Z", { dateAlone: true })).toMatchObject({ ok: false });
  });

  describe("whatever TZ says", () => {
    const saved = process.env.TZ;
    afterEach(() => {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    });

    it.each(["America/Los_Angeles", "Asia/Tokyo", "Pacific/Chatham", "UTC"])("reads every form the same in %s", (zone) => {
      // Node applies a TZ change at once; the local offset is checked to prove the zone really changed.
      process.env.TZ = zone;
      const offset = new Date(AT).getTimezoneOffset();
      expect({ zone, offset }).toEqual({ zone, offset: { "America/Los_Angeles": 420, "Asia/Tokyo": -540, "Pacific/Chatham": -765, UTC: 0 }[zone] });
      for (const [what, value, expected] of ACCEPTED) expect({ what, ms: parseTimestamp(value) }).toEqual({ what, ms: expected });
    });
  });
});
