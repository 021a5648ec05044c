// multi-country: one account (or one token) used from several countries within a short time, the shared or
// stolen account the FBI warning describes (a remote worker's account driven from abroad). Public rule sets
// only look for impossible travel between two logins; this also flags two countries within a window
// (critical when the account goes back and forth, A → B → A) and impossible travel beyond the window.
//
// Travel versus a VPN: many people switch every day between home and a corporate VPN exit abroad. So the
// detector learns, per account, its usual countries and the country pairs it usually switches between, and,
// for the whole org, the egress networks many accounts use from one country (shared corporate exits). A
// switch that this history explains is not reported; a country new to the account, a country on the
// high-risk list, an unexplained back-and-forth and impossible travel between countries that are not
// neighbours stay sharp. The audit log locates events only to a country, so distances are between country
// centroids, and neighbours (land borders, short sea links) are never impossible travel.
import { z } from "zod";
import { distanceKm, toCountryCode } from "../geo/countries.js";
import { areNeighbours } from "../geo/neighbours.js";
import { DEFAULT_HIGH_RISK_COUNTRIES } from "../geo/risk.js";
import { MAX_EXIT_ACCOUNTS, cidrEntry, exitKey, inAnyCidr, isAutomation, isSharedExit, isoHour, parseIp, sight } from "./shared.js";
import type { Severity } from "../domain/severity.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/**
 * How long the last location is kept for impossible travel: no two points on Earth are more than ~20,000 km
 * apart, so beyond a day no speed threshold worth setting can be exceeded.
 */
const LAST_SEEN_MS = 24 * HOUR;
/** Country changes remembered per key; more than this within one window is already a finding. */
const MAX_RUNS = 32;
/** Countries and country pairs an account's history keeps, the most recently seen first. */
const MAX_HISTORY_COUNTRIES = 16;
const MAX_HISTORY_PAIRS = 16;
/** Allowlist entries: enough for every office and VPN range of a large company. */
const MAX_SHARED_EXITS = 200;

/**
 * A run of consecutive observations from one country: [country, first at, last at, 1 when any of them came
 * through a shared exit].
 */
type Run = [country: string, first: number, last: number, shared: 0 | 1];

/** Where one actor or token has been seen lately, and the incident in progress. */
interface Track {
  runs: Run[];
  /** Incident in progress: window start, last time the pattern held, highest severity so far. */
  inc?: { s: number; l: number; sev: Severity };
}

function readTrack(state: DetectorState, key: string): Track {
  const raw = state.get<Track>(key);
  if (!raw || typeof raw !== "object" || !Array.isArray(raw.runs)) return { runs: [] };
  const runs = raw.runs
    .filter(
      (r): r is Run =>
        Array.isArray(r) && typeof r[0] === "string" && typeof r[1] === "number" && typeof r[2] === "number",
    )
    .map((r): Run => [r[0], r[1], r[2], r[3] === 1 ? 1 : 0]);
  const i = raw.inc;
  const inc =
    i && typeof i === "object" && typeof i.s === "number" && typeof i.l === "number" && Object.hasOwn(RANK, i.sev)
      ? i
      : undefined;
  return { runs, ...(inc ? { inc } : {}) };
}

/**
 * What one account (or token) has done over `history_days`: the day numbers (days since the epoch, UTC) it
 * was seen in each country and switched between each pair of countries. Short keys: stored per account.
 */
interface History {
  /** First located observation not through a shared exit: the account's home when it started. */
  f?: number;
  /** Country → [first seen, distinct days seen]. */
  c: Record<string, [first: number, days: number[]]>;
  /** `AA-BB` (sorted) → distinct days the account switched between the two. */
  p: Record<string, number[]>;
}

const isDays = (d: unknown): d is number[] => Array.isArray(d) && d.every((x) => typeof x === "number");

