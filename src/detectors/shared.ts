// Helpers several detectors share. Detectors never import each other: what two of them must agree on (what
// counts as a copy, who is automation, how an hour is named) lives here, beside them.
import { z } from "zod";
import { entryOf, isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { DetectorState } from "./types.js";

/** Bots and app tokens: excluded by every behavioural detector. */
export function isAutomation(event: OrgEvent): boolean {
  if (event.actorIsBot) return true;
  return typeof event.tokenType === "string" && /server-to-server/i.test(event.tokenType);
}

/** `2026-10-02T10`: the hour used in burst subjects. */
export function isoHour(at: number): string {
  return new Date(at).toISOString().slice(0, 13);
}

/**
 * How a full copy of a repository was taken, as named in evidence: clones, zip downloads, the first fetch of
 * a repository the account never had (objects fetched into another local repository are logged as
 * `git.fetch`, not `git.clone`), and source archives downloaded through the REST API.
 */
export const COPY_KINDS = {
  "git.clone": "clone",
  "repo.download_zip": "zip download",
  "git.fetch": "first fetch",
  "api.request": "archive download (API)",
} satisfies Partial<Record<KnownAction, string>>;

/**
 * `GET /repos/{owner}/{repo}/tarball/{ref}` and `/zipball/`, as a path (`url_path`, or a `route` that names
 * the repository), with the API's host or GitHub Enterprise Server prefix allowed in front. Anchored, so a
 * path that merely contains such a segment further on (a file named so) is not read as an archive.
 */
const ARCHIVE_PATH = /^(?:https?:\/\/[^/]+)?(?:\/api\/v3)?\/repos\/([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)\/(?:tarball|zipball)(?:[/?#]|$)/i;
/** The same route as a template (`/repos/{owner}/{repo}/tarball/{ref}`, `/repos/:owner/:repo/zipball/*ref`). */
const ARCHIVE_ROUTE = /^(?:\/api\/v3)?\/repos\/[^/]+\/[^/]+\/(?:tarball|zipball)(?:[/?#]|$)/i;

/**
 * The repository an `api.request` entry downloaded an archive of, or null for any other call. The entry's
 * own repository wins; otherwise it is read from the path, and only archives of the org's own repositories
 * count (the log can name calls about other owners' public code).
 */
function archiveRepo(event: OrgEvent): string | null {
  const extra = event.details.extra;
  if (!extra) return null;
  const method = extra.request_method;
  // HEAD and the like download nothing; an entry that names no method is counted.
  if (typeof method === "string" && method.toUpperCase() !== "GET") return null;
  const path = typeof extra.url_path === "string" ? extra.url_path : undefined;
  const route = typeof extra.route === "string" ? extra.route : undefined;
  const named = [path, route].map((p) => (p === undefined ? null : ARCHIVE_PATH.exec(p))).find((m) => m != null);
  if (named) {
    if (event.repo) return event.repo;
    const owner = named[1] as string;
    if (event.org && owner.toLowerCase() !== event.org.toLowerCase()) return null;
    return `${owner}/${named[2] as string}`;
  }
  if (event.repo && ((path && ARCHIVE_ROUTE.test(path)) || (route && ARCHIVE_ROUTE.test(route)))) return event.repo;
  return null;
}

/** A possible copy of a non-public repository: which one, how, and whether it is a fetch (a copy only the first time). */
export interface PossibleCopy {
  repo: string;
  kind: (typeof COPY_KINDS)[keyof typeof COPY_KINDS];
  fetch: boolean;
}

/**
 * The copy an event may be, before the account's history is asked about fetches (see `touchRepo`): the
 * same events mass-clone counts. Bots, app tokens, `[bot]` logins and public repositories are never copies.
 */
export function possibleCopy(event: OrgEvent): PossibleCopy | null {
  const kind = entryOf(COPY_KINDS, event.action);
  if (kind === undefined || !Number.isFinite(event.at) || isAutomation(event) || isBotLogin(event.actor)) return null;
  if (event.visibility === "public") return null;
  const repo = isAction(event, "api.request") ? archiveRepo(event) : event.repo;
  if (!repo) return null;
  return { repo, kind, fetch: isAction(event, "git.fetch") };
}

/** `dependabot[bot]`: a GitHub App acting under its own login, even where the entry does not flag it. */
export function isBotLogin(login: string | null): boolean {
  return login !== null && /\[bot\]$/i.test(login);
}

/**
 * What an account has copied or fetched, kept by each detector that needs it (mass-clone, credential-added,
 * shared-identity): each repository (lower-cased) with its latest touch, for COPY_HISTORY_DAYS after it and
 * at most COPY_HISTORY_MAX of them (the least recently touched go first). 30 days is four times mass-clone's
 * new-repositories window and longer than GitHub keeps git events (7 days), so a repository someone pulls
 * every few weeks stays known; 300 is ten times or more the repositories a developer works on in a month,
 * and bounds each account's entry to about 12 KB. Forgetting can only make a later copy count as new, so
 * both bounds err towards reporting, never towards silence.
 */
export const COPY_HISTORY_DAYS = 30;
export const COPY_HISTORY_MAX = 300;
const HISTORY_DAY = 24 * 60 * 60_000;
/** A known repository touched again is written back at most this often: its expiry only needs the day. */
const HISTORY_REFRESH = 60 * 60_000;

/** The `[name, time]` entries of a stored list; anything else in it is dropped (state may be damaged or old). */
export function timedEntries(raw: unknown): [string, number][] {
  return Array.isArray(raw)
    ? raw.filter((e): e is [string, number] => Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number")
    : [];
}

/**
 * One touch of `repo` at `at` applied to an account's copy history (`[repo lower-cased, latest touch]`), the
 * newest touch known being `newest`: what is past COPY_HISTORY_DAYS goes, at most COPY_HISTORY_MAX stay (the
 * least recently touched go first). Answers the new list and when the repository was touched before
 * (undefined: it is new to the account). `touches` is left as it was: it may be the state's own value.
 */
export function touchHistory(touches: readonly [string, number][], repo: string, at: number, newest: number) {
  const horizon = newest - COPY_HISTORY_DAYS * HISTORY_DAY;
  const lower = repo.toLowerCase();
  let before: number | undefined;
  const kept: [string, number][] = [];
  for (const e of touches) {
    if (e[1] < horizon) continue;
    if (e[0] === lower) {
      before = e[1];
      kept.push([lower, Math.max(e[1], at)]);
    } else {
      kept.push(e);
    }
  }
  if (before === undefined && at >= horizon) kept.push([lower, at]);
  return { touches: kept.length > COPY_HISTORY_MAX ? kept.sort((x, y) => y[1] - x[1]).slice(0, COPY_HISTORY_MAX) : kept, before };
}

/**
 * Remembers that an account touched `repo` under `key` of the caller's state and answers whether the
 * repository was new to it (its first fetch brings the whole repository; later ones are ordinary work).
 */
export function touchRepo(state: DetectorState, key: string, repo: string, at: number): boolean {
  const raw = state.get<{ n: number; h: unknown }>(key);
  const n = raw && typeof raw.n === "number" ? Math.max(raw.n, at) : at;
  const { touches, before } = touchHistory(timedEntries(raw?.h), repo, at, n);
  // Touched again within the hour: nothing worth writing back.
  if (before !== undefined && at - before <= HISTORY_REFRESH) return false;
  state.set(key, { n, h: touches }, n + COPY_HISTORY_DAYS * HISTORY_DAY);
  return before === undefined;
}

/**
 * The time the calling detector first saw an event in this scope, kept under its `since` key for `keepMs`
 * after the latest (it only has to outlive the histories it vouches for). Until a detector has watched for
 * a while, every repository is new to every account, so judgements against an account's history wait.
 */
export function watchedSince(state: DetectorState, at: number, keepMs: number): number {
  const raw = state.get<{ s: number; n: number }>("since");
  const known = raw && typeof raw.s === "number" && typeof raw.n === "number" ? raw : undefined;
  // Written again at most daily, not on every event.
  if (!known || at < known.s || at - known.n > HISTORY_DAY) {
    const next = { s: Math.min(known?.s ?? at, at), n: Math.max(known?.n ?? at, at) };
    state.set("since", next, next.n + keepMs);
    return next.s;
  }
  return known.s;
}

/** An IP address as its bytes: 4 for IPv4 (IPv4-mapped IPv6 included), 16 for IPv6. Null when it is not one. */
export function parseIp(text: string): number[] | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    const bytes = s.split(".").map(Number);
    return bytes.every((b) => b <= 255) ? bytes : null;
  }
  // A zone (`fe80::1%eth0`) names the local interface, not the address.
  s = s.replace(/%[\w.-]+$/, "");
  if (!/^[0-9a-f:.]+$/i.test(s) || !s.includes(":")) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (const [i, p] of pieces.entries()) {
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = parseIp(p);
        if (!v4 || v4.length !== 4) return null;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else if (/^[0-9a-f]{1,4}$/i.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const words = [...head, ...Array<number>(missing).fill(0), ...tail];
  const bytes = words.flatMap((w) => [w >> 8, w & 0xff]);
  // `::ffff:a.b.c.d` is an IPv4 client seen through an IPv6 socket: the same address.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12);
  return bytes;
}

/** The network of `bytes` with the first `bits` kept, as text: `203.0.113.0/24`, `2001:db8:1:2::/64`. */
export function ipNetwork(bytes: readonly number[], bits: number): string {
  const kept = bytes.map((b, i) => {
    const from = i * 8;
    if (from + 8 <= bits) return b;
    if (from >= bits) return 0;
    return b & (0xff << (8 - (bits - from)));
  });
  if (kept.length === 4) return `${kept.join(".")}/${bits}`;
  const words = Array.from({ length: 8 }, (_, i) => (((kept[2 * i] as number) << 8) | (kept[2 * i + 1] as number)).toString(16));
  // Compress the longest run of zero words, as addresses are usually written.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === "0") j += 1;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const text = bestLen >= 2 ? `${words.slice(0, best).join(":")}::${words.slice(best + bestLen).join(":")}` : words.join(":");
  return `${text}/${bits}`;
}

/** A parsed CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address; null when it is neither. */
export function parseCidr(text: string): { bytes: number[]; bits: number } | null {
  const slash = text.indexOf("/");
  const bytes = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, bits: max };
  const bitsText = text.slice(slash + 1).trim();
  if (!/^\d{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  // An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is the IPv4 network it maps.
  const mapped = max === 32 && text.slice(0, slash).includes(":");
  const own = mapped ? bits - 96 : bits;
  if (own < 0 || own > max) return null;
  return { bytes, bits: own };
}

/** Whether `address` (parsed) lies in `net`. Addresses of the other family never do. */
export function inCidr(address: readonly number[], net: { bytes: readonly number[]; bits: number }): boolean {
  if (address.length !== net.bytes.length) return false;
  for (let i = 0; i < address.length; i += 1) {
    const left = net.bits - i * 8;
    if (left <= 0) return true;
    const mask = left >= 8 ? 0xff : 0xff & (0xff << (8 - left));
    if (((address[i] as number) & mask) !== ((net.bytes[i] as number) & mask)) return false;
  }
  return true;
}

/** A CIDR or single address, as the `shared_exits` settings accept it. */
export const cidrEntry = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => parseCidr(s) !== null, { message: "not an IP address or CIDR (e.g. 203.0.113.0/24, 2001:db8::/48)" });

/** Parsed once per settings list (a config's lists are the same objects for every event judged with it). */
const parsedCidrs = new WeakMap<readonly string[], { bytes: number[]; bits: number }[]>();

/** Whether `address` falls in any of `entries` (CIDRs or addresses, as `cidrEntry` accepts them). */
export function inAnyCidr(address: readonly number[], entries: readonly string[]): boolean {
  if (entries.length === 0) return false;
  let nets = parsedCidrs.get(entries);
  if (!nets) {
    nets = entries.map(parseCidr).filter((n): n is { bytes: number[]; bits: number } => n !== null);
    parsedCidrs.set(entries, nets);
  }
  return nets.some((net) => inCidr(address, net));
}

/** Accounts remembered per exit, the most recently seen kept: above the largest learning threshold allowed. */
export const MAX_EXIT_ACCOUNTS = 100;
/** A known account seen again on an exit is written back at most this often: its expiry only needs the day. */
const EXIT_REFRESH = 60 * 60_000;

/**
 * The exit an address belongs to, as learned: an IPv4 /24 (an office or VPN gateway usually spreads users
 * over a few neighbouring addresses) or an IPv6 /64.
 */
export function exitKey(bytes: number[]): string {
  return ipNetwork(bytes, bytes.length === 4 ? 24 : 64);
}

/** Accounts seen on one exit: [lower-cased login, first seen, last seen]. */
type Sighting = [login: string, first: number, last: number];

function readSightings(state: DetectorState, key: string): Sighting[] {
  const raw = state.get<unknown>(key);
  return Array.isArray(raw)
    ? raw.filter(
        (e): e is Sighting =>
          Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "number" && typeof e[2] === "number",
      )
    : [];
}

/**
 * Records under `key` of the caller's state that `login` used an exit at `at`, for `keepMs` after its last
 * use; written only when it tells something new.
 */
export function sight(state: DetectorState, key: string, login: string, at: number, keepMs: number): void {
  const list = readSightings(state, key);
  const lower = login.toLowerCase();
  const hit = list.find((e) => e[0] === lower);
  if (hit && at >= hit[1] && at - hit[2] <= EXIT_REFRESH) return;
  if (hit) {
    hit[1] = Math.min(hit[1], at);
    hit[2] = Math.max(hit[2], at);
  } else {
    list.push([lower, at, at]);
  }
  const newest = list.reduce((m, e) => Math.max(m, e[2]), at);
  const kept = list.filter((e) => e[2] >= newest - keepMs).sort((x, y) => y[2] - x[2]).slice(0, MAX_EXIT_ACCOUNTS);
  state.set(key, kept, newest + keepMs);
}

/**
 * Whether the exit is shared: at least `accounts` distinct accounts first seen on it a day or more before
 * `at` and still within the learning window. Only the past counts, so accounts that turn up together today
 * (an operator's own) cannot make their address look like an office.
 */
export function isSharedExit(state: DetectorState, key: string, at: number, accounts: number, keepMs: number): boolean {
  const known = readSightings(state, key).filter((e) => e[1] <= at - HISTORY_DAY && e[2] >= at - keepMs);
  return known.length >= accounts;
}
