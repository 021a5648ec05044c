// multi-country: one account (or one token) used from several countries within a short time, the shared or
// stolen account the FBI warning describes (a remote worker's account driven from abroad). Public rule sets
// only look for impossible travel between two logins; this also flags two countries within a window
// (critical when the account goes back and forth, A → B → A) and impossible travel beyond the window.
// The audit log locates events only to a country, so distances are between country centroids.
import { z } from "zod";
import { distanceKm, toCountryCode } from "../geo/countries.js";
import { isAutomation, isoHour } from "./shared.js";
import type { Severity } from "../domain/severity.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/**
 * How long the last location is kept for impossible travel: no two points on Earth are more than ~20,000 km
 * apart, so beyond a day no speed threshold worth setting can be exceeded.
 */
const LAST_SEEN_MS = 24 * HOUR;
/** Country changes remembered per key; more than this within one window is already a finding. */
const MAX_RUNS = 32;

/** A run of consecutive observations from one country: [country, first at, last at]. */
type Run = [country: string, first: number, last: number];

/** Where one actor or token has been seen lately, and the incident in progress. */
interface Track {
  runs: Run[];
  /** Incident in progress: window start, last time the pattern held, highest severity so far. */
  inc?: { s: number; l: number; sev: Severity };
}

function readTrack(state: DetectorState, key: string): Track {
  const raw = state.get<Track>(key);
  if (!raw || typeof raw !== "object" || !Array.isArray(raw.runs)) return { runs: [] };
  const runs = raw.runs.filter(
    (r): r is Run =>
      Array.isArray(r) && typeof r[0] === "string" && typeof r[1] === "number" && typeof r[2] === "number",
  );
  const i = raw.inc;
  const inc =
    i && typeof i === "object" && typeof i.s === "number" && typeof i.l === "number" && Object.hasOwn(RANK, i.sev)
      ? i
      : undefined;
  return { runs, ...(inc ? { inc } : {}) };
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
function place(runs: Run[], country: string, at: number): { index: number; changed: boolean; split: boolean } {
  let i = runs.length;
  while (i > 0 && (runs[i - 1] as Run)[1] > at) i -= 1;
  const prev = runs[i - 1];
  const next = runs[i];
  if (prev && at <= prev[2] && (prev[0] === country || at < prev[2])) {
    if (prev[0] === country) return { index: i - 1, changed: false, split: false };
    // Seen strictly inside another country's run: the account was in both places, split the run around
    // it. At the run's very end (the same millisecond as its last entry) nothing of that country comes
    // after, so it is a plain change of country, not A → B → A.
    runs.splice(i - 1, 1, [prev[0], prev[1], at], [country, at, at], [prev[0], at, prev[2]]);
    return { index: i, changed: true, split: true };
  }
  if (prev && prev[0] === country) {
    prev[2] = at;
    return { index: i - 1, changed: false, split: false };
  }
  if (next && next[0] === country) {
    next[1] = at;
    return { index: i, changed: false, split: false };
  }
  runs.splice(i, 0, [country, at, at]);
  return { index: i, changed: true, split: false };
}

function travelBetween(a: Run, b: Run, minKm: number, maxKmh: number): Travel | undefined {
  const km = distanceKm(a[0], b[0]);
  // Unknown countries and neighbours say nothing: centroids of adjacent countries are too rough.
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
}

const RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

function observe(
  state: DetectorState,
  key: string,
  country: string,
  at: number,
  windowMs: number,
  minKm: number,
  maxKmh: number,
): Assessment | undefined {
  const t = readTrack(state, key);
  const { index, changed, split } = place(t.runs, country, at);
  let travel: Travel | undefined;
  // A split run is already a back-and-forth; its pieces' end times are not real observations to time travel by.
  if (changed && !split) {
    const here = t.runs[index] as Run;
    const before = t.runs[index - 1];
    const after = t.runs[index + 1];
    travel = (before && travelBetween(before, here, minKm, maxKmh)) || (after && travelBetween(here, after, minKm, maxKmh)) || undefined;
  }
  const end = t.runs.reduce((m, r) => Math.max(m, r[2]), -Infinity);
  // Keep the window, and always the latest run: it is the "last seen" that impossible travel compares with.
  const last = t.runs[t.runs.length - 1];
  t.runs = t.runs.filter((r) => r[2] >= end - windowMs || r === last);
  if (t.runs.length > MAX_RUNS) t.runs = t.runs.slice(-MAX_RUNS);

  const inWindow = t.runs.filter((r) => r[2] >= end - windowMs);
  const countries = [...new Set(inWindow.map((r) => r[0]))];
  // Adjacent runs always differ, so a country in two runs means the account went away and came back.
  const interleaved = countries.length < inWindow.length;
  let severity: Severity | undefined;
  if (interleaved) severity = "critical";
  else if (countries.length >= 2 || travel) severity = "high";

  let result: Assessment | undefined;
  const inc = t.inc;
  if (severity) {
    // The earliest observation known to be inside the window: a run's first, or its last when it began earlier.
    let start = inWindow.reduce((m, r) => Math.min(m, r[1] >= end - windowMs ? r[1] : r[2]), end);
    if (travel) start = Math.min(start, travel.since);
    // An impossible journey that starts inside the incident (the account coming back home hours later) is
    // more of the same incident, not a new one.
    const ongoing = inc && (end - inc.l <= windowMs || (travel !== undefined && travel.since >= inc.s && travel.since <= inc.l));
    const next = ongoing
      ? { s: inc.s, l: Math.max(inc.l, end), sev: RANK[inc.sev] >= RANK[severity] ? inc.sev : severity }
      : { s: start, l: end, sev: severity };
    t.inc = next;
    // Repeats from a country already in the window add nothing; a change of country or a worse pattern does.
    if (changed || !ongoing || next.sev !== inc.sev) {
      result = {
        severity: next.sev,
        countries,
        path: inWindow.map((r) => r[0]).join(" → "),
        interleaved,
        travel,
        incidentStart: next.s,
      };
    }
  } else if (inc && end - inc.l > windowMs) {
    delete t.inc;
  }
  state.set(key, t, Math.max(end + LAST_SEEN_MS, end + windowMs));
  return result;
}

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
      .describe("Two or more countries for one actor (or token) within this many hours is high; A → B → A is critical.")
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
      .describe("Impossible travel ignores country pairs whose centroids are closer than this (neighbours, border regions).")
      .register(watches, { weaker: "higher" }),
  }),
  nextSteps: [
    "Ask the person whether they travelled or use a VPN or remote desktop abroad; confirm with their manager, not only with the account.",
    "If it is not explained: sign the account out everywhere (revoke web sessions, SSH keys, personal access tokens and OAuth grants) and reset its credentials.",
    "Require the person to re-verify their identity (a video call with ID, a hardware security key) before access is restored.",
    "Review what the account did from each country in this window (clones, downloads, new credentials) and check the mass-clone and credential-added findings for it.",
  ],
  detect(event, ctx) {
    if (event.country === null || event.country === undefined || !Number.isFinite(event.at)) return [];
    if (isAutomation(event)) return [];
    if (!event.actor && !event.token) return [];
    const country = toCountryCode(event.country);
    if (!country) return [];
    const s = ctx.settings;
    const windowMs = s.window_hours * HOUR;
    const byActor = event.actor
      ? observe(ctx.state, `actor:${event.actor}`, country, event.at, windowMs, s.min_distance_km, s.max_speed_kmh)
      : undefined;
    const byToken = event.token
      ? observe(ctx.state, `token:${event.token}`, country, event.at, windowMs, s.min_distance_km, s.max_speed_kmh)
      : undefined;
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
    let summary: string;
    if (a.interleaved) summary = `${who} went back and forth between countries within ${hours} h: ${a.path}`;
    else if (a.countries.length >= 2) summary = `${who} active from ${a.countries.join(", ")} within ${hours} h`;
    else if (travel) summary = `${who} seen in ${travel.from} then ${travel.to} ${travel.minutes} min apart (impossible travel)`;
    else summary = `${who} active from several countries`;
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
          repo: event.repo,
          ip: event.ip,
          token: event.token,
        },
      },
    ];
  },
});
