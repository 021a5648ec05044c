// Runs the detectors over normalized events and folds what they find into findings. A detector that throws
// is logged and counted and never stops the others; a finding's fingerprint is `<detector>:<subject>`, so
// the same incident seen through several channels lands on one finding.
import type { Config } from "../config/schema.js";
import { detectorSettings } from "../config/schema.js";
import { compileAllowLists } from "../config/allow.js";
import { DETECTORS } from "../detectors/index.js";
import { fingerprintOf, type FindingDraft } from "../domain/finding.js";
import { raiseSeverity, type Severity } from "../domain/severity.js";
import type { Detector, DetectorContext, Facts } from "../detectors/types.js";
import type { OrgEvent } from "../events/types.js";
import type { RecordedFinding, Store } from "../store/store.js";
import { learnFacts } from "./facts.js";
import { scopeOf, type ScopeMode } from "./scope.js";

export const NEW_MEMBER_DAYS = 30;
/** In a detector's `actions`: call it for every event (location detectors read any located entry). */
export const ANY_ACTION = "*";
const DAY = 24 * 60 * 60 * 1000;

export interface EngineLogger {
  error(obj: object, msg: string): void;
}

export interface EngineOptions {
  store: Store;
  log?: EngineLogger;
  /** Wall clock for bookkeeping only (created_at); detection time is always the event's own `at`. */
  now?: () => number;
  /** What adds up: each org alone (the app, the default), or one enterprise's orgs together (`analyze`). */
  scope?: ScopeMode;
}

interface Prepared {
  config: Config;
  allow: ReturnType<typeof compileAllowLists>;
  byAction: Map<string, { detector: Detector; settings: Record<string, unknown> & { enabled: boolean; severity?: string } }[]>;
}

export class Engine {
  private readonly store: Store;
  private readonly log: EngineLogger | undefined;
  private readonly now: () => number;
  private readonly scopeMode: ScopeMode;
  /** Org → the enterprise its entries named first (`business` scope only). */
  private readonly orgBusiness = new Map<string, string>();
  private readonly prepared = new WeakMap<Config, Prepared>();
  private readonly facts: Facts;
  /** Detector id → number of times it threw. Exposed for /health and the CLI summary. */
  readonly failures = new Map<string, number>();

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.scopeMode = opts.scope ?? "org";
    this.facts = {
      isOrgMember: (org, login) => this.store.memberStatus(org, login)?.isMember ?? null,
    };
  }

  private prepare(config: Config): Prepared {
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
   * Runs every enabled detector that reads `event.action` and records its findings. Synchronous: the
   * caller decides the transaction boundary (one per webhook event, one per batch offline).
   */
  process(event: OrgEvent, config: Config): RecordedFinding[] {
    learnFacts(this.store, event);
    const p = this.prepare(config);
    const candidates = p.byAction.get(event.action) ?? p.byAction.get(ANY_ACTION);
    if (!candidates) return [];
    // Allowlisted actors and repositories are silenced, not hidden: detectors still see their events so
    // their bookkeeping stays true (a deletion by an allowed admin explains the repo the inventory sweep
    // later misses), but nothing they find is recorded.
    const silenced = p.allow.actor(event.actor) || p.allow.repo(event.repo);
    // Every window, baseline and finding is kept per scope: another org's events never add up with these.
    const scope = scopeOf(event, this.scopeMode, this.businessOf(event));
    const out: RecordedFinding[] = [];
    for (const { detector, settings } of candidates) {
      let drafts: FindingDraft[];
      try {
        const ctx: DetectorContext<Record<string, unknown>> = {
          settings,
          allow: p.allow,
          facts: this.facts,
          state: {
            get: (key) => this.store.stateGet(scope, detector.id, key),
            set: (key, value, expiresAt) => this.store.stateSet(scope, detector.id, key, value, expiresAt),
            delete: (key) => this.store.stateDelete(scope, detector.id, key),
          },
        };
        drafts = detector.detect(event, ctx as never);
      } catch (err) {
        this.failures.set(detector.id, (this.failures.get(detector.id) ?? 0) + 1);
        this.log?.error({ err, detector: detector.id, event: event.id }, "detector failed; the others still ran");
        continue;
      }
      if (silenced) continue;
      for (const draft of drafts) {
        out.push(this.record(scope, detector.id, settings.severity as Severity | undefined, draft, event));
      }
    }
    return out;
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

  private record(scope: string, detectorId: string, fixed: Severity | undefined, draft: FindingDraft, event: OrgEvent): RecordedFinding {
    let severity = fixed ?? draft.severity;
    let raisedReason: string | null = null;
    const existing = this.store.getFinding(scope, fingerprintOf(detectorId, draft.subject));
    if (existing?.raisedReason) {
      severity = raiseSeverity(severity);
    } else if (draft.actor && event.org) {
      const joinedAt = this.store.memberStatus(event.org, draft.actor)?.joinedAt ?? null;
      if (joinedAt !== null && event.at - joinedAt < NEW_MEMBER_DAYS * DAY && event.at >= joinedAt) {
        severity = raiseSeverity(severity);
        raisedReason = `${draft.actor} joined ${event.org} on ${new Date(joinedAt).toISOString().slice(0, 10)}, less than ${NEW_MEMBER_DAYS} days before`;
      }
    }
    return this.store.recordFinding(scope, detectorId, { ...draft, severity }, event, raisedReason, this.now());
  }
}
