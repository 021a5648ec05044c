// Converts one org audit-log entry into the normalized event. Entries come from the REST API, from streaming
// (S3, Azure, GCS, Splunk...), from the UI's JSON and CSV exports, and from years of history, so the same
// fact arrives under several names and types: epoch milliseconds or ISO text, fields at the top level or
// nested under `data` (pre-2022), `repo` or `repository`, booleans as `true` or as the CSV text "true".
// Every field is read defensively: anything unexpected yields fewer facts, never an exception, because one
// odd line must not stop the analysis of a million others.
import { createHash } from "node:crypto";
import { toCountryCode } from "../geo/countries.js";
import { parseTimestamp, readTimestamp } from "./time.js";
import type { EventDetails, OrgEvent, Visibility } from "./types.js";

export interface FromAuditLogOptions {
  /** The installation whose audit log was polled; null or absent offline. */
  installationId?: number | null;
  /** Org login to use when the entry does not name one (enterprise streams, old exports). */
  orgFallback?: string | null;
  /**
   * The org whose audit log was polled. It wins over the org an entry names: an entry read through one org's
   * installation is that org's business, whatever it says (the name it gave is kept as evidence).
   */
  org?: string | null;
}

type Obj = Record<string, unknown>;
type Extra = NonNullable<EventDetails["extra"]>;

export const APP_TOKEN_TYPE = "GitHub App server-to-server token";

/** Longest value kept in `details.extra`: it is evidence, not storage for whatever an entry carries. */
const MAX_EXTRA = 500;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A login or name: strings only (a number here would be a misplaced id). */
function name(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const t = v.trim();
  return t === "" ? undefined : t;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

function bool(v: unknown): boolean | undefined {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const t = v.trim().toLowerCase();
    if (t === "true") return true;
    if (t === "false") return false;
  }
  return undefined;
}

function visibility(v: unknown): Visibility | undefined {
  const s = typeof v === "string" ? v.trim().toLowerCase() : undefined;
  return s === "public" || s === "private" || s === "internal" ? s : undefined;
}

/** The first field that is present (not undefined, null or empty text) among `keys`. */
function pick(e: Obj, ...keys: string[]): unknown {
  for (const k of keys) {
    const v = e[k];
    if (v !== undefined && v !== null && v !== "") return v;
  }
  return undefined;
}

/** Fields of old entries live under `data` (an object, or JSON text in some CSV exports). */
function nestedData(e: Obj): Obj | undefined {
  const d = e.data;
  if (isObj(d)) return d;
  if (typeof d === "string" && d.trimStart().startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(d);
      return isObj(parsed) ? parsed : undefined;
    } catch {
      // Not JSON after all: the text stays in the entry and only its facts are lost.
      return undefined;
    }
  }
  return undefined;
}

/** Top-level fields win over `data`: `data` only fills gaps. */
function flatten(e: Obj): Obj {
  const d = nestedData(e);
  if (!d) return e;
  // No prototype: a `__proto__` key in the entry stays a key, instead of becoming what `out` inherits from.
  const out: Obj = Object.assign(Object.create(null) as Obj, d);
  for (const [k, v] of Object.entries(e)) {
    if (k === "data") continue;
    if (v !== undefined && v !== null && v !== "") out[k] = v;
    else if (!(k in out)) out[k] = v;
  }
  return out;
}

function firstName(v: unknown): string | undefined {
  if (Array.isArray(v)) return name(v[0]);
  return name(v);
}

function repoOf(e: Obj, org: string | null): string | null {
  let r = pick(e, "repo", "repository", "repo_name", "repository_name");
  if (isObj(r)) r = pick(r, "full_name", "nwo", "name");
  const s = name(r);
  if (!s) return null;
  if (s.includes("/")) return s;
  return org ? `${org}/${s}` : null;
}

function countryOf(e: Obj): string | null {
  const loc = e.actor_location;
  if (isObj(loc)) {
    const c = toCountryCode(name(loc.country_code)) ?? toCountryCode(name(loc.country_name)) ?? toCountryCode(name(loc.country));
    if (c) return c;
  }
  return (
    toCountryCode(name(e["actor_location.country_code"])) ??
    toCountryCode(name(e.country_code)) ??
    toCountryCode(name(e.country_name)) ??
    toCountryCode(name(e.country))
  );
}

/** Ids that JSON gives as numbers and CSV as text: numbers either way, so both exports give equal evidence. */
const NUMERIC_EXTRA = new Set(["token_id", "hook_id", "migration_id", "new_owner_id"]);

