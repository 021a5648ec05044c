// shared-identity: several org accounts driven by one operator, the fake or shared identities of the FBI
// warning (one remote worker holding several seats, or a team behind one hire). Its first signal is copying
// spread over accounts: from one egress address within an hour, each account copies fewer repositories than
// mass-clone's burst needs, and together they copy more. One finding names every account.
//
// An address many org accounts use anyway (an office, the corporate VPN, cloud CI) explains several accounts
// copying from it, so such shared exits are learned from every event that carries an address (and can be
// listed in the settings). The catalogue's other signals (one commit e-mail behind several logins, one SSH
// key on several logins) need push and key events and are not read yet.
import { z } from "zod";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import { watches } from "../domain/watch.js";
import {
  MAX_EXIT_ACCOUNTS,
  exitKey,
  inAnyCidr,
  cidrEntry,
  ipNetwork,
  isAutomation,
  isBotLogin,
  isSharedExit,
  isoHour,
  parseIp,
  possibleCopy,
  sight,
  touchRepo,
  watchedSince,
  COPY_HISTORY_DAYS,
} from "./shared.js";
import { defineDetector, type DetectorState } from "./types.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/**
 * Copies remembered per address within the window, newest kept. Far above any threshold worth setting
 * (whose maximum is below it), so only a sweep comes near it, and a sweep is over the threshold anyway.
 */
const MAX_COPIES = 400;
/** Allowlist entries: enough for every office and VPN range of a large company. */
const MAX_SHARED_EXITS = 200;

/**
 * The address copies are added up under: an IPv4 address as it is, an IPv6 one by its /64 (one network;
 * a machine's own address within it changes daily with privacy extensions).
 */
function copyKey(bytes: number[]): string {
  return bytes.length === 4 ? bytes.join(".") : ipNetwork(bytes, 64);
}

/** Copies from one address: [login as named, repository as named, latest copy]; and the run in progress. */
interface Copies {
  n: number;
  c: [login: string, repo: string, at: number][];
  r?: { s: number; l: number };
}

function readCopies(state: DetectorState, key: string): Copies {
  const raw = state.get<Copies>(key);
  if (!raw || typeof raw !== "object" || typeof raw.n !== "number" || !Array.isArray(raw.c)) return { n: -Infinity, c: [] };
  const c = raw.c.filter(
    (e): e is [string, string, number] =>
      Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "string" && typeof e[2] === "number",
  );
  const r = raw.r;
  return { n: raw.n, c, ...(r && typeof r.s === "number" && typeof r.l === "number" ? { r } : {}) };
}