function readHistory(state: DetectorState, key: string): History {
  const raw = state.get<History>(key);
  const h: History = { c: {}, p: {} };
  if (!raw || typeof raw !== "object") return h;
  if (typeof raw.f === "number") h.f = raw.f;
  for (const [k, v] of Object.entries(raw.c ?? {})) {
    if (Array.isArray(v) && typeof v[0] === "number" && isDays(v[1])) h.c[k] = [v[0], v[1]];
  }
  for (const [k, v] of Object.entries(raw.p ?? {})) if (isDays(v)) h.p[k] = v;
  return h;
}

const pairKey = (a: string, b: string) => (a < b ? `${a}-${b}` : `${b}-${a}`);

/** Adds `day` to a sorted list of distinct days, dropping days before `from`. Whether the list changed. */
function addDay(days: number[], day: number, from: number): boolean {
  const before = days.length;
  const kept = days.filter((d) => d >= from);
  const had = kept.includes(day);
  if (!had && day >= from) kept.push(day);
  kept.sort((x, y) => x - y);
  days.splice(0, days.length, ...kept);
  return !had || kept.length !== before;
}

/** Keeps the `max` entries whose latest day is newest; days past the horizon already dropped. */
function newest<T>(entries: [string, T][], latest: (v: T) => number, max: number): [string, T][] {
  return entries.length <= max ? entries : [...entries].sort((x, y) => latest(y[1]) - latest(x[1])).slice(0, max);
}

interface Learning {
  /** Distinct days a country needs within `historyDays` to be usual. */
  usualDays: number;
  usualPairDays: number;
  historyDays: number;
}

/** Learns one observation and the switches it made; writes only when something new was learned. */
function learn(
  state: DetectorState,
  key: string,
  h: History,
  country: string,
  at: number,
  shared: boolean,
  switched: string[],
  l: Learning,
): void {
  const day = Math.floor(at / DAY);
  const from = day - l.historyDays + 1;
  let dirty = false;
  if (!shared && (h.f === undefined || at < h.f)) {
    h.f = at;
    dirty = true;
  }
  const entry = h.c[country];
  if (!entry) {
    h.c[country] = [at, [day]];
    dirty = true;
  } else {
    if (at < entry[0]) {
      entry[0] = at;
      dirty = true;
    }
    if (addDay(entry[1], day, from)) dirty = true;
  }
  for (const other of switched) {
    const k = pairKey(country, other);
    const days = h.p[k] ?? [];
    if (addDay(days, day, from)) dirty = true;
    h.p[k] = days;
  }
  if (!dirty) return;
  const last = (days: number[]) => days[days.length - 1] ?? -Infinity;
  const countries = Object.entries(h.c).filter(([, v]) => v[1].some((d) => d >= from));
  const pairs = Object.entries(h.p).filter(([, v]) => v.some((d) => d >= from));
  h.c = Object.fromEntries(newest(countries, (v) => last(v[1]), MAX_HISTORY_COUNTRIES));
  h.p = Object.fromEntries(newest(pairs, last, MAX_HISTORY_PAIRS));
  const latestDay = Math.max(day, ...Object.values(h.c).map((v) => last(v[1])));
  state.set(key, h, (latestDay + 1 + l.historyDays) * DAY);
}

interface Travel {
  from: string;
  to: string;
  km: number;
  minutes: number;
  kmh: number;
  /** Time of the earlier of the two observations. */
  since: number;
}

/**
 * Puts one observation into the time-ordered runs. Events may arrive slightly out of order, so an
 * observation can land before, between or inside existing runs. Returns the index of the run that holds it
 * and whether it started a new run (a change of country).
 */
