// new-country: an account active from a country it has not used lately, the first sign of a stolen or
// handed-over account. Judged against the actor's own history, after a learning period so that the first
// days of every actor (and of a freshly installed monitor) stay silent.
import { z } from "zod";
import { toCountryCode } from "../geo/countries.js";
import { isAutomation } from "./shared.js";
import { defineDetector } from "./types.js";
import { watches } from "../domain/watch.js";

const DAY = 24 * 60 * 60 * 1000;
/** Countries remembered per actor; the least recently seen are forgotten first. */
const MAX_COUNTRIES = 24;
/**
 * How long an actor's history outlives their last located event. Long on purpose: a dormant account that
 * wakes up must not start a fresh (silent) learning period.
 */
const KEEP_MS = 180 * DAY;

/** One actor's location history. Short keys: this is stored per actor. */
interface History {
  /** First located event seen for the actor. */
  f: number;
  /** Newest located event seen. */
  n: number;
  /** Country → last seen. */
  c: Record<string, number>;
}

function readHistory(raw: unknown): History | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  const h = raw as Partial<History>;
  if (typeof h.f !== "number" || typeof h.n !== "number" || !h.c || typeof h.c !== "object") return undefined;
  return h as History;
}

export const newCountry = defineDetector({
  id: "new-country",
  title: "Account active from a new country",
  warningSign: "stolen or shared account",
  source: "audit log `actor_location.country_code` of any action",
  defaultSeverity: "low",
  enabledByDefault: true,
  actions: ["*"],
  settings: z.object({
    lookback_days: z
      .number()
      .int()
      .min(1)
      .max(90)
      .default(14)
      .describe("A country the actor was not seen in during this many days counts as new.")
      .register(watches, { weaker: "higher" }),
    learning_days: z
      .number()
      .int()
      .min(0)
      .max(90)
      .default(7)
      .describe("Stay silent for an actor until their first located event is at least this many days old.")
      .register(watches, { weaker: "higher" }),
  }),
  nextSteps: [
    "Ask the person whether they are travelling or working through a VPN or remote desktop in that country.",
    "If not: sign the account out everywhere (revoke sessions, SSH keys, personal access tokens, OAuth grants) and require re-verification of identity before restoring access.",
    "Look at the account's other findings around this date (multi-country, mass-clone, credential-added): a new country is often the first of several signs.",
  ],
  detect(event, ctx) {
    if (!event.actor || event.country === null || event.country === undefined || !Number.isFinite(event.at)) return [];
    if (isAutomation(event)) return [];
    const country = toCountryCode(event.country);
    if (!country) return [];
    const at = event.at;
    const key = `actor:${event.actor}`;
    const lookback = ctx.settings.lookback_days * DAY;
    const h = readHistory(ctx.state.get(key));
    if (!h) {
      ctx.state.set(key, { f: at, n: at, c: { [country]: at } } satisfies History, at + KEEP_MS);
      return [];
    }
    const lastHere = Object.hasOwn(h.c, country) ? h.c[country] : undefined;
    const learned = at - Math.min(h.f, at) >= ctx.settings.learning_days * DAY;
    const isNew = lastHere === undefined || at - lastHere > lookback;

    // Nothing changes for a repeat from the same country on the same moment or earlier: skip the write.
    if (lastHere !== undefined && lastHere >= at && h.f <= at) return [];
    h.f = Math.min(h.f, at);
    h.n = Math.max(h.n, at);
    h.c[country] = Math.max(lastHere ?? at, at);
    const entries = Object.entries(h.c);
    if (entries.length > 1) {
      const keep = entries.filter(([, seen]) => h.n - seen <= lookback);
      if (keep.length > MAX_COUNTRIES) keep.sort((a, b) => b[1] - a[1]).splice(MAX_COUNTRIES);
      if (keep.length !== entries.length) h.c = Object.fromEntries(keep);
    }
    ctx.state.set(key, h, h.n + KEEP_MS);

    if (!learned || !isNew) return [];
    const day = new Date(at).toISOString().slice(0, 10);
    const seenBefore = Object.keys(h.c).filter((c) => c !== country).sort();
    return [
      {
        subject: `${event.actor}:${country}:${day}`,
        severity: "low",
        summary: `${event.actor} active from ${country}, not seen for this account in the last ${ctx.settings.lookback_days} days`,
        actor: event.actor,
        repos: event.repo ? [event.repo] : [],
        evidence: {
          at: new Date(at).toISOString(),
          action: event.action,
          country,
          [`other countries in ${ctx.settings.lookback_days} days`]: seenBefore.join(", ") || "none",
          "last seen in this country": lastHere === undefined ? "never" : new Date(lastHere).toISOString(),
          "history since": new Date(h.f).toISOString(),
          repo: event.repo,
          ip: event.ip,
        },
      },
    ];
  },
});
