// Runs the detectors over normalized events and folds what they find into findings. A detector that throws
// is logged and counted and never stops the others; a finding's fingerprint is `<detector>:<subject>`, so
// the same incident seen through several channels lands on one finding.
//
// Detectors are synchronous and never touch the database: before a batch, `prepare` loads what its events
// can read (each scope's detector state, kept in memory while the engine judges that scope, and the
// directory entries of the batch's users); `process` runs the detectors on that; `record` folds a result into
// its finding; `writeBack` hands the changed state to the batch's unit of work.
import type { Config } from "../config/schema.js";
import { detectorSettings } from "../config/schema.js";
import { compileAllowLists } from "../config/allow.js";
import { DETECTORS } from "../detectors/index.js";
import { fingerprintOf, type FindingDraft } from "../domain/finding.js";
import { raiseSeverity, type Severity } from "../domain/severity.js";
import type { Detector, DetectorContext, Facts } from "../detectors/types.js";
import type { OrgEvent } from "../events/types.js";
import type { RecordedFinding, Storage } from "../store/storage.js";
import { BatchDirectory, learnFacts } from "./facts.js";
import { newMemberReason, youngAccountReason } from "./raise.js";
import { scopeOf, type ScopeMode } from "./scope.js";
import { StateCache } from "./state-cache.js";

export { NEW_MEMBER_DAYS } from "./raise.js";
/** What most events find: shared, never written to. */
const NONE: readonly Candidate[] = Object.freeze([]);
/** In a detector's `actions`: call it for every event (location detectors read any located entry). */
export const ANY_ACTION = "*";

export interface EngineLogger {
  error(obj: object, msg: string): void;
}

export interface EngineOptions {
  log?: EngineLogger;
  /** Wall clock for bookkeeping only (created_at); detection time is always the event's own `at`. */
  now?: () => number;
  /** What adds up: each org alone (the app, the default), or one enterprise's orgs together (`analyze`). */
  scope?: ScopeMode;
  /** Detector state kept in memory across batches, in entries, before scopes not in use are dropped. */
  maxCachedState?: number;
}

/** What one detector found for one event, before it is folded into its finding. */
export interface Candidate {
  scope: string;
  detector: string;
  /** The draft with the severity the config fixes, if any. */
  draft: FindingDraft;
}

interface Prepared {
  config: Config;
  allow: ReturnType<typeof compileAllowLists>;
  byAction: Map<string, { detector: Detector; settings: Record<string, unknown> & { enabled: boolean; severity?: string } }[]>;
}

export class Engine {
  private readonly log: EngineLogger | undefined;
  private readonly now: () => number;
  private readonly scopeMode: ScopeMode;
  /** Org → the enterprise its entries named first (`business` scope only). */
  private readonly orgBusiness = new Map<string, string>();
  private readonly prepared = new WeakMap<Config, Prepared>();
  private readonly state: StateCache;
  /** Members of the orgs in the batch being judged, learned from events as they pass. */
  private directory = new BatchDirectory(new Map());
  private readonly facts: Facts;
  /** Detector id → number of times it threw. Exposed for /health and the CLI summary. */
  readonly failures = new Map<string, number>();