function place(runs: Run[], country: string, at: number, shared: 0 | 1): { index: number; changed: boolean; split: boolean } {
  let i = runs.length;
  while (i > 0 && (runs[i - 1] as Run)[1] > at) i -= 1;
  const prev = runs[i - 1];
  const next = runs[i];
  if (prev && at <= prev[2] && (prev[0] === country || at < prev[2])) {
    if (prev[0] === country) {
      if (shared) prev[3] = 1;
      return { index: i - 1, changed: false, split: false };
    }
    // Seen strictly inside another country's run: the account was in both places, split the run around
    // it. At the run's very end (the same millisecond as its last entry) nothing of that country comes
    // after, so it is a plain change of country, not A → B → A.
    runs.splice(i - 1, 1, [prev[0], prev[1], at, prev[3]], [country, at, at, shared], [prev[0], at, prev[2], prev[3]]);
    return { index: i, changed: true, split: true };
  }
  if (prev && prev[0] === country) {
    prev[2] = at;
    if (shared) prev[3] = 1;
    return { index: i - 1, changed: false, split: false };
  }
  if (next && next[0] === country) {
    next[1] = at;
    if (shared) next[3] = 1;
    return { index: i, changed: false, split: false };
  }
  runs.splice(i, 0, [country, at, at, shared]);
  return { index: i, changed: true, split: false };
}

function travelBetween(a: Run, b: Run, minKm: number, maxKmh: number): Travel | undefined {
  // Neighbours say nothing: the owner may live minutes from the border, whatever the centroids say.
  if (areNeighbours(a[0], b[0])) return undefined;
  const km = distanceKm(a[0], b[0]);
  if (km === null || km < minKm) return undefined;
  const ms = Math.max(0, b[1] - a[2]);
  const kmh = ms === 0 ? Infinity : km / (ms / HOUR);
  if (kmh <= maxKmh) return undefined;
  return { from: a[0], to: b[0], km: Math.round(km), minutes: Math.round(ms / MINUTE), kmh, since: a[2] };
}

interface Assessment {
  severity: Severity;
  countries: string[];
  path: string;
  interleaved: boolean;
  travel: Travel | undefined;
  incidentStart: number;
  /** Countries in the window the account had not been seen in before it. */
  fresh: string[];
  highRisk: string[];
  usual: string[];
  viaSharedExit: string[];
}

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

interface Rules extends Learning {
  windowMs: number;
  minKm: number;
  maxKmh: number;
  highRisk: ReadonlySet<string>;
}

/** How the account's history reads the countries of one window. */
function reader(h: History, at: number, windowStart: number, r: Rules) {
  const from = Math.floor(at / DAY) - r.historyDays + 1;
  const daysIn = (days: number[] | undefined) => (days ?? []).filter((d) => d >= from).length;
  const usual = (c: string) => daysIn(h.c[c]?.[1]) >= r.usualDays;
  const usualPair = (a: string, b: string) => daysIn(h.p[pairKey(a, b)]) >= r.usualPairDays;
  // Seen before this window, or the account's very first country: anything else is new to the account.
  const established = (c: string) => {
    const e = h.c[c];
    return e !== undefined && (usual(c) || e[0] < windowStart || (h.f !== undefined && e[0] <= h.f));
  };
  const risky = (c: string) => r.highRisk.has(c);
  /**
   * A switch the history explains: between two usual countries the account usually switches between, or to
   * or from a shared exit when the other side is a country the account is known in. Never for a high-risk
   * country.
   */
  const explained = (a: Run, b: Run) => {
    if (risky(a[0]) || risky(b[0])) return false;
    if (a[3] && b[3]) return true;
    if (b[3]) return established(a[0]);
    if (a[3]) return established(b[0]);
    return usual(a[0]) && usual(b[0]) && usualPair(a[0], b[0]);
  };
  return { usual, established, risky, explained };
}

