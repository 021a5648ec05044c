// Every read and write of the database goes through this module, with statements prepared once.
// better-sqlite3 is synchronous: batch writes run inside one transaction with no `await` inside.
import type { Statement } from "better-sqlite3";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../detectors/types.js";
import { maxSeverity, type Severity } from "../detectors/severity.js";
import { openDatabase, type Db } from "./open.js";

export interface DeliveryRecord {
  id: string;
  name: string;
  action: string | null;
  installationId: number | null;
  receivedAt: number;
}

export interface FindingRow {
  id: number;
  fingerprint: string;
  detector: string;
  subject: string;
  org: string | null;
  installationId: number | null;
  severity: Severity;
  summary: string;
  actor: string | null;
  repos: string[];
  firstSeen: number;
  lastSeen: number;
  count: number;
  raisedReason: string | null;
  actorChecked: boolean;
  issueRepo: string | null;
  issueNumber: number | null;
  filedSeq: number;
  filingStartedAt: number | null;
  lastError: string | null;
  createdAt: number;
}

export interface EvidenceRow {
  seq: number;
  findingId: number;
  eventId: string;
  at: number;
  source: string;
  severity: Severity;
  summary: string;
  data: Record<string, string | number | boolean | null>;
}

export interface RecordedFinding {
  finding: FindingRow;
  /** The finding did not exist before this event. */
  isNew: boolean;
  /** This event added evidence (false when the same event had already been counted). */
  added: boolean;
}

interface RawFinding {
  id: number;
  fingerprint: string;
  detector: string;
  subject: string;
  org: string | null;
  installation_id: number | null;
  severity: string;
  summary: string;
  actor: string | null;
  repos: string;
  first_seen: number;
  last_seen: number;
  count: number;
  raised_reason: string | null;
  actor_checked: number;
  issue_repo: string | null;
  issue_number: number | null;
  filed_seq: number;
  filing_started_at: number | null;
  last_error: string | null;
  created_at: number;
}

function toFinding(r: RawFinding): FindingRow {
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    detector: r.detector,
    subject: r.subject,
    org: r.org,
    installationId: r.installation_id,
    severity: r.severity as Severity,
    summary: r.summary,
    actor: r.actor,
    repos: JSON.parse(r.repos) as string[],
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    count: r.count,
    raisedReason: r.raised_reason,
    actorChecked: r.actor_checked === 1,
    issueRepo: r.issue_repo,
    issueNumber: r.issue_number,
    filedSeq: r.filed_seq,
    filingStartedAt: r.filing_started_at,
    lastError: r.last_error,
    createdAt: r.created_at,
  };
}

export function fingerprintOf(detector: string, subject: string): string {
  return `${detector}:${subject}`;
}

/** Detector state is cached in memory and written back in batches; see flushState. */
const MISSING = Symbol("missing");

export class Store {
  readonly db: Db;
  private readonly s: Record<string, Statement>;
  private readonly stateCache = new Map<string, { value: unknown; expiresAt: number } | typeof MISSING>();
  private readonly stateDirty = new Map<string, { value: unknown; expiresAt: number } | null>();