function extraValue(v: unknown, key = ""): string | number | boolean | null | undefined {
  if (v === undefined || v === "") return undefined;
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string") {
    // CSV writes booleans as text; a field that is a flag in JSON must stay one.
    if (v === "true" || v === "false") return v === "true";
    if (NUMERIC_EXTRA.has(key) && /^\d{1,15}$/.test(v)) return Number(v);
    return v.length > MAX_EXTRA ? `${v.slice(0, MAX_EXTRA - 1)}…` : v;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number")) {
    return extraValue(v.join(", "));
  }
  return undefined;
}

/** Facts shown as evidence whatever the action. */
const EXTRA_KEYS = [
  "user_agent",
  "transport_protocol_name",
  "operation_type",
  "business",
  "token_id",
  "token_scopes",
  "oauth_application_name",
  "integration",
  "request_method",
  "route",
  "url_path",
  "hook_id",
  "events",
  "old_permission",
  "old_repo_permission",
  "team",
  "external_identity_nameid",
  "user_programmatic_access_name",
  "repository_selection",
  "repositories",
  "audit_log_stream_enabled",
  "audit_log_stream_sink",
  "migration_id",
  "repo_was",
  "inviter",
  // Rulesets' own names for what changed; only repository_ruleset entries carry them.
  "ruleset_name",
  "ruleset_source_type",
  "ruleset_enforcement",
  "ruleset_old_enforcement",
  // What an IP allow-list entry lets in, and where a SAML identity provider now signs people in.
  "ip_allow_list_entry",
  "sso_url",
] as const;

/** `enabled` of an `audit_log_streaming.*` entry: whether the stream is left running after the change. */
const STREAM_EXTRA_KEYS = ["enabled"] as const;

/** Transfer facts whose meaning varies between GitHub's event versions: kept raw beside newOwner. */
const TRANSFER_EXTRA_KEYS = ["new_nwo", "new_owner_id", "old_user", "owner", "target_login", "new_owner_type", "target_type"] as const;

/**
 * Branch-protection entries name the branch or pattern (and an override the commits it let through), ruleset
 * and GitHub App installation entries the ruleset or the app, in fields too generic to keep for every action.
 */
const PROTECTION_EXTRA_KEYS = ["name", "branch", "pattern", "before", "after"] as const;

const KEY_ACTION = /^(public_key|deploy_key)\./;
/** Actions whose affected person is the `invitee`: invitations of every kind, and outside collaborators. */
const INVITEE_ACTION = /invit|^org\.add_outside_collaborator$/;
/** Streaming entries say whether the stream is left on in a field too generic to keep for every action. */
const STREAM_ACTION = /^audit_log_streaming\./;
const PROTECTION_ACTION = /^(protected_branch|repository_ruleset|integration_installation)\./;
const TRANSFER_ACTION = /transfer/;
/** A repository's own transfer (not an issue's or an org's): the repository's owner is the org it left. */
const REPO_TRANSFER_ACTION = /^repo\.transfer/;

function ownerType(v: unknown): string | undefined {
  const s = name(v)?.toLowerCase();
  if (s === "user") return "User";
  if (s === "organization" || s === "org") return "Organization";
  if (s === "business" || s === "enterprise") return "Enterprise";
  return name(v);
}