export const sharedIdentity = defineDetector({
  id: "shared-identity",
  title: "Several accounts, one operator",
  warningSign: "fake or shared identities",
  source: "audit log copies (`git.clone`, `repo.download_zip`, first `git.fetch`, archive `api.request`) by `actor_ip`; every entry's `actor_ip` for shared exits",
  defaultSeverity: "medium",
  enabledByDefault: true,
  // Copies are judged, but every located entry teaches which addresses many accounts share.
  actions: ["*"],
  settings: z.object({
    window_minutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(60)
      .describe(
        "Copies from one address add up over this many minutes: twice mass-clone's burst window, since switching between accounts slows an operator down.",
      )
      .register(watches, { weaker: "lower" }),
    min_accounts: z
      .number()
      .int()
      .min(2)
      .max(50)
      .default(2)
      .describe("At least this many accounts must have copied from the address within `window_minutes`.")
      .register(watches, { weaker: "higher" }),
    more_than_repos: z
      .number()
      .int()
      .min(1)
      .max(MAX_COPIES - 1)
      .default(5)
      .describe(
        "Medium when the accounts together copy MORE than this many distinct non-public repositories within `window_minutes`: mass-clone's burst threshold, which none of them need reach alone.",
      )
      .register(watches, { weaker: "higher" }),
    shared_exit_accounts: z
      .number()
      .int()
      .min(2)
      .max(MAX_EXIT_ACCOUNTS)
      .default(5)
      .describe(
        "An exit (an IPv4 /24 or an IPv6 /64) where at least this many distinct accounts were seen, each first a day or more before, within `shared_exit_days`, is shared (an office, the VPN, CI) and never adds up copies.",
      )
      .register(watches, { weaker: "lower" }),
    shared_exit_days: z
      .number()
      .int()
      .min(1)
      .max(90)
      .default(14)
      .describe("How long an account's use of an exit is remembered for learning shared exits, in days after its last use.")
      .register(watches, { weaker: "higher" }),
    shared_exits: z
      .array(cidrEntry)
      .max(MAX_SHARED_EXITS)
      .default([])
      .describe(
        `Addresses or CIDRs (\`203.0.113.0/24\`, \`2001:db8::/48\`) that are shared exits from the first day: offices, the corporate VPN, CI runners. At most ${MAX_SHARED_EXITS}.`,
      )
      .register(watches, { weaker: "added" }),
  }),
  nextSteps: [
    "Find out who works from this address: ask each named account's manager where the person works and whether they share a connection (a household, a small office or a coworking space explains it; list such places in `shared_exits`).",
    "If it is not explained: suspend every named account's access to the org and revoke their tokens and SSH keys, then verify each person's identity separately (a video call with ID, a hardware security key).",
    "Check the named accounts' hiring records together: the same references, payment accounts, phone numbers or laptops shipped to the same address point to one operator.",
    "Treat the copied repositories as disclosed: rotate secrets committed to them and keep this issue's evidence for a case.",
  ],
  detect(event: OrgEvent, ctx) {
    if (!event.actor || !event.ip || !Number.isFinite(event.at)) return [];
    if (isAutomation(event) || isBotLogin(event.actor)) return [];
    const bytes = parseIp(event.ip);
    if (!bytes) return [];
    const s = ctx.settings;
    const keepMs = s.shared_exit_days * DAY;
    const exit = exitKey(bytes);
    const exitStateKey = `exit:${exit}`;
    // Judged before this event is learned: an account's first day on an exit never makes it shared.
    const shared =
      inAnyCidr(bytes, s.shared_exits) || isSharedExit(ctx.state, exitStateKey, event.at, s.shared_exit_accounts, keepMs);
    sight(ctx.state, exitStateKey, event.actor, event.at, keepMs);

    const copy = possibleCopy(event);
    if (!copy) return [];
    // The account's history decides what a fetch is: the first one brings the whole repository. Every copy is
    // remembered wherever it was made (at the office too), so a later pull from home is not taken for a first.
    const isNew = touchRepo(ctx.state, `seen:${event.actor.toLowerCase()}`, copy.repo, event.at);
    // Until the detector has watched for a day, every fetch looks like a first one (developers pulling their
    // checkouts): fetches count only after that, clones and downloads from the start.
    const since = watchedSince(ctx.state, event.at, COPY_HISTORY_DAYS * DAY);
    if (copy.fetch && (!isNew || event.at - since < DAY)) return [];
    if (shared) return [];
    if (ctx.allow.actor(event.actor) || ctx.allow.repo(copy.repo)) return [];

    const windowMs = s.window_minutes * MINUTE;
    const where = copyKey(bytes);
    const key = `ip:${where}`;
    const w = readCopies(ctx.state, key);
    const login = event.actor.toLowerCase();
    const repoLower = copy.repo.toLowerCase();
    const hit = w.c.find((e) => e[0].toLowerCase() === login && e[1].toLowerCase() === repoLower);
    if (hit) hit[2] = Math.max(hit[2], event.at);
    else w.c.push([event.actor, copy.repo, event.at]);
    w.n = Math.max(w.n, event.at);
    const end = w.n;
    w.c = w.c.filter((e) => e[2] >= end - windowMs);
    if (w.c.length > MAX_COPIES) w.c = w.c.sort((x, y) => y[2] - x[2]).slice(0, MAX_COPIES);

    // Per account (lower-cased, shown as first named), the distinct repositories it copied in the window.
    const byAccount = new Map<string, { name: string; repos: Map<string, string> }>();
    const repos = new Map<string, string>();
    for (const [name, repo, at] of w.c) {
      if (at < end - windowMs) continue;
      const entry = byAccount.get(name.toLowerCase()) ?? { name, repos: new Map<string, string>() };
      entry.repos.set(repo.toLowerCase(), repo);
      byAccount.set(name.toLowerCase(), entry);
      repos.set(repo.toLowerCase(), repo);
    }
    const over = byAccount.size >= s.min_accounts && repos.size > s.more_than_repos;
    if (over) {
      // One run while the address stays over the threshold without a full quiet window in between.
      w.r = !w.r || end - w.r.l > windowMs ? { s: w.c.reduce((m, e) => Math.min(m, e[2]), end), l: end } : { s: w.r.s, l: Math.max(w.r.l, end) };
    } else if (w.r && end - w.r.l > windowMs) {
      delete w.r;
    }
    ctx.state.set(key, w, end + windowMs);
    if (!over || !w.r) return [];

    const accounts = [...byAccount.values()].sort((a, b) => b.repos.size - a.repos.size || a.name.localeCompare(b.name));
    const names = accounts.map((a) => a.name);
    const draft: FindingDraft = {
      subject: `ip:${where}:${isoHour(w.r.s)}`,
      severity: "medium",
      summary: `${names.length} accounts (${names.join(", ")}) copied ${repos.size} non-public repositories from ${where} within ${s.window_minutes} min`,
      actor: event.actor,
      repos: [...repos.values()].sort(),
      evidence: {
        at: new Date(event.at).toISOString(),
        action: event.action,
        copy: copy.kind,
        repo: copy.repo,
        visibility: event.visibility ?? "unknown",
        ip: event.ip,
        exit,
        accounts: names.join(", "),
        [`distinct repos in ${s.window_minutes} min`]: repos.size,
        "copies by account": accounts.map((a) => `${a.name}: ${[...a.repos.values()].sort().join(", ")}`).join("; "),
        "copying started": new Date(w.r.s).toISOString(),
        token: event.token,
        country: event.country,
      },
    };
    return [draft];
  },
});