function observe(
  state: DetectorState,
  key: string,
  country: string,
  at: number,
  shared: boolean,
  r: Rules,
): Assessment | undefined {
  const t = readTrack(state, key);
  const historyKey = `hist:${key}`;
  const h = readHistory(state, historyKey);
  const { index, changed, split } = place(t.runs, country, at, shared ? 1 : 0);
  const here = t.runs[index] as Run;
  const before = t.runs[index - 1];
  const after = t.runs[index + 1];
  const end = t.runs.reduce((m, x) => Math.max(m, x[2]), -Infinity);
  const windowStart = end - r.windowMs;
  // Judged against the history before this observation, so a country's first appearance is new.
  const read = reader(h, at, windowStart, r);

  let travel: Travel | undefined;
  // A split run is already a back-and-forth; its pieces' end times are not real observations to time travel by.
  if (changed && !split) {
    travel =
      (before && !read.explained(before, here) && travelBetween(before, here, r.minKm, r.maxKmh)) ||
      (after && !read.explained(here, after) && travelBetween(here, after, r.minKm, r.maxKmh)) ||
      undefined;
  }
  // Keep the window, and always the latest run: it is the "last seen" that impossible travel compares with.
  const last = t.runs[t.runs.length - 1];
  t.runs = t.runs.filter((x) => x[2] >= windowStart || x === last);
  if (t.runs.length > MAX_RUNS) t.runs = t.runs.slice(-MAX_RUNS);

  const inWindow = t.runs.filter((x) => x[2] >= windowStart);
  const countries = [...new Set(inWindow.map((x) => x[0]))];
  // Adjacent runs always differ, so a country in two runs means the account went away and came back.
  const interleaved = countries.length < inWindow.length;
  const switches = inWindow.slice(1).map((b, i) => [inWindow[i] as Run, b] as const);
  const unexplained = switches.filter(([a, b]) => !read.explained(a, b));
  // Going back and forth is explained only between usual countries, one side through a shared exit each time.
  const backAndForthExplained =
    unexplained.length === 0 && countries.every(read.usual) && switches.every(([a, b]) => a[3] === 1 || b[3] === 1);
  let severity: Severity | undefined;
  if (interleaved && !backAndForthExplained) severity = "critical";
  else if (unexplained.length > 0 || travel) severity = "high";

  let result: Assessment | undefined;
  const inc = t.inc;
  if (severity) {
    // The earliest observation known to be inside the window: a run's first, or its last when it began earlier.
    let start = inWindow.reduce((m, x) => Math.min(m, x[1] >= windowStart ? x[1] : x[2]), end);
    if (travel) start = Math.min(start, travel.since);
    // An impossible journey that starts inside the incident (the account coming back home hours later) is
    // more of the same incident, not a new one.
    const ongoing = inc && (end - inc.l <= r.windowMs || (travel !== undefined && travel.since >= inc.s && travel.since <= inc.l));
    const next = ongoing
      ? { s: inc.s, l: Math.max(inc.l, end), sev: RANK[inc.sev] >= RANK[severity] ? inc.sev : severity }
      : { s: start, l: end, sev: severity };
    t.inc = next;
    // Repeats from a country already in the window add nothing; a change of country or a worse pattern does.
    if (changed || !ongoing || next.sev !== inc.sev) {
      const involved = travel ? [...new Set([...countries, travel.from, travel.to])] : countries;
      result = {
        severity: next.sev,
        countries,
        path: inWindow.map((x) => x[0]).join(" → "),
        interleaved,
        travel,
        incidentStart: next.s,
        fresh: involved.filter((c) => !read.established(c)),
        highRisk: involved.filter(read.risky),
        usual: Object.keys(h.c).filter(read.usual).sort(),
        viaSharedExit: [...new Set(inWindow.filter((x) => x[3] === 1).map((x) => x[0]))],
      };
    }
  } else if (inc && end - inc.l > r.windowMs) {
    delete t.inc;
  }
  state.set(key, t, Math.max(end + LAST_SEEN_MS, end + r.windowMs));
  const switched = changed ? [before, after].filter((x): x is Run => x !== undefined && x[0] !== country).map((x) => x[0]) : [];
  learn(state, historyKey, h, country, at, shared, switched, r);
  return result;
}

/** An ISO country code, as the high-risk list accepts it. */
const countryEntry = z
  .string()
  .min(2)
  .max(2)
  .refine((s) => toCountryCode(s) !== null, { message: "not an ISO 3166-1 alpha-2 country code (e.g. KP)" });

