// credential-added: a new SSH key, deploy key, personal access token or OAuth grant, the credential
// harvesting step that lets someone keep working from a device the company does not control. Alone it is
// low, and so is ordinary work after it: a developer who authorizes a new key for SSO and goes on pulling
// their team's repositories. It becomes high on the SAME finding, with the repositories as evidence, when the
// copying that follows (by the same actor or token) goes beyond the account's usual work: repositories it
// never copied or fetched before, or far more of them than it ever touches in a day. Public rule sets do not
// make that link.
import { z } from "zod";
import { actionsOf, entryOf, isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import { COPY_HISTORY_DAYS, COPY_KINDS, isAutomation, possibleCopy, timedEntries, touchHistory, watchedSince } from "./shared.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Credentials followed at once per actor or token; the oldest are dropped first. */
const MAX_CREDENTIALS = 8;
/** Repositories listed per credential: enough to show a burst, bounded for storage. */
const MAX_REPOS = 50;
/**
 * Events may arrive slightly out of order (two files or streams interleaved), so copies made just after a
 * credential can be processed before it. Recent copies are kept this long to be credited on arrival.
 */
const REORDER_MS = 15 * MINUTE;
const MAX_RECENT = 32;
/**
 * The account's history: the repositories it copied or fetched, each kept for COPY_HISTORY_DAYS (30) after its
 * latest touch, at most COPY_HISTORY_MAX (300) of them, the bounds mass-clone uses, so that both detectors
 * agree on what a first fetch is. Beside it, how many distinct repositories it touched on each UTC day of
 * those 30 days (at most 31 counts): its busiest day is its baseline.
 */
const HISTORY_MS = COPY_HISTORY_DAYS * DAY;
/** A known repository touched again the same day is written back at most this often: nothing else changes. */
const HISTORY_REFRESH = HOUR;
/**
 * How long the detector must have watched the org before a credential for "never copied before" to mean
 * anything: until then every repository is new to everyone. A working day: what a developer works on shows in
 * a day's fetches, and a credential is rare enough per account that a thin history in the first days (a
 * repository last touched before the detector started counts as new) costs little, while the first hours of
 * a log read from its start would otherwise call everything new.
 */
const LEARN_MS = 8 * HOUR;
/** "Far above" the baseline: more distinct repositories after the credential than this many busiest days. */
const FAR_ABOVE = 4;

/** How each credential action reads in a summary. */
const KINDS = {
  "public_key.create": "an SSH key",
  "deploy_key.created": "a deploy key",
  "personal_access_token.access_granted": "a personal access token",
  "personal_access_token_request.created": "a personal access token request",
  "org_credential_authorization.grant": "a credential authorized for SSO",
  "oauth_authorization.create": "an OAuth authorization",
} satisfies Partial<Record<KnownAction, string>>;

/** A credential being watched for copies: its finding's subject, when it appeared, what was copied since. */
interface Watched {
  kind: string;
  owner: string | null;
  at: number;
  repos: string[];
  /** Of `repos`, those new to the account (and token) when copied. */
  fresh: string[];
  /** Whether the account or token had a history to judge "new" against when the credential appeared. */
  known: boolean;
  /** Its busiest day before the credential: most distinct repositories copied or fetched in one UTC day. */
  busiest: number;
}

/** Per actor or token: the credentials to credit its copies to, as [subject, added at]. */
type Index = [subject: string, at: number][];

interface Recent {
  /** Copies made lately: [repo, at, 1 when new to the account]. */
  r: [string, number, number?][];
}

/** What one account (or, for entries without one, one token) has copied or fetched. Short keys: per account. */
interface History {
  /** Newest touch seen. */
  n: number;
  /** Lower-cased repository with its latest touch. */
  h: [repo: string, at: number][];
  /** Distinct repositories touched per UTC day, as [day number since the epoch, count]. */
  d: [day: number, count: number][];
}

function readWatched(state: DetectorState, subject: string): Watched | undefined {
  const w = state.get<Partial<Watched>>(`cred:${subject}`);
  if (!w || typeof w !== "object" || typeof w.at !== "number" || !Array.isArray(w.repos)) return undefined;
  return {
    kind: typeof w.kind === "string" ? w.kind : "a credential",
    owner: typeof w.owner === "string" ? w.owner : null,
    at: w.at,
    repos: w.repos.filter((r): r is string => typeof r === "string"),
    fresh: Array.isArray(w.fresh) ? w.fresh.filter((r): r is string => typeof r === "string") : [],
    known: w.known === true,
    busiest: typeof w.busiest === "number" ? w.busiest : 0,
  };
}

function readIndex(state: DetectorState, key: string): Index {
  return timedEntries(state.get<Index>(`index:${key}`));
}

function historyKey(actor: string | null, token: string | null): string | null {
  if (actor) return `seen:${actor.toLowerCase()}`;
  return token ? `seen:token:${token}` : null;
}

function readHistory(state: DetectorState, key: string): History {
  const raw = state.get<History>(key);
  if (!raw || typeof raw !== "object" || typeof raw.n !== "number") return { n: -Infinity, h: [], d: [] };
  const horizon = raw.n - HISTORY_MS;
  return {
    n: raw.n,
    h: timedEntries(raw.h).filter((e) => e[1] >= horizon),
    d: Array.isArray(raw.d)
      ? raw.d.filter((e): e is [number, number] => Array.isArray(e) && typeof e[0] === "number" && typeof e[1] === "number")
      : [],
  };
}

function dayOf(at: number): number {
  return Math.floor(at / DAY);
}

function has(hist: History, repo: string): boolean {
  const lower = repo.toLowerCase();
  return hist.h.some((e) => e[0] === lower);
}

/** Records that the account touched `repo` at `at`: its latest touch, and the day's count when it is the day's first. */
function touch(state: DetectorState, key: string, hist: History, repo: string, at: number): void {
  const lower = repo.toLowerCase();
  const hit = hist.h.find((e) => e[0] === lower);
  const sameDay = hit !== undefined && dayOf(hit[1]) === dayOf(at);
  if (sameDay && Math.abs(at - hit[1]) <= HISTORY_REFRESH) return;
  hist.n = Math.max(hist.n, at);
  const horizon = hist.n - HISTORY_MS;
  hist.h = touchHistory(hist.h, repo, at, hist.n).touches;
  if (!sameDay && at >= horizon) {
    const day = dayOf(at);
    const entry = hist.d.find((e) => e[0] === day);
    if (entry) entry[1] += 1;
    else hist.d.push([day, 1]);
  }
  hist.d = hist.d.filter((e) => e[0] >= dayOf(horizon));
  state.set(key, hist, hist.n + HISTORY_MS);
}

/** What the account's history says at a credential's time: whether it has one, and its busiest full day before. */
function baseline(hists: History[], at: number): { known: boolean; busiest: number } {
  const today = dayOf(at);
  const from = dayOf(at - HISTORY_MS);
  let known = false;
  let busiest = 0;
  for (const hist of hists) {
    if (hist.h.some((e) => e[1] < at)) known = true;
    for (const [day, count] of hist.d) if (day < today && day >= from) busiest = Math.max(busiest, count);
  }
  return { known, busiest };
}

function credentialId(event: OrgEvent): string {
  const d = event.details;
  if (typeof d.keyFingerprint === "string" && d.keyFingerprint) return d.keyFingerprint;
  if (typeof d.keyId === "number") return `key-${d.keyId}`;
  // The audit log names it `token_id`; the personal_access_token_request webhook converter, `tokenId`.
  const tokenId = d.extra?.token_id ?? d.extra?.tokenId;
  if (typeof tokenId === "string" || typeof tokenId === "number") return `token-${tokenId}`;
  if (event.token) return event.token;
  // Nothing names the credential: the minute keeps a redelivery of the same event on the same finding.
  return new Date(event.at).toISOString().slice(0, 16);
}

/**
 * A deploy key reaches us both as the `deploy_key.created` webhook and as the audit log's `public_key.create`
 * with a repo: one name for both, so that the same key found through both channels is one finding.
 */
function subjectAction(event: OrgEvent): string {
  return isAction(event, "deploy_key.created") ? ("public_key.create" satisfies KnownAction) : event.action;
}

interface Thresholds {
  followMs: number;
  repos: number;
  sweep: number;
}

export const credentialAdded = defineDetector({
  id: "credential-added",
  title: "New credential, then repositories copied with it",
  warningSign: "credential harvesting",
  source: "audit log `public_key.create`, `personal_access_token.access_granted`, `org_credential_authorization.grant`, `oauth_authorization.create`; webhooks `deploy_key`, `personal_access_token_request`",
  defaultSeverity: "low",
  enabledByDefault: true,
  actions: [...actionsOf(KINDS), ...actionsOf(COPY_KINDS)],
  settings: z.object({
    follow_hours: z
      .number()
      .min(1)
      .max(7 * 24)
      .default(24)
      .describe("How long after a new credential the copies made by the same actor or token are counted.")
      .register(watches, { weaker: "lower" }),
    repos: z
      .number()
      .int()
      .min(1)
      .default(3)
      .describe(
        "Distinct non-public repositories NEW to the account (not copied or fetched by it, or by the token, in the 30 days before) copied after a new credential that raise it to high. Repositories the account already works on do not count.",
      )
      .register(watches, { weaker: "higher" }),
    sweep_repos: z
      .number()
      .int()
      .min(1)
      .default(6)
      .describe(
        "Distinct non-public repositories copied after a new credential that raise it to high whether new or not, when that is also more than 4 times the account's busiest day of the 30 days before. For an account with no copying to compare against (a new member, an idle account, the detector's first hours) this alone decides: a first day's setup of a team's few repositories stays low.",
      )
      .register(watches, { weaker: "higher" }),
  }),
  nextSteps: [
    "Ask the person why the credential was created and on which device it lives; a key or token on a personal machine is how work continues after access should have ended.",
    "If it is not explained: revoke the credential (the SSH key, deploy key, token or OAuth grant named in the evidence) and the account's other tokens and sessions.",
    "When repositories were copied after it (high): treat them as disclosed, rotate secrets committed to them, and check the mass-clone and multi-country findings for the same account.",
    "Consider requiring approval for fine-grained personal access tokens and limiting SSH keys to SSO-authorized ones.",
  ],
  detect(event, ctx) {
    if (!Number.isFinite(event.at) || isAutomation(event)) return [];
    const lim: Thresholds = { followMs: ctx.settings.follow_hours * HOUR, repos: ctx.settings.repos, sweep: ctx.settings.sweep_repos };
    const credential = entryOf(KINDS, event.action);
    return credential !== undefined ? onCredential(event, credential, ctx.state, lim) : onCopy(event, ctx.state, lim);
  },
});

type Drafts = FindingDraft[];

function ownersOf(event: OrgEvent): string[] {
  // A token request or grant may be recorded with the approving admin as actor; the token's owner is `user`.
  const owners = [event.actor, event.details.user].filter((x): x is string => typeof x === "string" && x !== "");
  return [...new Set(owners)];
}

function keysOf(owners: string[], token: string | null): string[] {
  return [...owners.map((o) => `actor:${o}`), ...(token ? [`token:${token}`] : [])];
}

/**
 * Why the copying after a credential is beyond the account's usual work, or null: repositories new to it
 * (only when it had a history to judge by), or more distinct repositories than `sweep` and than FAR_ABOVE
 * times its busiest day (0 without a history, so then `sweep` alone decides).
 */
function raisedBy(w: Watched, lim: Thresholds): "new" | "volume" | null {
  if (w.known && w.fresh.length >= lim.repos) return "new";
  if (w.repos.length >= lim.sweep && w.repos.length > FAR_ABOVE * w.busiest) return "volume";
  return null;
}

function raisedSummary(w: Watched, why: "new" | "volume", followMs: number): string {
  const head = `${w.owner ?? "a token"} added ${w.kind}, then copied`;
  const within = `within ${hoursOf(followMs)} h`;
  if (why === "new") return `${head} ${w.fresh.length} non-public repositories new to the account ${within}`;
  return w.busiest > 0
    ? `${head} ${w.repos.length} non-public repositories ${within}, more than ${FAR_ABOVE} times its busiest day (${w.busiest})`
    : `${head} ${w.repos.length} non-public repositories ${within}, with no copying of its own in the ${COPY_HISTORY_DAYS} days before`;
}

/** What is known about the account's usual work, for evidence. */
function usualWork(w: Watched): FindingDraft["evidence"] {
  return {
    "repos new to the account": w.fresh.length > 0 ? [...w.fresh].sort().join(", ") : "none",
    "history before the credential": w.known ? `busiest day ${w.busiest} repos` : "none",
  };
}

/** `credential`: how the action reads in a summary (its KINDS entry). */
function onCredential(event: OrgEvent, credential: string, state: DetectorState, lim: Thresholds): Drafts {
  const { followMs } = lim;
  const owners = ownersOf(event);
  const owner = owners.includes(event.details.user ?? "") ? (event.details.user as string) : (owners[0] ?? null);
  if (!owner && !event.token) return [];
  const kind = isAction(event, "public_key.create") && event.repo ? "a deploy key" : credential;
  const subject = `${owner ?? `token:${event.token}`}:${subjectAction(event)}:${credentialId(event)}`;
  // A redelivered or re-read credential event keeps what was already credited to it, and the baseline taken
  // when it first appeared (the copies since then are in the history now).
  let watched = readWatched(state, subject);
  if (!watched) {
    const hists = [historyKey(owner, null), event.token ? historyKey(null, event.token) : null]
      .filter((k): k is string => k !== null)
      .map((k) => readHistory(state, k));
    const since = watchedSince(state, event.at, HISTORY_MS);
    const base = baseline(hists, event.at);
    // Until the detector has watched for LEARN_MS, nobody has a history worth calling repositories new against.
    const known = base.known && event.at - since >= LEARN_MS;
    watched = { kind, owner, at: event.at, repos: [], fresh: [], known, busiest: base.busiest };
  }
  watched.at = Math.min(watched.at, event.at);

  // Only the credential's owner's copies are credited to it: the approving admin who is the actor of a token
  // grant goes on with their own work, and that must not count against someone else's new token. The hashed
  // token on such an entry may be the admin's too, so the token is followed only when the owner used it.
  const followed = owner ? [owner] : [];
  const tokenKey = event.token && (!event.actor || event.actor === owner) ? event.token : null;
  // Copies already processed that happened after the credential count too (slightly out-of-order input).
  for (const o of followed) {
    const recent = state.get<Recent>(`recent:${o}`);
    if (!recent || !Array.isArray(recent.r)) continue;
    for (const e of recent.r) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number") continue;
      const repo = e[0];
      if (e[1] < watched.at || e[1] - watched.at > followMs || watched.repos.length >= MAX_REPOS) continue;
      if (watched.repos.some((r) => r.toLowerCase() === repo.toLowerCase())) continue;
      watched.repos.push(repo);
      if (e[2] === 1) watched.fresh.push(repo);
    }
  }
  state.set(`cred:${subject}`, watched, watched.at + followMs);
  for (const key of keysOf(followed, tokenKey)) {
    const index = readIndex(state, key).filter(([sub, at]) => sub !== subject && at + followMs >= event.at);
    index.push([subject, watched.at]);
    index.sort((a, b) => a[1] - b[1]);
    const kept = index.slice(-MAX_CREDENTIALS);
    state.set(`index:${key}`, kept, Math.max(...kept.map((e) => e[1])) + followMs);
  }

  const why = raisedBy(watched, lim);
  // deploy-key-added already files every deploy key; here a deploy key only matters once copies follow it,
  // so a lone one is watched silently rather than filed twice.
  if (!why && kind === "a deploy key") return [];
  const details = event.details;
  const repos = [...new Set([...(event.repo ? [event.repo] : []), ...watched.repos])].sort();
  return [
    {
      subject,
      severity: why ? "high" : "low",
      summary: why
        ? raisedSummary(watched, why, followMs)
        : `${event.actor ?? owner ?? "someone"} added ${kind}${owner && owner !== event.actor ? ` for ${owner}` : ""}`,
      actor: owner,
      repos,
      evidence: {
        action: event.action,
        credential: kind,
        title: details.keyTitle ?? null,
        fingerprint: details.keyFingerprint ?? null,
        "read-only": details.keyReadOnly ?? null,
        repo: event.repo,
        token: event.token,
        "token type": event.tokenType,
        country: event.country,
        ...(watched.repos.length > 0 ? { "repos copied since": [...watched.repos].sort().join(", "), ...usualWork(watched) } : {}),
      },
    },
  ];
}

