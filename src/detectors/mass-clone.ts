// mass-clone: one account or token copying many company repositories, the bulk-copy step before code turns
// up in personal storage. Every way of taking a full copy counts, TOGETHER, as distinct non-public
// repositories (public rule sets count clones and zip downloads apart, so alternating the two halves their
// count): clones, zip downloads, archive downloads through the REST API, and the first fetch of a repository
// the account never had (objects fetched into another local repository are logged as `git.fetch`, not
// `git.clone`). Four tiers, per actor and per hashed token:
//   - a burst over 30 min (high) or 10 min (critical): one finding named after the hour the burst started, so
//     crossing the second tier raises the same finding instead of filing another;
//   - a day: more distinct repositories in 24 h than anyone's daily work touches, however slowly copied;
//   - an account's own history: repositories it never had, accumulated over days (copying spread thin over
//     many nights, each night too small to notice).
import { z } from "zod";
import { actionsOf } from "../events/actions.js";
import type { FindingDraft } from "../domain/finding.js";
import type { Severity } from "../domain/severity.js";
import { COPY_HISTORY_DAYS, COPY_HISTORY_MAX, COPY_KINDS, isoHour, possibleCopy, timedEntries, touchHistory, watchedSince } from "./shared.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/**
 * Cap on repositories remembered in one actor's or token's 24-hour window, newest kept: it must hold more
 * than the daily threshold (whose maximum is set below it), and only a sweep ever comes near it.
 */
const MAX_TRACKED = 500;

/** `2026-10-02`: the day used in the daily and new-repositories subjects. */
function isoDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** A run of copying over a threshold: its start (first copy in the window) and the last time it was over. */
interface Run {
  s: number;
  l: number;
}

function isRun(v: unknown): v is Run {
  return !!v && typeof v === "object" && typeof (v as Run).s === "number" && typeof (v as Run).l === "number";
}

/**
 * Extends, starts or ends a run: it goes on while the window stays over its threshold without a full quiet
 * window in between. Answers the run when `over`, else undefined.
 */
function advance(run: Run | undefined, over: boolean, end: number, window: number, start: () => number): { run: Run | undefined; now: Run | undefined } {
  if (over) {
    const next = !run || end - run.l > window ? { s: start(), l: end } : { s: run.s, l: Math.max(run.l, end) };
    return { run: next, now: next };
  }
  return { run: run && end - run.l > window ? undefined : run, now: undefined };
}

/** Recent copies of one actor or token, and the runs in progress. Short keys: this is stored per actor. */
interface CloneWindow {
  /** Newest event time seen: the end of the window, so a late event never moves the window backwards. */
  n: number;
  /** Distinct repositories with the time of their latest copy, the last 24 hours. */
  r: [repo: string, at: number][];
  /** Burst in progress, with the highest tier reached. */
  b?: Run & { t: 1 | 2 };
  /** Day-long run in progress. */
  d?: Run;
}

function readWindow(state: DetectorState, key: string): CloneWindow {
  const raw = state.get<CloneWindow>(key);
  if (!raw || typeof raw !== "object" || typeof raw.n !== "number" || !Array.isArray(raw.r)) return { n: -Infinity, r: [] };
  const b = raw.b;
  const w: CloneWindow = { n: raw.n, r: timedEntries(raw.r) };
  if (isRun(b) && (b.t === 1 || b.t === 2)) w.b = b;
  if (isRun(raw.d)) w.d = raw.d;
  return w;
}

interface Limits {
  highAbove: number;
  highWindow: number;
  criticalAtLeast: number;
  criticalWindow: number;
  dailyAbove: number;
}

interface Assessment {
  tier: 0 | 1 | 2;
  burst: (Run & { t: 1 | 2 }) | undefined;
  inHigh: string[];
  inCritical: number;
  /** The day-long run when the last 24 hours are over the daily threshold. */
  daily: Run | undefined;
  inDay: string[];
}

/** Records one copy under `key` and says which tiers the key's windows are in now. */
function track(state: DetectorState, key: string, repo: string, at: number, lim: Limits): Assessment {
  const w = readWindow(state, key);
  const lower = repo.toLowerCase();
  const hit = w.r.find((e) => e[0].toLowerCase() === lower);
  if (hit) hit[1] = Math.max(hit[1], at);
  else w.r.push([repo, at]);
  w.n = Math.max(w.n, at);
  const end = w.n;
  // The short windows are at most a day long (their settings' maximum), so a day of copies serves them all.
  w.r = w.r.filter((e) => e[1] >= end - DAY);
  if (w.r.length > MAX_TRACKED) w.r = w.r.sort((x, y) => y[1] - x[1]).slice(0, MAX_TRACKED);

  const inHighEntries = w.r.filter((e) => e[1] >= end - lim.highWindow);
  const inCritical = w.r.reduce((n, e) => (e[1] >= end - lim.criticalWindow ? n + 1 : n), 0);
  const highMet = inHighEntries.length > lim.highAbove;
  const criticalMet = inCritical >= lim.criticalAtLeast;
  const tier: 0 | 1 | 2 = criticalMet ? 2 : highMet ? 1 : 0;
  const burstSpan = Math.max(lim.highWindow, lim.criticalWindow);

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
  } else if (burst && end - burst.l > burstSpan) {
    delete w.b;
  }

  const day = advance(w.d, w.r.length > lim.dailyAbove, end, DAY, () => w.r.reduce((m, e) => Math.min(m, e[1]), end));
  if (day.run) w.d = day.run;
  else delete w.d;

  state.set(key, w, end + DAY);
  return {
    tier,
    burst: tier > 0 ? burst : undefined,
    inHigh: inHighEntries.map((e) => e[0]).sort(),
    inCritical,
    daily: day.now,
    inDay: day.now ? w.r.map((e) => e[0]).sort() : [],
  };
}

