// credential-added: a new SSH key, deploy key, personal access token or OAuth grant, the credential
// harvesting step that lets someone keep working from a device the company does not control. Alone it is
// low; when the same actor or token then copies several repositories within a day it becomes high on the
// SAME finding, with the repositories as evidence. Public rule sets do not make that link.
import { z } from "zod";
import { actionsOf, entryOf, isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import { COPY_ACTIONS, isAutomation, isCountedCopy } from "./shared.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
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
}

/** Per actor or token: the credentials to credit its copies to, as [subject, added at]. */
type Index = [subject: string, at: number][];

interface Recent {
  /** Copies made lately: [repo, at]. */
  r: [string, number][];
}

function readWatched(state: DetectorState, subject: string): Watched | undefined {
  const w = state.get<Watched>(`cred:${subject}`);
  if (!w || typeof w !== "object" || typeof w.at !== "number" || !Array.isArray(w.repos)) return undefined;
  return w;
}

function readIndex(state: DetectorState, key: string): Index {
  const raw = state.get<Index>(`index:${key}`);
  if (!Array.isArray(raw)) return [];
  return raw.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number");
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

export const credentialAdded = defineDetector({
  id: "credential-added",
  title: "New credential, then repositories copied with it",
  warningSign: "credential harvesting",
  source: "audit log `public_key.create`, `personal_access_token.access_granted`, `org_credential_authorization.grant`, `oauth_authorization.create`; webhooks `deploy_key`, `personal_access_token_request`",
  defaultSeverity: "low",
  enabledByDefault: true,
  actions: [...actionsOf(KINDS), ...COPY_ACTIONS],
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
      .describe("Distinct non-public repositories cloned or zip-downloaded after a new credential that raise it to high.")
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
    const followMs = ctx.settings.follow_hours * HOUR;
    const credential = entryOf(KINDS, event.action);
    return credential !== undefined
      ? onCredential(event, credential, ctx.state, followMs, ctx.settings.repos)
      : onCopy(event, ctx.state, followMs, ctx.settings.repos);
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

/** `credential`: how the action reads in a summary (its KINDS entry). */
function onCredential(
  event: OrgEvent,
  credential: string,
  state: DetectorState,
  followMs: number,
  threshold: number,
): Drafts {
  const owners = ownersOf(event);
  const owner = owners.includes(event.details.user ?? "") ? (event.details.user as string) : (owners[0] ?? null);
  if (!owner && !event.token) return [];
  const kind = isAction(event, "public_key.create") && event.repo ? "a deploy key" : credential;
  const subject = `${owner ?? `token:${event.token}`}:${subjectAction(event)}:${credentialId(event)}`;
  // A redelivered or re-read credential event keeps what was already credited to it.
  const watched: Watched = readWatched(state, subject) ?? { kind, owner, at: event.at, repos: [] };
  watched.at = Math.min(watched.at, event.at);

  // Copies already processed that happened after the credential count too (slightly out-of-order input).
  for (const o of owners) {
    const recent = state.get<Recent>(`recent:${o}`);
    if (!recent || !Array.isArray(recent.r)) continue;
    for (const e of recent.r) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "number") continue;
      const repo = e[0];
      if (e[1] < watched.at || e[1] - watched.at > followMs || watched.repos.length >= MAX_REPOS) continue;
      if (!watched.repos.some((r) => r.toLowerCase() === repo.toLowerCase())) watched.repos.push(repo);
    }
  }
  state.set(`cred:${subject}`, watched, watched.at + followMs);
  for (const key of keysOf(owners, event.token)) {
    const index = readIndex(state, key).filter(([sub, at]) => sub !== subject && at + followMs >= event.at);
    index.push([subject, watched.at]);
    index.sort((a, b) => a[1] - b[1]);
    const kept = index.slice(-MAX_CREDENTIALS);
    state.set(`index:${key}`, kept, Math.max(...kept.map((e) => e[1])) + followMs);
  }

  const raised = watched.repos.length >= threshold;
  // deploy-key-added already files every deploy key; here a deploy key only matters once copies follow it,
  // so a lone one is watched silently rather than filed twice.
  if (!raised && kind === "a deploy key") return [];
  const details = event.details;
  const repos = [...new Set([...(event.repo ? [event.repo] : []), ...watched.repos])].sort();
  return [
    {
      subject,
      severity: raised ? "high" : "low",
      summary: raised
        ? `${owner ?? "a token"} added ${kind}, then copied ${watched.repos.length} non-public repositories`
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
        ...(watched.repos.length > 0 ? { "repos copied since": [...watched.repos].sort().join(", ") } : {}),
      },
    },
  ];
}

function onCopy(event: OrgEvent, state: DetectorState, followMs: number, threshold: number): Drafts {
  if (!isCountedCopy(event)) return [];
  const repo = event.repo as string;
  if (!event.actor && !event.token) return [];

  if (event.actor) {
    const key = `recent:${event.actor}`;
    const prev = state.get<Recent>(key);
    const r = prev && Array.isArray(prev.r) ? prev.r : [];
    const newest = r.reduce((m, e) => (Array.isArray(e) && typeof e[1] === "number" ? Math.max(m, e[1]) : m), event.at);
    const kept = r.filter(
      (e) => Array.isArray(e) && typeof e[1] === "number" && e[1] >= newest - REORDER_MS && !(e[0] === repo && e[1] === event.at),
    );
    kept.push([repo, event.at]);
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
    w.repos.push(repo);
    state.set(`cred:${subject}`, w, w.at + followMs);
    if (w.repos.length < threshold) continue;
    const repos = [...w.repos].sort();
    drafts.push({
      subject,
      severity: "high",
      summary: `${w.owner ?? "a token"} added ${w.kind}, then copied ${w.repos.length} non-public repositories within ${hoursOf(followMs)} h`,
      actor: w.owner ?? event.actor,
      repos,
      evidence: {
        at: new Date(event.at).toISOString(),
        action: event.action,
        repo,
        visibility: event.visibility ?? "unknown",
        credential: w.kind,
        "credential added": new Date(w.at).toISOString(),
        "repos copied since": repos.join(", "),
        "distinct repos": repos.length,
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