function onCopy(event: OrgEvent, state: DetectorState, lim: Thresholds): Drafts {
  const { followMs } = lim;
  const copy = possibleCopy(event);
  if (!copy) return [];
  const primary = historyKey(event.actor, event.token);
  if (!primary) return [];
  const repo = copy.repo;

  // New to the account means new to the actor AND to the token (an actor-less entry's token has its own
  // history), judged before this copy is remembered.
  const own = readHistory(state, primary);
  const tokenKey = event.actor && event.token ? historyKey(null, event.token) : null;
  const isNew = !has(own, repo) && !(tokenKey && has(readHistory(state, tokenKey), repo));
  const firstFetch = !has(own, repo);
  touch(state, primary, own, repo, event.at);
  watchedSince(state, event.at, HISTORY_MS);
  // A fetch of a repository the account has is ordinary work; its first fetch brings the whole repository.
  if (copy.fetch && !firstFetch) return [];

  if (event.actor) {
    const key = `recent:${event.actor}`;
    const prev = state.get<Recent>(key);
    const r = prev && Array.isArray(prev.r) ? prev.r : [];
    const newest = r.reduce((m, e) => (Array.isArray(e) && typeof e[1] === "number" ? Math.max(m, e[1]) : m), event.at);
    const kept = r.filter(
      (e) => Array.isArray(e) && typeof e[1] === "number" && e[1] >= newest - REORDER_MS && !(e[0] === repo && e[1] === event.at),
    );
    kept.push([repo, event.at, isNew ? 1 : 0]);
    state.set(key, { r: kept.slice(-MAX_RECENT) } satisfies Recent, newest + REORDER_MS);
  }

  // Both the actor and the token may lead to the same credential: credit it once.
  const subjects = new Set<string>();
  for (const key of keysOf(event.actor ? [event.actor] : [], event.token)) {
    for (const [subject, at] of readIndex(state, key)) {
      if (event.at >= at && event.at - at <= followMs) subjects.add(subject);
    }
  }
  const drafts: Drafts = [];
  for (const subject of subjects) {
    const w = readWatched(state, subject);
    if (!w || event.at < w.at || event.at - w.at > followMs) continue;
    if (w.repos.length >= MAX_REPOS || w.repos.some((r) => r.toLowerCase() === repo.toLowerCase())) continue;
    // A token's copies are judged against the credential's owner too: a repository they cloned over SSH last
    // week is not new because the token that fetches it now is.
    const ownerKey = w.owner ? historyKey(w.owner, null) : null;
    const fresh = isNew && !(ownerKey && ownerKey !== primary && has(readHistory(state, ownerKey), repo));
    w.repos.push(repo);
    if (fresh) w.fresh.push(repo);
    state.set(`cred:${subject}`, w, w.at + followMs);
    const why = raisedBy(w, lim);
    if (!why) continue;
    const repos = [...w.repos].sort();
    drafts.push({
      subject,
      severity: "high",
      summary: raisedSummary(w, why, followMs),
      actor: w.owner ?? event.actor,
      repos,
      evidence: {
        at: new Date(event.at).toISOString(),
        action: event.action,
        copy: copy.kind,
        repo,
        visibility: event.visibility ?? "unknown",
        credential: w.kind,
        "credential added": new Date(w.at).toISOString(),
        "repos copied since": repos.join(", "),
        "distinct repos": repos.length,
        ...usualWork(w),
        token: event.token,
        country: event.country,
      },
    });
  }
  return drafts;
}

function hoursOf(ms: number): number {
  return Math.round((ms / HOUR) * 10) / 10;
}