/**
 * What one account (or, for entries without one, one token) has copied or fetched: the repositories it has,
 * which decides whether a fetch is a copy, and the ones new to it lately, for the new-repositories tier.
 */
interface History {
  n: number;
  /** Lower-cased repository with its latest touch; COPY_HISTORY_DAYS and COPY_HISTORY_MAX bound it. */
  h: [repo: string, at: number][];
  /** Repositories first copied within the new-repositories window, as named, with the time of that copy. */
  w: [repo: string, at: number][];
  /** New-repositories run in progress. */
  b?: Run;
}

function readHistory(state: DetectorState, key: string): History {
  const raw = state.get<History>(key);
  if (!raw || typeof raw !== "object" || typeof raw.n !== "number") return { n: -Infinity, h: [], w: [] };
  const hist: History = { n: raw.n, h: timedEntries(raw.h), w: timedEntries(raw.w) };
  if (isRun(raw.b)) hist.b = raw.b;
  return hist;
}

interface NewRepos {
  /** Whether the repository was not in the account's history before this event. */
  isNew: boolean;
  /** The new-repositories run when this copy is new and the window is over the threshold. */
  run: Run | undefined;
  repos: string[];
}

/**
 * Looks the copy up in the account's history, remembers it, and judges the new-repositories tier. While
 * `learning`, a repository is remembered but not counted as new.
 */
function remember(state: DetectorState, key: string, repo: string, at: number, learning: boolean, threshold: number, window: number): NewRepos {
  const hist = readHistory(state, key);
  hist.n = Math.max(hist.n, at);
  const end = hist.n;
  // A repository last touched before the history's horizon is new again.
  const touched = touchHistory(hist.h, repo, at, end);
  hist.h = touched.touches;
  const isNew = touched.before === undefined;

  const added = isNew && !learning && at >= end - window;
  if (added) hist.w.push([repo, at]);
  hist.w = hist.w.filter((e) => e[1] >= end - window);
  if (hist.w.length > COPY_HISTORY_MAX) hist.w = hist.w.sort((x, y) => y[1] - x[1]).slice(0, COPY_HISTORY_MAX);
  // Only a new copy moves the run: a known repository copied again says nothing about this tier.
  let run: Run | undefined;
  if (added) {
    const r = advance(hist.b, hist.w.length >= threshold, end, window, () => hist.w.reduce((m, e) => Math.min(m, e[1]), end));
    run = r.now;
    if (r.run) hist.b = r.run;
    else delete hist.b;
  } else if (hist.b && end - hist.b.l > window) {
    delete hist.b;
  }
  state.set(key, hist, end + COPY_HISTORY_DAYS * DAY);
  return { isNew, run, repos: run ? hist.w.map((e) => e[0]).sort() : [] };
}

