// The storage interface: everything exfil-monitor keeps, as async repositories and a unit of work. The rest of
// the app sees only this; a backend (src/store/sqlite, later PostgreSQL) is one folder that implements it and
// passes the contract suite in test/store/contract.
//
// Promises a backend keeps (the contract suite checks each):
// - Every method's effect is visible to the next call on the same Storage, in or out of a unit of work.
// - `unitOfWork(fn)` commits everything `fn` did through `tx` at once, or nothing when `fn` throws; work
//   done through the outer Storage while it runs waits for it (never joins it, never interleaves with it).
// - `tx.unitOfWork(fn)` inside a unit of work is a nested step: when its `fn` throws, only that step is undone.
//   Steps follow the same rule one level down: siblings run one after the other, and calls through the
//   parent's `tx` wait while a step is open, so inside a step use the handle the step was given.
// - Insert-if-absent methods (`deliveries.record`, `events.add`, `events.markSeen`) answer true exactly once
//   per id, however many callers race.
import type { FindingDraft } from "../domain/finding.js";
import type { Severity } from "../domain/severity.js";
import type { OrgEvent } from "../events/types.js";
import type {
  AuditLogPosition,
  DeliveryConflict,
  DeliveryRecord,
  EvidenceRow,
  FindingRow,
  InventoryListing,
  InventoryRepo,
  RecordedFinding,
} from "./types.js";

export type * from "./types.js";

export interface DeliveryRepository {
  /** Records an accepted webhook delivery. False when this delivery id was recorded before. */
  record(d: DeliveryRecord): Promise<boolean>;
  /** The body digest first recorded for a delivery id: undefined for an unknown id, null when not recorded. */
  bodySha256(id: string): Promise<string | null | undefined>;
  /** Keeps a delivery id's different body as evidence; the same body again only counts and dates it. */
  recordConflict(c: Omit<DeliveryConflict, "firstReceivedAt" | "lastReceivedAt" | "times"> & { receivedAt: number }): Promise<void>;
  conflicts(): Promise<DeliveryConflict[]>;
  /** Drops deliveries (and conflict evidence last seen) before `cutoff`; answers how many deliveries went. */
  prune(cutoff: number): Promise<number>;
}

export interface EventRepository {
  /** Stores events (the app's queue). One answer per event: false when its id was stored before. */
  add(events: readonly OrgEvent[], opts?: { processed?: boolean }): Promise<boolean[]>;
  /**
   * Records events judged offline by id and time only. One answer per event: false when it was judged before
   * (a second run over an overlapping export).
   */
  markSeen(events: readonly Pick<OrgEvent, "id" | "at">[]): Promise<boolean[]>;
  /** Stored events not yet judged, in arrival order. */
  pending(limit: number): Promise<OrgEvent[]>;
  markProcessed(ids: readonly string[]): Promise<void>;
  /** Whether an event with this id is stored (judged or not). */
  has(id: string): Promise<boolean>;
  count(): Promise<number>;
  /** Deletes, oldest first, up to `limit` judged events from before `cutoff`; `more` when some may remain. */
  prune(cutoff: number, limit?: number): Promise<{ deleted: number; more: boolean }>;
}

export interface FindingRepository {
  /**
   * Folds one detector result into its finding: creates it, or widens first/last seen, counts the event, keeps
   * the highest severity and appends the evidence. The same event counted twice changes nothing.
   */
  record(scope: string, detector: string, draft: FindingDraft, event: OrgEvent, raisedReason: string | null, now: number): Promise<RecordedFinding>;
  get(scope: string, fingerprint: string): Promise<FindingRow | undefined>;
  getById(id: number): Promise<FindingRow | undefined>;
  list(): Promise<FindingRow[]>;
  evidence(findingId: number, afterSeq?: number): Promise<EvidenceRow[]>;
  maxEvidenceSeq(findingId: number): Promise<number>;
  /** Raises a finding's severity and remembers why (also marks its actor checked). */
  raise(findingId: number, severity: Severity, reason: string): Promise<void>;
  markActorChecked(findingId: number): Promise<void>;
  /** Findings whose actor's account has not been looked up yet: those without an issue first, then oldest first. */
  actorsToCheck(limit: number): Promise<FindingRow[]>;
  markFilingStarted(findingId: number, at: number): Promise<void>;
  markFiled(findingId: number, issueRepo: string, issueNumber: number, seq: number): Promise<void>;
  markCommented(findingId: number, seq: number): Promise<void>;
  markFilingError(findingId: number, message: string): Promise<void>;
  /**
   * Findings the alerts dispatcher has work for: no issue yet (unless held with no evidence since), or evidence
   * newer than their issue shows. Offline findings (no org or installation) are left out.
   */
  alertQueue(): Promise<{ finding: FindingRow; maxSeq: number; dryRunSeq: number }[]>;
  /** Keeps a finding below `alerts.min_severity` out of the alert queue until evidence newer than `seq`. */
  hold(findingId: number, seq: number): Promise<void>;
  /** Orgs with held findings (and an installation to reach them). */
  heldOrgs(): Promise<{ org: string; installationId: number }[]>;
  /** Puts back in the queue the org's held findings whose severity is one of `severities`. */
  releaseHeld(org: string, severities: readonly Severity[]): Promise<number>;
  markDryRunLogged(findingId: number, seq: number): Promise<void>;
}