  constructor(opts: EngineOptions = {}) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.scopeMode = opts.scope ?? "org";
    this.state = new StateCache(opts.maxCachedState ?? 200_000);
    this.facts = {
      isOrgMember: (org, login) => this.directory.get(org, login)?.isMember ?? null,
    };
  }

  /**
   * Loads what the batch's events can read: each scope's detector state (once; it stays cached while the
   * engine keeps judging that scope) and the directory entries of the users they name. Call it in the
   * batch's unit of work, before `process`.
   */
  async prepare(tx: Storage, events: readonly OrgEvent[]): Promise<void> {
    const scopes = new Set<string>();
    const logins = new Map<string, Set<string>>();
    for (const e of events) {
      // Which scopes the batch may judge in, without learning anything yet: `process` learns an org's
      // enterprise from the entry that names it, in order, so entries before it stay with their org.
      const org = e.org?.toLowerCase();
      const known = this.scopeMode === "business" ? (org ? (this.orgBusiness.get(org) ?? null) : null) : null;
      scopes.add(scopeOf(e, this.scopeMode, e.business && this.scopeMode === "business" ? e.business : known));
      if (!e.org) continue;
      let set = logins.get(e.org);
      if (!set) logins.set(e.org, (set = new Set()));
      if (e.actor) set.add(e.actor);
      if (e.details.user) set.add(e.details.user);
    }
    await this.state.load(tx, scopes);
    const known = new Map<string, Map<string, { isMember: boolean; joinedAt: number | null }>>();
    for (const [org, set] of logins) known.set(org, await tx.directory.members(org, [...set]));
    this.directory = new BatchDirectory(known);
  }

  /** Writes what the batch changed (detector state, members learned) in its unit of work. */
  async writeBack(tx: Storage, expireStateBefore?: number): Promise<void> {
    for (const m of this.directory.takeChanges()) await tx.directory.setMember(m.org, m.login, m.isMember, m.joinedAt, m.at);
    await tx.state.write(this.state.takeChanges(), expireStateBefore);
    if (expireStateBefore !== undefined) this.state.expireBefore(expireStateBefore);
  }

  /** The batch's unit of work was rolled back: what the engine holds in memory is no longer what is stored. */
  forget(): void {
    this.state.clear();
    this.directory = new BatchDirectory(new Map());
  }

  private compiled(config: Config): Prepared {
    let p = this.prepared.get(config);
    if (!p) {
      const byAction: Prepared["byAction"] = new Map();
      for (const detector of DETECTORS) {
        const settings = detectorSettings(config, detector.id);
        if (!settings.enabled) continue;
        for (const action of detector.actions) {
          const list = byAction.get(action) ?? [];
          list.push({ detector, settings });
          byAction.set(action, list);
        }
      }
      // ANY_ACTION detectors (location-based ones read every event) join every action's list here, once
      // per config, so process() stays a single map lookup.
      const any = byAction.get(ANY_ACTION);
      if (any) for (const [action, list] of byAction) if (action !== ANY_ACTION) list.push(...any);
      p = { config, allow: compileAllowLists(config), byAction };
      this.prepared.set(config, p);
    }
    return p;
  }

  /**
   * Runs every enabled detector that reads `event.action` and answers what they found, not yet recorded.
   * Synchronous and without a database round trip: everything it reads was loaded by `prepare`.
   */
  process(event: OrgEvent, config: Config): readonly Candidate[] {
    learnFacts(this.directory, event);
    const p = this.compiled(config);
    const candidates = p.byAction.get(event.action) ?? p.byAction.get(ANY_ACTION);
    if (!candidates) return NONE;
    // Allowlisted actors and repositories are silenced, not hidden: detectors still see their events so
    // their bookkeeping stays true (a deletion by an allowed admin explains the repo the inventory sweep
    // later misses), but nothing they find is recorded.
    const silenced = p.allow.actor(event.actor) || p.allow.repo(event.repo);
    // Every window, baseline and finding is kept per scope: another org's events never add up with these.
    const scope = this.scopeFor(event);
    let out: Candidate[] | undefined;
    for (const { detector, settings } of candidates) {
      let drafts: FindingDraft[];
      try {
        const ctx: DetectorContext<Record<string, unknown>> = {
          settings,
          allow: p.allow,
          facts: this.facts,
          state: this.state.view(scope, detector.id),
        };
        drafts = detector.detect(event, ctx as never);
      } catch (err) {
        this.failures.set(detector.id, (this.failures.get(detector.id) ?? 0) + 1);
        this.log?.error({ err, detector: detector.id, event: event.id }, "detector failed; the others still ran");
        continue;
      }
      if (silenced || drafts.length === 0) continue;
      const fixed = settings.severity as Severity | undefined;
      for (const draft of drafts) (out ??= []).push({ scope, detector: detector.id, draft: fixed ? { ...draft, severity: fixed } : draft });
    }
    return out ?? NONE;
  }

  /**
   * Folds a candidate into its finding. A finding raised once (its actor joined the org or opened their
   * GitHub account less than 30 days before) stays one step up for every later event.
   */
  async record(tx: Storage, c: Candidate, event: OrgEvent): Promise<RecordedFinding> {
    let severity = c.draft.severity;
    let raisedReason: string | null = null;
    const existing = await tx.findings.get(c.scope, fingerprintOf(c.detector, c.draft.subject));
    const actor = c.draft.actor;
    if (existing?.raisedReason) {
      severity = raiseSeverity(severity);
    } else if (actor) {
      const member = event.org ? (this.directory.get(event.org, actor) ?? (await tx.directory.member(event.org, actor))) : undefined;
      raisedReason = event.org ? newMemberReason(actor, event.org, member?.joinedAt ?? null, event.at) : null;
      raisedReason ??= youngAccountReason(actor, (await tx.directory.account(actor))?.createdAt ?? null, event.at);
      if (raisedReason) severity = raiseSeverity(severity);
    }
    return tx.findings.record(c.scope, c.detector, { ...c.draft, severity }, event, raisedReason, this.now());
  }

  /** The last scope worked out, by what it was worked out from: consecutive events mostly share one. */
  private lastScope = { org: null as string | null, installationId: null as number | null, business: null as string | null, scope: "" };

  private scopeFor(event: OrgEvent): string {
    const business = this.businessOf(event);
    const last = this.lastScope;
    if (last.scope !== "" && last.org === event.org && last.installationId === event.installationId && last.business === business) {
      return last.scope;
    }
    const scope = scopeOf(event, this.scopeMode, business);
    this.lastScope = { org: event.org, installationId: event.installationId, business, scope };
    return scope;
  }

  /**
   * The enterprise an event belongs to. An org's entries do not all say (an org's own export next to its
   * enterprise's stream): once one entry names the org's enterprise, the org's other entries count with it.
   */
  private businessOf(event: OrgEvent): string | null {
    if (this.scopeMode !== "business") return null;
    const org = event.org?.toLowerCase();
    if (event.business) {
      if (org && !this.orgBusiness.has(org)) this.orgBusiness.set(org, event.business);
      return event.business;
    }
    return org ? (this.orgBusiness.get(org) ?? null) : null;
  }
}