export const massClone = defineDetector({
  id: "mass-clone",
  title: "Many repositories cloned, fetched or downloaded by one account",
  warningSign: "bulk copying",
  source: "audit log `git.clone`, `repo.download_zip`, first `git.fetch` of a repository, archive `api.request`",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: actionsOf(COPY_KINDS),
  settings: z.object({
    high_more_than_repos: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe("High when MORE than this many distinct non-public repositories are copied (cloned, downloaded, or fetched for the first time) within `high_window_minutes`.")
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
    daily_more_than_repos: z
      .number()
      .int()
      .min(1)
      .max(MAX_TRACKED - 1)
      .default(50)
      .describe(
        "High when MORE than this many distinct non-public repositories are copied within 24 hours, however slowly (a sweep paced under the short windows). Several times what a developer touches in a day; a scanning service account that copies more every day belongs in `allow.actors`.",
      )
      .register(watches, { weaker: "higher" }),
    new_repos_at_least: z
      .number()
      .int()
      .min(1)
      .max(COPY_HISTORY_MAX)
      .default(20)
      .describe(
        "Medium when AT LEAST this many non-public repositories new to the account (not copied or fetched by it in the 30 days before) are copied within `new_repos_days`: copying spread thin over many nights. Twice what a new member clones in their first days.",
      )
      .register(watches, { weaker: "higher" }),
    new_repos_days: z
      .number()
      .int()
      .min(1)
      .max(COPY_HISTORY_DAYS)
      .default(7)
      .describe(
        "Window of the new-repositories tier, in days. The tier also waits this long after the first copy seen in the org, since until then every repository is new to everyone.",
      )
      .register(watches, { weaker: "lower" }),
  }),
  nextSteps: [
    "Ask the person (or the owner of the token) what the copies were for; compare the repositories listed here with their role and current work.",
    "If it is not explained: revoke the token and SSH keys used (the evidence names the hashed token) and suspend the account's access to the org while you look.",
    "Check the same account for forks, public repositories or pushes outside the org in the following days (the personal-fork and public-mirror detectors watch for them).",
    "Treat the copied code as disclosed: rotate any secrets committed to these repositories, and keep this issue's evidence for a case or a takedown.",
  ],
  detect(event, ctx) {
    const copy = possibleCopy(event);
    if (!copy) return [];
    // Nobody to attribute an anonymous copy to (they can only be of public repositories anyway).
    if (!event.actor && !event.token) return [];
    const { repo } = copy;
    const s = ctx.settings;
    const newWindow = s.new_repos_days * DAY;
    const since = watchedSince(ctx.state, event.at, COPY_HISTORY_DAYS * DAY);
    const learning = event.at - since < newWindow;

    // Whether the account (or, without one, the token) has the repository already decides what a fetch is:
    // the first one brings the whole repository, the later ones are ordinary work.
    const owner = event.actor ? { key: `seen:${event.actor}`, who: event.actor, prefix: event.actor } : { key: `seen:token:${event.token}`, who: `token ${event.token}`, prefix: `token:${event.token}` };
    const fresh = remember(ctx.state, owner.key, repo, event.at, learning, s.new_repos_at_least, newWindow);
    if (copy.fetch && !fresh.isNew) return [];

    const lim: Limits = {
      highAbove: s.high_more_than_repos,
      highWindow: s.high_window_minutes * MINUTE,
      criticalAtLeast: s.critical_at_least_repos,
      criticalWindow: s.critical_window_minutes * MINUTE,
      dailyAbove: s.daily_more_than_repos,
    };
    const byActor = event.actor ? track(ctx.state, `actor:${event.actor}`, repo, event.at, lim) : undefined;
    const byToken = event.token ? track(ctx.state, `token:${event.token}`, repo, event.at, lim) : undefined;
    const actorSide = byActor && event.actor ? { a: byActor, who: event.actor, prefix: event.actor } : undefined;
    const tokenSide = byToken && event.token ? { a: byToken, who: `token ${event.token}`, prefix: `token:${event.token}` } : undefined;

    const base = {
      at: new Date(event.at).toISOString(),
      action: event.action,
      copy: copy.kind,
      repo,
      visibility: event.visibility ?? "unknown",
    };
    const draft = (subject: string, severity: Severity, summary: string, repos: string[], facts: FindingDraft["evidence"]): FindingDraft[] => [
      {
        subject,
        severity,
        summary,
        actor: event.actor,
        repos: repos.includes(repo) ? repos : [...repos, repo].sort(),
        evidence: { ...base, ...facts, token: event.token, country: event.country },
      },
    ];
    const how = "(clones, downloads and first fetches)";

    // One finding per event, the sharpest tier first. Each is named after the person when their own window
    // explains it, otherwise after the token (copies without an actor, or spread over actor-less entries).
    const burstSide = [actorSide, tokenSide].find((side) => side && side.a.tier > 0 && side.a.burst);
    if (burstSide?.a.burst) {
      const { a, who, prefix } = burstSide;
      const burst = a.burst as Run & { t: 1 | 2 };
      const critical = burst.t === 2;
      return draft(
        `${prefix}:${isoHour(burst.s)}`,
        critical ? "critical" : "high",
        critical
          ? `${who} copied at least ${s.critical_at_least_repos} non-public repositories within ${s.critical_window_minutes} min ${how}`
          : `${who} copied more than ${s.high_more_than_repos} non-public repositories within ${s.high_window_minutes} min ${how}`,
        a.inHigh,
        {
          [`distinct repos in ${s.high_window_minutes} min`]: a.inHigh.length,
          [`distinct repos in ${s.critical_window_minutes} min`]: a.inCritical,
          "burst started": new Date(burst.s).toISOString(),
        },
      );
    }
    const daySide = [actorSide, tokenSide].find((side) => side?.a.daily);
    if (daySide?.a.daily) {
      const { a, who, prefix } = daySide;
      const run = a.daily as Run;
      return draft(
        `${prefix}:day:${isoDay(run.s)}`,
        "high",
        `${who} copied more than ${s.daily_more_than_repos} non-public repositories within 24 h ${how}`,
        a.inDay,
        { "distinct repos in 24 h": a.inDay.length, "copying started": new Date(run.s).toISOString() },
      );
    }
    if (fresh.run) {
      const run = fresh.run;
      return draft(
        `${owner.prefix}:new-repos:${isoDay(run.s)}`,
        "medium",
        `${owner.who} copied at least ${s.new_repos_at_least} non-public repositories new to the account within ${s.new_repos_days} days ${how}`,
        fresh.repos,
        {
          [`repos new to the account in ${s.new_repos_days} days`]: fresh.repos.length,
          "first of them copied": new Date(run.s).toISOString(),
        },
      );
    }
    return [];
  },
});