  constructor(db: Db) {
    this.db = db;
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertDelivery: p(
        `INSERT INTO deliveries (id, name, action, installation_id, received_at)
         VALUES (@id, @name, @action, @installationId, @receivedAt) ON CONFLICT (id) DO NOTHING`,
      ),
      insertEvent: p(
        `INSERT INTO events (id, source, action, at, org, actor, repo, installation_id, body, processed)
         VALUES (@id, @source, @action, @at, @org, @actor, @repo, @installationId, @body, @processed)
         ON CONFLICT (id) DO NOTHING`,
      ),
      pendingEvents: p(`SELECT body FROM events WHERE processed = 0 ORDER BY seq LIMIT ?`),
      markProcessed: p(`UPDATE events SET processed = 1 WHERE id = ?`),
      countEvents: p(`SELECT count(*) AS n FROM events`),
      findingByFp: p(`SELECT * FROM findings WHERE fingerprint = ?`),
      findingById: p(`SELECT * FROM findings WHERE id = ?`),
      insertFinding: p(
        `INSERT INTO findings (fingerprint, detector, subject, org, installation_id, severity, summary, actor,
           repos, first_seen, last_seen, count, raised_reason, created_at)
         VALUES (@fingerprint, @detector, @subject, @org, @installationId, @severity, @summary, @actor,
           @repos, @at, @at, 0, @raisedReason, @createdAt)`,
      ),
      insertEvidence: p(
        `INSERT INTO evidence (finding_id, event_id, at, source, severity, summary, data)
         VALUES (@findingId, @eventId, @at, @source, @severity, @summary, @data)
         ON CONFLICT (finding_id, event_id) DO NOTHING`,
      ),
      updateFinding: p(
        `UPDATE findings SET severity = @severity, summary = @summary, repos = @repos,
           first_seen = min(first_seen, @at), last_seen = max(last_seen, @at), count = count + 1,
           raised_reason = coalesce(raised_reason, @raisedReason),
           installation_id = coalesce(installation_id, @installationId),
           actor = coalesce(actor, @actor)
         WHERE id = @id`,
      ),
      listFindings: p(`SELECT * FROM findings ORDER BY first_seen, id`),
      toFile: p(
        `SELECT f.* FROM findings f
         WHERE f.issue_number IS NULL
            OR f.filed_seq < (SELECT max(seq) FROM evidence e WHERE e.finding_id = f.id)
         ORDER BY f.id`,
      ),
      evidenceAfter: p(`SELECT * FROM evidence WHERE finding_id = ? AND seq > ? ORDER BY seq`),
      maxEvidenceSeq: p(`SELECT coalesce(max(seq), 0) AS seq FROM evidence WHERE finding_id = ?`),
      filingStarted: p(`UPDATE findings SET filing_started_at = ? WHERE id = ?`),
      filed: p(
        `UPDATE findings SET issue_repo = ?, issue_number = ?, filed_seq = ?, filing_started_at = NULL,
           last_error = NULL WHERE id = ?`,
      ),
      commented: p(`UPDATE findings SET filed_seq = ?, last_error = NULL WHERE id = ?`),
      filingError: p(`UPDATE findings SET last_error = ? WHERE id = ?`),
      raise: p(`UPDATE findings SET severity = ?, raised_reason = ?, actor_checked = 1 WHERE id = ?`),
      actorChecked: p(`UPDATE findings SET actor_checked = 1 WHERE id = ?`),
      stateGet: p(`SELECT value, expires_at FROM detector_state WHERE detector = ? AND key = ?`),
      stateSet: p(
        `INSERT INTO detector_state (detector, key, value, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (detector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      stateDelete: p(`DELETE FROM detector_state WHERE detector = ? AND key = ?`),
      stateExpire: p(`DELETE FROM detector_state WHERE expires_at < ?`),
      memberGet: p(`SELECT is_member, joined_at FROM members WHERE org = ? AND login = ?`),
      memberSet: p(
        `INSERT INTO members (org, login, is_member, joined_at, updated_at) VALUES (@org, @login, @isMember, @joinedAt, @at)
         ON CONFLICT (org, login) DO UPDATE SET is_member = excluded.is_member,
           joined_at = coalesce(excluded.joined_at, members.joined_at), updated_at = excluded.updated_at`,
      ),
      accountGet: p(`SELECT created_at, checked_at FROM accounts WHERE login = ?`),
      accountSet: p(
        `INSERT INTO accounts (login, created_at, checked_at) VALUES (?, ?, ?)
         ON CONFLICT (login) DO UPDATE SET created_at = excluded.created_at, checked_at = excluded.checked_at`,
      ),
      configGet: p(`SELECT good_yaml FROM org_config WHERE org = ?`),
      configSet: p(
        `INSERT INTO org_config (org, good_yaml, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (org) DO UPDATE SET good_yaml = excluded.good_yaml, updated_at = excluded.updated_at`,
      ),
      reportGet: p(`SELECT issue_number FROM config_reports WHERE org = ? AND problem_hash = ?`),
      reportSet: p(
        `INSERT INTO config_reports (org, problem_hash, issue_number, reported_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (org, problem_hash) DO UPDATE SET issue_number = excluded.issue_number`,
      ),
    };
  }

  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  close(): void {
    this.flushState();
    this.db.close();
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). `fn` must not await. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // --- deliveries -------------------------------------------------------------------------------------

  /** Records an accepted webhook delivery. Returns false when this delivery id was seen before. */
  recordDelivery(d: DeliveryRecord): boolean {
    return this.s.insertDelivery!.run(d).changes === 1;
  }

  // --- events -----------------------------------------------------------------------------------------

  /** Stores a normalized event. Returns false when an event with this id is already stored. */
  addEvent(e: OrgEvent, processed = false): boolean {
    return (
      this.s.insertEvent!.run({
        id: e.id,
        source: e.source,
        action: e.action,
        at: e.at,
        org: e.org,
        actor: e.actor,
        repo: e.repo,
        installationId: e.installationId,
        body: JSON.stringify(e),
        processed: processed ? 1 : 0,
      }).changes === 1
    );
  }

  /** Events stored but not yet run through the detectors (left over by a crash, or queued). */
  pendingEvents(limit = 500): OrgEvent[] {
    return (this.s.pendingEvents!.all(limit) as { body: string }[]).map((r) => JSON.parse(r.body) as OrgEvent);
  }

  markProcessed(eventId: string): void {
    this.s.markProcessed!.run(eventId);
  }

  countEvents(): number {
    return (this.s.countEvents!.get() as { n: number }).n;
  }

  // --- findings ---------------------------------------------------------------------------------------

  /**
   * Folds one detector result into its finding: creates it, or widens first/last seen, counts the event,
   * keeps the highest severity and appends the evidence. The same event counted twice changes nothing.
   */
  recordFinding(
    detector: string,
    draft: FindingDraft,
    event: OrgEvent,
    raisedReason: string | null,
    now: number,
  ): RecordedFinding {
    return this.transaction(() => {
      const fingerprint = fingerprintOf(detector, draft.subject);
      let raw = this.s.findingByFp!.get(fingerprint) as RawFinding | undefined;
      let isNew = false;
      if (!raw) {
        const info = this.s.insertFinding!.run({
          fingerprint,
          detector,
          subject: draft.subject,
          org: event.org,
          installationId: event.installationId,
          severity: draft.severity,
          summary: draft.summary,
          actor: draft.actor,
          repos: JSON.stringify(draft.repos),
          at: event.at,
          raisedReason,
          createdAt: now,
        });
        raw = this.s.findingById!.get(info.lastInsertRowid) as RawFinding;
        isNew = true;
      }
      const added =
        this.s.insertEvidence!.run({
          findingId: raw.id,
          eventId: event.id,
          at: event.at,
          source: event.source,
          severity: draft.severity,
          summary: draft.summary,
          data: JSON.stringify(draft.evidence),
        }).changes === 1;
      if (added) {
        const severity = maxSeverity(raw.severity as Severity, draft.severity);
        const repos = [...new Set([...(JSON.parse(raw.repos) as string[]), ...draft.repos])].sort();
        this.s.updateFinding!.run({
          id: raw.id,
          severity,
          // The summary follows the highest severity seen, so the title matches the worst evidence.
          summary: severity === draft.severity ? draft.summary : raw.summary,
          repos: JSON.stringify(repos),
          at: event.at,
          raisedReason,
          installationId: event.installationId,
          actor: draft.actor,
        });
        raw = this.s.findingById!.get(raw.id) as RawFinding;
      }
      return { finding: toFinding(raw), isNew, added };
    });
  }

  getFinding(fingerprint: string): FindingRow | undefined {
    const raw = this.s.findingByFp!.get(fingerprint) as RawFinding | undefined;
    return raw ? toFinding(raw) : undefined;
  }

  getFindingById(id: number): FindingRow | undefined {
    const raw = this.s.findingById!.get(id) as RawFinding | undefined;
    return raw ? toFinding(raw) : undefined;
  }

  listFindings(): FindingRow[] {
    return (this.s.listFindings!.all() as RawFinding[]).map(toFinding);
  }

  /** Findings with no issue yet, or with evidence newer than what their issue shows. */
  findingsToFile(): FindingRow[] {
    return (this.s.toFile!.all() as RawFinding[]).map(toFinding);
  }

  evidence(findingId: number, afterSeq = 0): EvidenceRow[] {
    return (this.s.evidenceAfter!.all(findingId, afterSeq) as Record<string, unknown>[]).map((r) => ({
      seq: r.seq as number,
      findingId: r.finding_id as number,
      eventId: r.event_id as string,
      at: r.at as number,
      source: r.source as string,
      severity: r.severity as Severity,
      summary: r.summary as string,
      data: JSON.parse(r.data as string) as EvidenceRow["data"],
    }));
  }

  maxEvidenceSeq(findingId: number): number {
    return (this.s.maxEvidenceSeq!.get(findingId) as { seq: number }).seq;
  }

  markFilingStarted(findingId: number, at: number): void {
    this.s.filingStarted!.run(at, findingId);
  }

  markFiled(findingId: number, issueRepo: string, issueNumber: number, seq: number): void {
    this.s.filed!.run(issueRepo, issueNumber, seq, findingId);
  }

  markCommented(findingId: number, seq: number): void {
    this.s.commented!.run(seq, findingId);
  }

  markFilingError(findingId: number, message: string): void {
    this.s.filingError!.run(message.slice(0, 2000), findingId);
  }

  /** Raises a finding's severity (young account, new member) and remembers why; done once per finding. */
  raiseFinding(findingId: number, severity: Severity, reason: string): void {
    this.s.raise!.run(severity, reason, findingId);
  }

  markActorChecked(findingId: number): void {
    this.s.actorChecked!.run(findingId);
  }

  // --- detector state ---------------------------------------------------------------------------------

  stateGet<T>(detector: string, key: string): T | undefined {
    const k = `${detector}\u0000${key}`;
    let hit = this.stateCache.get(k);
    if (hit === undefined) {
      const row = this.s.stateGet!.get(detector, key) as { value: string; expires_at: number } | undefined;
      hit = row ? { value: JSON.parse(row.value) as unknown, expiresAt: row.expires_at } : MISSING;
      this.stateCache.set(k, hit);
    }
    return hit === MISSING ? undefined : (hit.value as T);
  }

  stateSet(detector: string, key: string, value: unknown, expiresAt: number): void {
    const k = `${detector}\u0000${key}`;
    const entry = { value, expiresAt };
    this.stateCache.set(k, entry);
    this.stateDirty.set(k, entry);
  }

  stateDelete(detector: string, key: string): void {
    const k = `${detector}\u0000${key}`;
    this.stateCache.set(k, MISSING);
    this.stateDirty.set(k, null);
  }

  /** Writes changed detector state in one transaction; drops state that expired before `now`. */
  flushState(now?: number): void {
    if (this.stateDirty.size === 0 && now === undefined) return;
    this.transaction(() => {
      for (const [k, entry] of this.stateDirty) {
        const sep = k.indexOf("\u0000");
        const detector = k.slice(0, sep);
        const key = k.slice(sep + 1);
        if (entry === null) this.s.stateDelete!.run(detector, key);
        else this.s.stateSet!.run(detector, key, JSON.stringify(entry.value), entry.expiresAt);
      }
      if (now !== undefined) this.s.stateExpire!.run(now);
    });
    this.stateDirty.clear();
    // Keep the read cache bounded; everything in it is now on disk.
    if (this.stateCache.size > 200_000 || now !== undefined) this.stateCache.clear();
  }

  // --- members and accounts ---------------------------------------------------------------------------

  memberStatus(org: string, login: string): { isMember: boolean; joinedAt: number | null } | undefined {
    const r = this.s.memberGet!.get(org, login) as { is_member: number; joined_at: number | null } | undefined;
    return r ? { isMember: r.is_member === 1, joinedAt: r.joined_at } : undefined;
  }

  setMember(org: string, login: string, isMember: boolean, joinedAt: number | null, at: number): void {
    this.s.memberSet!.run({ org, login, isMember: isMember ? 1 : 0, joinedAt, at });
  }

  account(login: string): { createdAt: number | null; checkedAt: number } | undefined {
    const r = this.s.accountGet!.get(login) as { created_at: number | null; checked_at: number } | undefined;
    return r ? { createdAt: r.created_at, checkedAt: r.checked_at } : undefined;
  }

  setAccount(login: string, createdAt: number | null, checkedAt: number): void {
    this.s.accountSet!.run(login, createdAt, checkedAt);
  }

  // --- config -----------------------------------------------------------------------------------------

  lastGoodConfig(org: string): string | undefined {
    return (this.s.configGet!.get(org) as { good_yaml: string } | undefined)?.good_yaml;
  }

  saveGoodConfig(org: string, yaml: string, at: number): void {
    this.s.configSet!.run(org, yaml, at);
  }

  configReport(org: string, problemHash: string): { issueNumber: number | null } | undefined {
    const r = this.s.reportGet!.get(org, problemHash) as { issue_number: number | null } | undefined;
    return r ? { issueNumber: r.issue_number } : undefined;
  }

  saveConfigReport(org: string, problemHash: string, issueNumber: number | null, at: number): void {
    this.s.reportSet!.run(org, problemHash, issueNumber, at);
  }
}