function detailsOf(e: Obj, action: string): EventDetails {
  const d: EventDetails = {};
  const prev = visibility(e.previous_visibility);
  if (prev) d.previousVisibility = prev;
  // Invitations and `org.add_outside_collaborator` name the person in `invitee` (and the one who invited in
  // `inviter`, kept as evidence); for them `invitee` wins. Elsewhere `user` is the person acted upon. Git
  // events carry `user: ""`, which names nobody.
  const invitee = name(e.invitee);
  const user = INVITEE_ACTION.test(action) ? (invitee ?? name(e.user)) : (name(e.user) ?? invitee);
  if (user) d.user = user;
  const permission = name(e.permission) ?? name(e.new_repo_permission) ?? name(e.repo_permission);
  if (permission) d.permission = permission;

  if (KEY_ACTION.test(action)) {
    const title = name(e.title) ?? name(e.key_title);
    if (title) d.keyTitle = title;
    const keyId = num(e.key_id) ?? num(e.public_key_id) ?? num(e.deploy_key_id);
    if (keyId !== undefined) d.keyId = keyId;
  }
  const fingerprint = name(e.fingerprint) ?? name(e.key_fingerprint);
  if (fingerprint) d.keyFingerprint = fingerprint;
  const readOnly = bool(e.read_only);
  if (readOnly !== undefined) d.keyReadOnly = readOnly;

  if (TRANSFER_ACTION.test(action)) {
    const nwo = name(e.new_nwo);
    const newOwner =
      name(e.new_owner) ?? name(e.new_owner_login) ?? name(e.target_login) ?? (nwo?.includes("/") ? nwo.slice(0, nwo.indexOf("/")) : undefined);
    if (newOwner) d.newOwner = newOwner;
    const type = ownerType(pick(e, "new_owner_type", "target_type", "new_owner_kind"));
    if (type) d.newOwnerType = type;
  }

  const config = e.config;
  const hookUrl =
    (isObj(config) ? name(config.url) : undefined) ??
    name(e["config.url"]) ??
    name(e.hook_url) ??
    name(e.payload_url) ??
    (action.startsWith("hook.") ? (name(e.url) ?? name(e.target_url)) : undefined);
  if (hookUrl) d.hookUrl = hookUrl;

  const extra = extraOf(e, TRANSFER_ACTION.test(action), PROTECTION_ACTION.test(action), STREAM_ACTION.test(action));
  if (extra) d.extra = extra;
  return d;
}

/** Every evidence key, in the order `extra` lists them, with the group it belongs to. */
const EXTRA_ORDER = new Map<string, { at: number; group: "all" | "transfer" | "protection" | "stream" }>(
  [
    ...EXTRA_KEYS.map((k) => [k, "all"] as const),
    ...TRANSFER_EXTRA_KEYS.map((k) => [k, "transfer"] as const),
    ...PROTECTION_EXTRA_KEYS.map((k) => [k, "protection"] as const),
    ...STREAM_EXTRA_KEYS.map((k) => [k, "stream"] as const),
  ].map(([k, group], at) => [k, { at, group }]),
);

/**
 * The entry's fields kept as evidence, in EXTRA_ORDER (so a JSON and a CSV export of one entry give the same
 * evidence), or undefined when there are none. Walks the entry's own keys, a handful, rather than looking up
 * every evidence key in it: this runs for every entry `analyze` reads.
 */
function extraOf(e: Obj, transfer: boolean, protection: boolean, stream: boolean): Extra | undefined {
  let found: { at: number; k: string; v: string | number | boolean | null }[] | undefined;
  for (const k in e) {
    const slot = EXTRA_ORDER.get(k);
    if (slot === undefined || !Object.hasOwn(e, k)) continue;
    if ((slot.group === "transfer" && !transfer) || (slot.group === "protection" && !protection) || (slot.group === "stream" && !stream)) {
      continue;
    }
    const v = extraValue(e[k], k);
    if (v !== undefined) (found ??= []).push({ at: slot.at, k, v });
  }
  if (!found) return undefined;
  if (found.length > 1) found.sort((a, b) => a.at - b.at);
  const extra: Extra = {};
  for (const f of found) extra[f.k] = f.v;
  return extra;
}

/** Stable text of an entry for hashing: dotted paths, sorted, every scalar as text, empties dropped. */
function canonical(e: Obj): string {
  const pairs: string[] = [];
  const walk = (v: unknown, path: string, depth: number) => {
    if (v === undefined || v === null || v === "") return;
    if (isObj(v) && depth < 8) {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, depth + 1);
      return;
    }
    // CSV gives "123" where JSON gives 123: both hash the same so the two exports dedupe to one event.
    const text = typeof v === "string" ? v : Array.isArray(v) ? JSON.stringify(v) : String(v);
    pairs.push(`${JSON.stringify(path)}:${JSON.stringify(text)}`);
  };
  walk(e, "", 0);
  return pairs.sort().join("\n");
}

/** Keeps, as evidence, the org an entry named when the log it came from belongs to another. */
function withNamedOrg(d: EventDetails, named: string | undefined, org: string | null): EventDetails {
  if (named === undefined || org === null || named.toLowerCase() === org.toLowerCase()) return d;
  return { ...d, extra: { ...d.extra, org_named_in_entry: named } };
}

/**
 * `audit:<org>:<_document_id>`: GitHub's document ids are unique, but an id from one org's log must never make
 * another org's entry look already seen. Without a document id, a hash of the entry's content (its org among it).
 */