/** One detector's keyed value within a scope. `value` is JSON-serializable. */
export interface StateEntry {
  detector: string;
  key: string;
  value: unknown;
  expiresAt: number;
}

/** A change to write back: `value` undefined deletes the key. */
export interface StateChange {
  scope: string;
  detector: string;
  key: string;
  value?: unknown;
  expiresAt?: number;
}

export interface StateRepository {
  /** Every detector's state in one scope (the engine loads a scope once and keeps it while it judges it). */
  loadScope(scope: string): Promise<StateEntry[]>;
  /** Writes changed state; with `expireBefore`, drops state of every scope that expired before it. */
  write(changes: readonly StateChange[], expireBefore?: number): Promise<void>;
}

export interface MemberStatus {
  isMember: boolean;
  joinedAt: number | null;
}

export interface AccountRecord {
  createdAt: number | null;
  checkedAt: number;
}

export interface DirectoryRepository {
  member(org: string, login: string): Promise<MemberStatus | undefined>;
  /** Several logins of one org at once (the engine preloads a batch's actors). */
  members(org: string, logins: readonly string[]): Promise<Map<string, MemberStatus>>;
  /** Upserts; a null `joinedAt` keeps the one known. */
  setMember(org: string, login: string, isMember: boolean, joinedAt: number | null, at: number): Promise<void>;
  account(login: string): Promise<AccountRecord | undefined>;
  accounts(logins: readonly string[]): Promise<Map<string, AccountRecord>>;
  setAccount(login: string, createdAt: number | null, checkedAt: number): Promise<void>;
}

export interface Notice {
  org: string;
  key: string;
  installationId: number;
  title: string;
  body: string;
  repo: string | null;
}

export interface NoticeRepository {
  /** The last good config text and when it was saved. */
  goodConfig(org: string): Promise<{ yaml: string; savedAt: number } | undefined>;
  saveGoodConfig(org: string, yaml: string, at: number): Promise<void>;
  configReport(org: string, problemHash: string): Promise<{ issueNumber: number | null } | undefined>;
  saveConfigReport(org: string, problemHash: string, issueNumber: number | null, at: number): Promise<void>;
  /** Keeps a notice until it is filed (a notice already filed for this org and key is left alone). */
  save(n: Omit<Notice, "repo"> & { repo?: string | null }, at: number): Promise<void>;
  pending(): Promise<Notice[]>;
  markError(org: string, key: string, message: string): Promise<void>;
  /** Stops retrying a notice that has nowhere to go (its key stays known). */
  drop(org: string, key: string): Promise<void>;
}

export interface CursorRepository {
  auditLog(org: string): Promise<AuditLogPosition | undefined>;
  /** Writes the whole position of one org (in the unit of work that stores the page's events). */
  saveAuditLog(pos: AuditLogPosition, at: number): Promise<void>;
}

export interface SweepRepository {
  /** A sweep's own record for one key; undefined when never saved or unreadable. */
  state<T>(key: string): Promise<T | undefined>;
  saveState(key: string, value: unknown, at: number): Promise<void>;
  /** Every repository ever listed for `org`, including those gone. */
  inventory(org: string): Promise<InventoryRepo[]>;
  /** Upserts `seen` (a repository that comes back loses `goneAt`) and marks `goneIds` gone at `at`. */
  saveInventory(org: string, seen: readonly InventoryListing[], goneIds: readonly number[], at: number): Promise<void>;
}

export interface UnitOfWorkOptions {
  onRollback?: () => void;
}

export interface Storage {
  /** `sqlite` or `postgres`, for logs and /health. */
  readonly backend: string;
  readonly deliveries: DeliveryRepository;
  readonly events: EventRepository;
  readonly findings: FindingRepository;
  readonly state: StateRepository;
  readonly directory: DirectoryRepository;
  readonly notices: NoticeRepository;
  readonly cursors: CursorRepository;
  readonly sweeps: SweepRepository;
  /**
   * Runs `fn` as one unit of work: all of it is committed, or none of it. See the promises above. `onRollback`
   * runs when it is undone (`fn` threw, or the commit failed), before any other unit of work starts: the place
   * to drop what a caller holds in memory about the work that was undone.
   */
  unitOfWork<T>(fn: (tx: Storage) => Promise<T>, opts?: UnitOfWorkOptions): Promise<T>;
  /** Answers when the database answers (for /health); rejects with its error otherwise. */
  ping(): Promise<void>;
  /** Housekeeping the backend needs now and then (SQLite: a WAL checkpoint), off the event loop where it can be. */
  maintain(): Promise<void>;
  close(): Promise<void>;
}
