// mass-clone: one account or token copying many company repositories in a short time, the bulk-copy step
// before code turns up in personal storage. Clones and zip downloads are counted TOGETHER as distinct
// non-public repositories (public rule sets count them apart, so alternating the two halves their count),
// per actor and per hashed token, in two tiers. One burst is one finding: its subject names the hour of the
// burst's first clone, so crossing the second tier raises the same finding instead of filing another.
import { z } from "zod";
import type { KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { Severity } from "../domain/severity.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const MINUTE = 60_000;
/** Hard cap on repositories remembered per key; pruning to the window normally keeps it far below. */
const MAX_TRACKED = 200;

/** Actions that hand a full copy of a repository's code to whoever ran them. */
export const COPY_ACTIONS = ["git.clone", "repo.download_zip"] as const satisfies readonly KnownAction[];

/**
 * Whether an event is a human's (or a personal token's) copy of a non-public repository: what both
 * mass-clone and credential-added count. Bots and GitHub App server-to-server tokens run CI and
 * mirrors all day; public repositories can be copied by anyone anyway. Unknown visibility (older audit
 * entries) counts, because missing is not the same as public.
 */
export function isCountedCopy(event: OrgEvent): boolean {
  if (!event.repo || !Number.isFinite(event.at)) return false;
  if (isAutomation(event)) return false;
  return event.visibility !== "public";
}

/** Bots and app tokens: excluded by every behavioural detector. */
export function isAutomation(event: OrgEvent): boolean {
  if (event.actorIsBot) return true;
  return typeof event.tokenType === "string" && /server-to-server/i.test(event.tokenType);
}

/** `2026-10-02T10`: the hour used in burst subjects. */
export function isoHour(at: number): string {
  return new Date(at).toISOString().slice(0, 13);
}

/** Recent copies of one actor or token, and the burst in progress. Short keys: this is stored per actor. */
interface CloneWindow {
  /** Newest event time seen: the end of the window, so a late event never moves the window backwards. */
  n: number;
  /** Distinct repositories with the time of their latest copy, newest window only. */
  r: [repo: string, at: number][];
  /** Burst in progress: start (first copy), last time it was over a threshold, highest tier reached. */
  b?: { s: number; l: number; t: 1 | 2 };
}

function readWindow(state: DetectorState, key: string): CloneWindow {
  const raw = state.get<CloneWindow>(key);
  if (!raw || typeof raw !== "object" || typeof raw.n !== "number" || !Array.isArray(raw.r)) return { n: -Infinity, r: [] };
  const r = raw.r.filter(
    (e): e is [string, number] => Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number",
  );
  const b = raw.b;
  const burst =
    b && typeof b === "object" && typeof b.s === "number" && typeof b.l === "number" && (b.t === 1 || b.t === 2)
      ? b
      : undefined;
  return { n: raw.n, r, ...(burst ? { b: burst } : {}) };
}

interface Limits {
  highAbove: number;
  highWindow: number;
  criticalAtLeast: number;
  criticalWindow: number;
}

interface Assessment {
  tier: 0 | 1 | 2;
  burst: { s: number; l: number; t: 1 | 2 } | undefined;
  inHigh: string[];
  inCritical: number;
}

/** Records one copy under `key` and says which tier the key's window is in now. */
function track(state: DetectorState, key: string, repo: string, at: number, lim: Limits): Assessment {
  const w = readWindow(state, key);
  const lower = repo.toLowerCase();
  const hit = w.r.find((e) => e[0].toLowerCase() === lower);
  if (hit) hit[1] = Math.max(hit[1], at);
  else w.r.push([repo, at]);
  w.n = Math.max(w.n, at);
  const end = w.n;
  const span = Math.max(lim.highWindow, lim.criticalWindow);
  w.r = w.r.filter((e) => e[1] >= end - span);
  if (w.r.length > MAX_TRACKED) w.r = w.r.sort((x, y) => y[1] - x[1]).slice(0, MAX_TRACKED);

  const inHighEntries = w.r.filter((e) => e[1] >= end - lim.highWindow);
  const inCritical = w.r.reduce((n, e) => (e[1] >= end - lim.criticalWindow ? n + 1 : n), 0);
  const highMet = inHighEntries.length > lim.highAbove;
  const criticalMet = inCritical >= lim.criticalAtLeast;
  const tier: 0 | 1 | 2 = criticalMet ? 2 : highMet ? 1 : 0;

  let burst = w.b;
  if (tier > 0) {
    const t = tier as 1 | 2;
    // The burst goes on while the window stays over a threshold without a full quiet window in between.
    if (!burst || end - burst.l > lim.highWindow) {
      const reach = Math.max(highMet ? lim.highWindow : 0, criticalMet ? lim.criticalWindow : 0);
      const start = w.r.reduce((m, e) => (e[1] >= end - reach ? Math.min(m, e[1]) : m), end);
      burst = { s: start, l: end, t };
    } else {
      burst = { s: burst.s, l: Math.max(burst.l, end), t: burst.t === 2 || t === 2 ? 2 : 1 };
    }
    w.b = burst;
  } else if (burst && end - burst.l > span) {
    delete w.b;
    burst = undefined;
  }
  state.set(key, w, end + span);
  return { tier, burst: tier > 0 ? burst : undefined, inHigh: inHighEntries.map((e) => e[0]).sort(), inCritical };
}

export const massClone = defineDetector({
  id: "mass-clone",
  title: "Many repositories cloned or downloaded in a short time",
  warningSign: "bulk copying",
  source: "audit log `git.clone`, `repo.download_zip`",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: COPY_ACTIONS,
  settings: z.object({
    high_more_than_repos: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe("High when MORE than this many distinct non-public repositories are cloned or zip-downloaded within `high_window_minutes`.")
      .register(watches, { weaker: "higher" }),
    high_window_minutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(30)
      .describe("Window of the high tier, in minutes.")
      .register(watches, { weaker: "lower" }),
    critical_at_least_repos: z
      .number()
      .int()
      .min(1)
      .default(10)
      .describe("Critical when AT LEAST this many distinct non-public repositories are copied within `critical_window_minutes`.")
      .register(watches, { weaker: "higher" }),
    critical_window_minutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(10)
      .describe("Window of the critical tier, in minutes.")
      .register(watches, { weaker: "lower" }),
  }),
  nextSteps: [
    "Ask the person (or the owner of the token) what the copies were for; compare the repositories listed here with their role and current work.",
    "If it is not explained: revoke the token and SSH keys used (the evidence names the hashed token) and suspend the account's access to the org while you look.",
    "Check the same account for forks, public repositories or pushes outside the org in the following days (the personal-fork and public-mirror detectors watch for them).",
    "Treat the copied code as disclosed: rotate any secrets committed to these repositories, and keep this issue's evidence for a case or a takedown.",
  ],
  detect(event, ctx) {
    if (!isCountedCopy(event)) return [];
    const repo = event.repo as string;
    // Nobody to attribute an anonymous copy to (they can only be of public repositories anyway).
    if (!event.actor && !event.token) return [];
    const s = ctx.settings;
    const lim: Limits = {
      highAbove: s.high_more_than_repos,
      highWindow: s.high_window_minutes * MINUTE,
      criticalAtLeast: s.critical_at_least_repos,
      criticalWindow: s.critical_window_minutes * MINUTE,
    };
    const byActor = event.actor ? track(ctx.state, `actor:${event.actor}`, repo, event.at, lim) : undefined;
    const byToken = event.token ? track(ctx.state, `token:${event.token}`, repo, event.at, lim) : undefined;

    // Name the incident after the person when their own window explains it; a token-only burst (copies
    // without an actor, or spread over actor-less entries) is named after the token.
    let pick: Assessment | undefined;
    let who: string;
    let prefix: string;
    if (byActor && byActor.tier > 0 && event.actor) {
      pick = byActor;
      who = event.actor;
      prefix = event.actor;
    } else if (byToken && byToken.tier > 0 && event.token) {
      pick = byToken;
      who = `token ${event.token}`;
      prefix = `token:${event.token}`;
    } else {
      return [];
    }
    const burst = pick.burst;
    if (!burst) return [];
    const critical = burst.t === 2;
    const severity: Severity = critical ? "critical" : "high";
    const summary = critical
      ? `${who} copied at least ${s.critical_at_least_repos} non-public repositories within ${s.critical_window_minutes} min (clones and zip downloads)`
      : `${who} copied more than ${s.high_more_than_repos} non-public repositories within ${s.high_window_minutes} min (clones and zip downloads)`;
    return [
      {
        subject: `${prefix}:${isoHour(burst.s)}`,
        severity,
        summary,
        actor: event.actor,
        repos: pick.inHigh.includes(repo) ? pick.inHigh : [...pick.inHigh, repo].sort(),
        evidence: {
          at: new Date(event.at).toISOString(),
          action: event.action,
          repo,
          visibility: event.visibility ?? "unknown",
          [`distinct repos in ${s.high_window_minutes} min`]: pick.inHigh.length,
          [`distinct repos in ${s.critical_window_minutes} min`]: pick.inCritical,
          "burst started": new Date(burst.s).toISOString(),
          token: event.token,
          country: event.country,
        },
      },
    ];
  },
});