function idOf(e: Obj, org: string | null): string {
  const doc = name(e._document_id) ?? name(e.document_id);
  if (doc) return org ? `audit:${org.toLowerCase()}:${doc}` : `audit:${doc}`;
  return `audit:sha1:${createHash("sha1").update(`${org?.toLowerCase() ?? ""}\n${canonical(e)}`).digest("hex")}`;
}

/**
 * The org a transfer entry that names none happened in: the owner of the repository as it was (`repo_was`),
 * else of the repository it names. A transfer is only a finding relative to the org it left, so guessing
 * nothing would lose it; a bare repository name says no owner and gives none.
 */
function transferOrg(e: Obj): string | undefined {
  for (const v of [e.repo_was, pick(e, "repo", "repository", "repo_name", "repository_name")]) {
    const s = name(isObj(v) ? pick(v, "full_name", "nwo") : v);
    const slash = s?.indexOf("/") ?? -1;
    if (s && slash > 0) return s.slice(0, slash);
  }
  return undefined;
}

/** Where an entry's time is, the first present wins. */
const TIME_KEYS = ["@timestamp", "created_at", "timestamp", "at_sign_timestamp"] as const;

/**
 * Why an entry gives no event for want of a time: the field is missing, or its value is in no form that
 * is read (for the CLI's line-numbered report). Undefined when the time is usable.
 */
export function timeProblem(entry: unknown): string | undefined {
  if (!isObj(entry)) return undefined;
  const e = flatten(entry);
  const key = TIME_KEYS.find((k) => pick(e, k) !== undefined);
  if (key === undefined) return "no usable time (`@timestamp` or `created_at`)";
  const r = readTimestamp(e[key]);
  if (r.ok) return undefined;
  const v = e[key];
  const shown = typeof v === "string" ? JSON.stringify(v.slice(0, 40)) : (JSON.stringify(v) ?? String(v)).slice(0, 40);
  return `no usable time: \`${key}\` ${shown} is ${r.reason}`;
}

/**
 * The normalized event for one audit-log entry, or null when the value is not an audit event (not an
 * object, no `action`, no usable time). Never throws.
 */
export function fromAuditLog(entry: unknown, opts: FromAuditLogOptions = {}): OrgEvent | null {
  try {
    return convert(entry, opts);
  } catch {
    // Defensive reads should make this unreachable; an entry that still trips them is skipped, not fatal.
    return null;
  }
}

function convert(entry: unknown, opts: FromAuditLogOptions): OrgEvent | null {
  if (!isObj(entry)) return null;
  const e = flatten(entry);
  const action = name(e.action);
  if (!action) return null;
  const at = parseTimestamp(pick(e, ...TIME_KEYS));
  if (at === undefined) return null;

  const named = firstName(e.org) ?? name(e.org_login);
  const org = name(opts.org) ?? named ?? name(opts.orgFallback) ?? (REPO_TRANSFER_ACTION.test(action) ? transferOrg(e) : undefined) ?? null;
  const repo = repoOf(e, org);

  // Anonymous clones of public repos carry no actor and user_id 0: the actor stays null, and an id of 0
  // is nobody's.
  const actor = name(e.actor) ?? null;
  let actorId = num(e.actor_id) ?? null;
  if (actorId === 0) actorId = null;

  const tokenType = name(e.programmatic_access_type) ?? null;
  const actorIsBot =
    bool(e.actor_is_bot) === true || tokenType === APP_TOKEN_TYPE || (actor !== null && actor.endsWith("[bot]"));

  let vis: Visibility | null = visibility(e.visibility) ?? null;
  if (vis === null) {
    // A bare "not public" cannot tell private from internal; both count as non-public everywhere that
    // matters (clone counting, made-public), so private is the safe reading.
    const pub = bool(e.repository_public) ?? bool(e.public_repo);
    if (pub !== undefined) vis = pub ? "public" : "private";
  }

  const installationId = typeof opts.installationId === "number" ? opts.installationId : null;

  return {
    id: idOf(e, org),
    source: "audit-log",
    action,
    at,
    org,
    business: firstName(e.business) ?? null,
    actor,
    actorId,
    actorIsBot,
    repo,
    visibility: vis,
    country: countryOf(e),
    ip: name(e.actor_ip) ?? null,
    token: name(e.hashed_token) ?? null,
    tokenType,
    installationId,
    details: withNamedOrg(detailsOf(e, action), named, org),
  };
}