export const multiCountry = defineDetector({
  id: "multi-country",
  title: "One account used from several countries",
  warningSign: "one account used from several countries",
  source: "audit log `actor_location.country_code` of any action",
  defaultSeverity: "high",
  enabledByDefault: true,
  // Every located audit entry tells where the account was; there are no sign-in events to rely on.
  actions: ["*"],
  settings: z.object({
    window_hours: z
      .number()
      .min(0.25)
      .max(48)
      .default(2)
      .describe(
        "Two or more countries for one actor (or token) within this many hours is high, unless the account's history or a shared exit explains each switch; A → B → A is critical.",
      )
      .register(watches, { weaker: "lower" }),
    max_speed_kmh: z
      .number()
      .min(100)
      .default(1000)
      .describe("Impossible travel: faster than this between two consecutive countries is high, even beyond the window.")
      .register(watches, { weaker: "higher" }),
    min_distance_km: z
      .number()
      .min(0)
      .default(500)
      .describe(
        "Impossible travel ignores countries whose centroids are closer than this. Neighbours (land borders, short sea links) are never impossible travel, whatever this says.",
      )
      .register(watches, { weaker: "higher" }),
    history_days: z
      .number()
      .int()
      .min(7)
      .max(90)
      .default(30)
      .describe("How many days of an account's countries and country switches are kept to learn what is usual for it.")
      .register(watches, { weaker: "higher" }),
    usual_country_days: z
      .number()
      .int()
      .min(1)
      .max(30)
      .default(3)
      .describe("A country the account was seen in on at least this many distinct days within `history_days` is usual for it.")
      .register(watches, { weaker: "lower" }),
    usual_pair_days: z
      .number()
      .int()
      .min(1)
      .max(30)
      .default(3)
      .describe(
        "Two countries the account switched between on at least this many distinct days within `history_days` are a usual pair (home and a VPN exit); a switch between usual countries of a usual pair is not reported.",
      )
      .register(watches, { weaker: "lower" }),
    high_risk_countries: z
      .array(countryEntry)
      .max(250)
      .default([...DEFAULT_HIGH_RISK_COUNTRIES])
      .describe(
        "ISO country codes a switch to or from is always reported, whatever the account's history or shared exits say. Default: the countries the warning's workers operate from (KP, CN, RU).",
      )
      .register(watches, { weaker: "removed" }),
    shared_exit_accounts: z
      .number()
      .int()
      .min(2)
      .max(MAX_EXIT_ACCOUNTS)
      .default(5)
      .describe(
        "An egress network (an IPv4 /24 or an IPv6 /64) where at least this many distinct accounts were seen from the same country, each first a day or more before, within `shared_exit_days`, is a shared corporate exit: a switch to or from it is not travel by itself.",
      )
      .register(watches, { weaker: "lower" }),
    shared_exit_days: z
      .number()
      .int()
      .min(1)
      .max(90)
      .default(14)
      .describe("How long an account's use of an egress network is remembered for learning shared exits, in days after its last use.")
      .register(watches, { weaker: "higher" }),
    shared_exits: z
      .array(cidrEntry)
      .max(MAX_SHARED_EXITS)
      .default([])
      .describe(
        `Addresses or CIDRs (\`203.0.113.0/24\`, \`2001:db8::/48\`) that are shared exits from the first day: the corporate VPN, offices. At most ${MAX_SHARED_EXITS}.`,
      )
      .register(watches, { weaker: "added" }),
  }),
  nextSteps: [
    "Ask the person whether they travelled or use a VPN or remote desktop abroad; confirm with their manager, not only with the account.",
    "If it is not explained: sign the account out everywhere (revoke web sessions, SSH keys, personal access tokens and OAuth grants) and reset its credentials.",
    "Require the person to re-verify their identity (a video call with ID, a hardware security key) before access is restored.",
    "Review what the account did from each country in this window (clones, downloads, new credentials) and check the mass-clone and credential-added findings for it.",
    "If the switch is the corporate VPN, list its egress ranges in `shared_exits` so it is known from the first day.",
  ],
  detect(event, ctx) {
    if (event.country === null || event.country === undefined || !Number.isFinite(event.at)) return [];
    if (isAutomation(event)) return [];
    if (!event.actor && !event.token) return [];
    const country = toCountryCode(event.country);
    if (!country) return [];
    const s = ctx.settings;
    const rules: Rules = {
      windowMs: s.window_hours * HOUR,
      minKm: s.min_distance_km,
      maxKmh: s.max_speed_kmh,
      highRisk: new Set(s.high_risk_countries.map((c) => toCountryCode(c) ?? c.toUpperCase())),
      usualDays: s.usual_country_days,
      usualPairDays: s.usual_pair_days,
      historyDays: s.history_days,
    };
    // A shared exit is judged before this event teaches it: an account's first day on it never makes it shared.
    const bytes = event.ip ? parseIp(event.ip) : null;
    let shared = false;
    if (bytes) {
      const exitKeyed = `exit:${exitKey(bytes)}:${country}`;
      const keepMs = s.shared_exit_days * DAY;
      shared =
        inAnyCidr(bytes, s.shared_exits) || isSharedExit(ctx.state, exitKeyed, event.at, s.shared_exit_accounts, keepMs);
      if (event.actor) sight(ctx.state, exitKeyed, event.actor, event.at, keepMs);
    }
    const byActor = event.actor ? observe(ctx.state, `actor:${event.actor}`, country, event.at, shared, rules) : undefined;
    const byToken = event.token ? observe(ctx.state, `token:${event.token}`, country, event.at, shared, rules) : undefined;
    let a: Assessment;
    let who: string;
    let prefix: string;
    if (byActor && event.actor) {
      a = byActor;
      who = event.actor;
      prefix = event.actor;
    } else if (byToken && event.token && !event.actor) {
      // Entries without an actor are tied to the rest of the token's use only through the token; when
      // the actor is known, the actor's own track already holds every country the token was used from.
      a = byToken;
      who = `token ${event.token}`;
      prefix = `token:${event.token}`;
    } else {
      return [];
    }
    const hours = s.window_hours;
    const travel = a.travel;
    const why = [
      a.fresh.length > 0 ? `${a.fresh.join(", ")} new to the account` : null,
      a.highRisk.length > 0 ? `${a.highRisk.join(", ")} on the high-risk list` : null,
    ].filter((x) => x !== null);
    let summary: string;
    if (a.interleaved) summary = `${who} went back and forth between countries within ${hours} h: ${a.path}`;
    else if (a.countries.length >= 2) summary = `${who} active from ${a.countries.join(", ")} within ${hours} h`;
    else if (travel) summary = `${who} seen in ${travel.from} then ${travel.to} ${travel.minutes} min apart (impossible travel)`;
    else summary = `${who} active from several countries`;
    if (why.length > 0) summary += ` (${why.join("; ")})`;
    return [
      {
        subject: `${prefix}:${isoHour(a.incidentStart)}`,
        severity: a.severity,
        summary,
        actor: event.actor,
        repos: event.repo ? [event.repo] : [],
        evidence: {
          at: new Date(event.at).toISOString(),
          action: event.action,
          country,
          [`countries in ${hours} h`]: a.path,
          "back and forth": a.interleaved,
          "impossible travel": travel
            ? `${travel.from} → ${travel.to}: ~${travel.km} km in ${travel.minutes} min (${Number.isFinite(travel.kmh) ? `${Math.round(travel.kmh)} km/h` : "same moment"})`
            : null,
          "new to the account": a.fresh.join(", ") || "none",
          "high-risk": a.highRisk.join(", ") || "none",
          [`usual countries (${s.usual_country_days}+ days in ${s.history_days})`]: a.usual.join(", ") || "none yet",
          "through a shared exit": a.viaSharedExit.join(", ") || "none",
          repo: event.repo,
          ip: event.ip,
          token: event.token,
        },
      },
    ];
  },
});
