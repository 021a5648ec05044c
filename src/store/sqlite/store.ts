// The SQLite backend's statements, prepared once. better-sqlite3 is synchronous: these methods do their work
// before they return, and storage.ts turns them into the async Storage interface the rest of the app sees.
import type { Statement } from "better-sqlite3";
import type { OrgEvent } from "../../events/types.js";
import { emptyFold, evidenceDigest, fingerprintOf, foldEvidence, type FindingDraft, type FindingFold } from "../../domain/finding.js";
import type { Severity } from "../../domain/severity.js";
import { openDatabase, type Db } from "./open.js";
import type {
  AuditLogPosition,
  DeliveryConflict,
  DeliveryRecord,
  EvidenceRow,
  FindingRow,
  InventoryListing,
  InventoryRepo,
  RecordedFinding,
} from "../types.js";

export type * from "../types.js";

interface RawFinding {
  id: number;
  scope: string;
  fingerprint: string;
  detector: string;
  subject: string;
  org: string | null;
  orgs: string;
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
    scope: r.scope,
    fingerprint: r.fingerprint,
    detector: r.detector,
    subject: r.subject,
    org: r.org,
    orgs: JSON.parse(r.orgs) as string[],
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

/** The fold's part of a stored finding. */
function foldOf(f: FindingRow): FindingFold {
  return {
    severity: f.severity,
    summary: f.summary,
    actor: f.actor,
    repos: f.repos,
    orgs: f.orgs,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    count: f.count,
    raisedReason: f.raisedReason,
    installationId: f.installationId,
  };
}

/** The fold as statement parameters. */
function foldColumns(f: FindingFold) {
  return { ...f, repos: JSON.stringify(f.repos), orgs: JSON.stringify(f.orgs) };
}

/** Rows per markSeenMany statement (SQLite allows 32,766 parameters in one). */
const SEEN_CHUNK = 500;

export class Store {
  readonly db: Db;
  private readonly s: Record<string, Statement>;

  constructor(db: Db) {
    this.db = db;
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      insertDelivery: p(
        `INSERT INTO deliveries (id, name, action, installation_id, received_at, body_sha256)
         VALUES (@id, @name, @action, @installationId, @receivedAt, @bodySha256) ON CONFLICT (id) DO NOTHING`,
      ),
      deliveryBodySha256: p(`SELECT body_sha256 AS sha FROM deliveries WHERE id = ?`),
      insertDeliveryConflict: p(
        `INSERT INTO delivery_conflicts (delivery_id, name, action, installation_id, first_body_sha256, body_sha256,
           body_bytes, body, first_received_at, last_received_at)
         VALUES (@deliveryId, @name, @action, @installationId, @firstBodySha256, @bodySha256, @bodyBytes, @body,
           @receivedAt, @receivedAt)
         ON CONFLICT (delivery_id, body_sha256) DO UPDATE SET times = times + 1, last_received_at = excluded.last_received_at`,
      ),
      deliveryConflicts: p(`SELECT * FROM delivery_conflicts ORDER BY seq`),
      pruneDeliveryConflicts: p(`DELETE FROM delivery_conflicts WHERE last_received_at < ?`),
      insertEvent: p(
        `INSERT INTO events (id, source, action, at, org, actor, repo, installation_id, body, processed)
         VALUES (@id, @source, @action, @at, @org, @actor, @repo, @installationId, @body, @processed)
         ON CONFLICT (id) DO NOTHING`,
      ),
      markSeen: p(`INSERT INTO seen_events (at, id) VALUES (?, ?) ON CONFLICT (at, id) DO NOTHING`),
      pendingEvents: p(`SELECT body FROM events WHERE processed = 0 ORDER BY seq LIMIT ?`),
      markProcessed: p(`UPDATE events SET processed = 1 WHERE id = ?`),
      countEvents: p(`SELECT count(*) AS n FROM events`),
      oldestEvents: p(`SELECT seq, at, processed FROM events ORDER BY seq LIMIT ?`),
      deleteEventsUpTo: p(`DELETE FROM events WHERE seq <= ? AND processed = 1 AND at < ?`),
      pruneDeliveries: p(`DELETE FROM deliveries WHERE received_at < ?`),
      findingByFp: p(`SELECT * FROM findings WHERE scope = ? AND fingerprint = ?`),
      findingById: p(`SELECT * FROM findings WHERE id = ?`),
      insertFinding: p(
        `INSERT INTO findings (scope, fingerprint, detector, subject, org, orgs, installation_id, severity, summary,
           actor, repos, first_seen, last_seen, count, raised_reason, created_at)
         VALUES (@scope, @fingerprint, @detector, @subject, @org, @orgs, @installationId, @severity, @summary,
           @actor, @repos, @firstSeen, @lastSeen, @count, @raisedReason, @createdAt)`,
      ),
      insertEvidence: p(
        `INSERT INTO evidence (finding_id, event_id, at, source, severity, summary, data, digest)
         SELECT @findingId, @eventId, @at, @source, @severity, @summary, @data, @digest
         WHERE NOT EXISTS (SELECT 1 FROM evidence WHERE finding_id = @findingId AND digest = @digest)
         ON CONFLICT (finding_id, event_id) DO NOTHING`,
      ),
      updateFinding: p(
        `UPDATE findings SET severity = @severity, summary = @summary, actor = @actor, repos = @repos, orgs = @orgs,
           first_seen = @firstSeen, last_seen = @lastSeen, count = @count, raised_reason = @raisedReason,
           installation_id = @installationId
         WHERE id = @id`,
      ),
      listFindings: p(`SELECT * FROM findings ORDER BY first_seen, id`),
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
      actorsToCheck: p(
        `SELECT * FROM findings WHERE actor_checked = 0 AND actor IS NOT NULL ORDER BY issue_number IS NOT NULL, id LIMIT ?`,
      ),
      stateScope: p(`SELECT detector, key, value, expires_at FROM detector_state WHERE scope = ?`),
      stateSet: p(
        `INSERT INTO detector_state (scope, detector, key, value, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (scope, detector, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      stateDelete: p(`DELETE FROM detector_state WHERE scope = ? AND detector = ? AND key = ?`),
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
      configGet: p(`SELECT good_yaml, updated_at FROM org_config WHERE org = ?`),
      configSet: p(
        `INSERT INTO org_config (org, good_yaml, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (org) DO UPDATE SET good_yaml = excluded.good_yaml, updated_at = excluded.updated_at`,
      ),
      reportGet: p(`SELECT issue_number FROM config_reports WHERE org = ? AND problem_hash = ?`),
      reportSet: p(
        `INSERT INTO config_reports (org, problem_hash, issue_number, reported_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (org, problem_hash) DO UPDATE SET issue_number = excluded.issue_number`,
      ),
      alertQueue: p(
        `SELECT * FROM (
           SELECT f.*, (SELECT coalesce(max(seq), 0) FROM evidence e WHERE e.finding_id = f.id) AS max_seq
           FROM findings f WHERE f.org IS NOT NULL AND f.installation_id IS NOT NULL)
         WHERE (issue_number IS NULL AND (held_seq IS NULL OR held_seq < max_seq))
            OR (issue_number IS NOT NULL AND filed_seq < max_seq)
         ORDER BY id`,
      ),
      holdFinding: p(`UPDATE findings SET held_seq = ? WHERE id = ?`),
      heldOrgs: p(
        `SELECT org, max(installation_id) AS installation_id FROM findings
         WHERE held_seq IS NOT NULL AND org IS NOT NULL AND installation_id IS NOT NULL GROUP BY org`,
      ),
      releaseHeld: p(
        `UPDATE findings SET held_seq = NULL
         WHERE org = ? AND held_seq IS NOT NULL AND instr(?, ',' || severity || ',') > 0`,
      ),
      dryRunLogged: p(`UPDATE findings SET dry_run_seq = ? WHERE id = ?`),
      noticeSave: p(
        `INSERT INTO config_reports (org, problem_hash, issue_number, reported_at, installation_id, title, body, repo)
         VALUES (@org, @key, NULL, @at, @installationId, @title, @body, @repo)
         ON CONFLICT (org, problem_hash) DO UPDATE SET installation_id = excluded.installation_id,
           title = excluded.title, body = excluded.body, repo = excluded.repo
         WHERE config_reports.issue_number IS NULL`,
      ),
      noticesPending: p(
        `SELECT org, problem_hash, installation_id, title, body, repo FROM config_reports
         WHERE issue_number IS NULL AND body IS NOT NULL AND installation_id IS NOT NULL ORDER BY reported_at`,
      ),
      noticeError: p(`UPDATE config_reports SET last_error = ? WHERE org = ? AND problem_hash = ?`),
      noticeDrop: p(`UPDATE config_reports SET body = NULL WHERE org = ? AND problem_hash = ? AND issue_number IS NULL`),
      auditPosGet: p(`SELECT * FROM audit_log_positions WHERE org = ?`),
      auditPosSet: p(
        `INSERT INTO audit_log_positions (org, installation_id, created_at, boundary_ids, last_success_at,
           unavailable_at, unavailable_reason, gap_notice, updated_at)
         VALUES (@org, @installationId, @createdAt, @boundaryIds, @lastSuccessAt, @unavailableAt,
           @unavailableReason, @gapNotice, @updatedAt)
         ON CONFLICT (org) DO UPDATE SET installation_id = excluded.installation_id,
           created_at = excluded.created_at, boundary_ids = excluded.boundary_ids,
           last_success_at = excluded.last_success_at, unavailable_at = excluded.unavailable_at,
           unavailable_reason = excluded.unavailable_reason, gap_notice = excluded.gap_notice,
           updated_at = excluded.updated_at`,
      ),
    };
  }

  static open(file: string): Store {
    return new Store(openDatabase(file));
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction (nested calls join the outer one as a savepoint). `fn` must not await. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // --- deliveries -------------------------------------------------------------------------------------

  /** Records an accepted webhook delivery. Returns false when this delivery id was seen before. */
  recordDelivery(d: DeliveryRecord): boolean {
    return this.s.insertDelivery!.run({ ...d, bodySha256: d.bodySha256 ?? null }).changes === 1;
  }

  /** The body digest first recorded for a delivery id: undefined for an unknown id, null when not recorded. */
  deliveryBodySha256(id: string): string | null | undefined {
    return (this.s.deliveryBodySha256!.get(id) as { sha: string | null } | undefined)?.sha;
  }

  /** Keeps a delivery id's different body as evidence; the same body again only counts and dates it. */
  recordDeliveryConflict(
    c: Omit<DeliveryConflict, "firstReceivedAt" | "lastReceivedAt" | "times"> & { receivedAt: number },
  ): void {
    this.s.insertDeliveryConflict!.run(c);
  }

  deliveryConflicts(): DeliveryConflict[] {
    return (this.s.deliveryConflicts!.all() as Record<string, unknown>[]).map((r) => ({
      deliveryId: r.delivery_id as string,
      name: r.name as string,
      action: r.action as string | null,
      installationId: r.installation_id as number | null,
      firstBodySha256: r.first_body_sha256 as string,
      bodySha256: r.body_sha256 as string,
      bodyBytes: r.body_bytes as number,
      body: r.body as string,
      firstReceivedAt: r.first_received_at as number,
      lastReceivedAt: r.last_received_at as number,
      times: r.times as number,
    }));
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

  /**
   * Records that an event was judged offline, keeping only its id and time. Returns false when it was judged
   * before (a second run over an overlapping export).
   */
  markSeen(id: string, at: number): boolean {
    return this.s.markSeen!.run(at, id).changes === 1;
  }

  /** Statements inserting `n` seen events at once, answering the rows inserted; prepared on first use. */
  private readonly seenMany = new Map<number, Statement>();

  /**
   * markSeen for many events, in statements of up to SEEN_CHUNK rows: `analyze` records every entry it reads,
   * and one statement per row would cost more than the detectors. One answer per event, in order; an id
   * repeated within `list` is new at most once.
   */
  markSeenMany(list: readonly { id: string; at: number }[]): boolean[] {
    const out = new Array<boolean>(list.length);
    for (let start = 0; start < list.length; start += SEEN_CHUNK) {
      const n = Math.min(SEEN_CHUNK, list.length - start);
      let stmt = this.seenMany.get(n);
      if (!stmt) {
        const rows = Array.from({ length: n }, () => "(?, ?)").join(", ");
        stmt = this.db.prepare(`INSERT INTO seen_events (at, id) VALUES ${rows} ON CONFLICT (at, id) DO NOTHING RETURNING at, id`);
        this.seenMany.set(n, stmt);
      }
      const params = new Array<string | number>(2 * n);
      for (let i = 0; i < n; i++) {
        const e = list[start + i]!;
        params[2 * i] = e.at;
        params[2 * i + 1] = e.id;
      }
      const rows = stmt.raw().all(params) as [number, string][];
      if (rows.length === n) {
        // Every row was inserted (the usual case): all new, no row to match.
        out.fill(true, start, start + n);
        continue;
      }
      const inserted = new Set<string>();
      for (const r of rows) inserted.add(`${r[0]} ${r[1]}`);
      for (let i = 0; i < n; i++) {
        const e = list[start + i]!;
        const key = `${e.at} ${e.id}`;
        // The first of several equal rows in one statement is the one inserted; later ones are duplicates.
        out[start + i] = inserted.delete(key);
      }
    }
    return out;
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

  /**
   * Deletes, oldest first, up to `limit` processed events from before `cutoff`, and reports whether more may
   * remain. Findings keep their own copy of the evidence, so nothing an issue shows is lost. Works from the
   * start of the table (arrival order) in small steps, so a large table never blocks the event loop for long.
   */
  pruneEvents(cutoff: number, limit = 1000): { deleted: number; more: boolean } {
    const rows = this.s.oldestEvents!.all(limit) as { seq: number; at: number; processed: number }[];
    // Stop at the first event that must stay (too recent, or not yet judged): arrival order is close to
    // time order, so what follows it is, with few exceptions, recent too.
    let upTo = 0;
    for (const r of rows) {
      if (r.processed !== 1 || r.at >= cutoff) break;
      upTo = r.seq;
    }
    if (upTo === 0) return { deleted: 0, more: false };
    const deleted = this.s.deleteEventsUpTo!.run(upTo, cutoff).changes;
    return { deleted, more: rows.length === limit && upTo === rows.at(-1)?.seq };
  }

  /** Deliveries are kept to ignore GitHub's redeliveries, which it offers for 3 days; older ones go. */
  pruneDeliveries(cutoff: number): number {
    // Conflicting bodies kept as evidence go at the same cutoff, counted from the last time one was sent.
    this.s.pruneDeliveryConflicts!.run(cutoff);
    return this.s.pruneDeliveries!.run(cutoff).changes;
  }

  // --- findings ---------------------------------------------------------------------------------------

  /**
   * Folds one detector result into its finding: creates it, or widens first/last seen, counts the event,
   * keeps the highest severity and appends the evidence. The same event counted twice changes nothing.
   */
  recordFinding(
    scope: string,
    detector: string,
    draft: FindingDraft,
    event: OrgEvent,
    raisedReason: string | null,
    now: number,
  ): RecordedFinding {
    return this.transaction(() => {
      const fingerprint = fingerprintOf(detector, draft.subject);
      let raw = this.s.findingByFp!.get(scope, fingerprint) as RawFinding | undefined;
      let isNew = false;
      if (!raw) {
        const start = emptyFold(draft, event, raisedReason);
        const info = this.s.insertFinding!.run({
          scope,
          fingerprint,
          detector,
          subject: draft.subject,
          org: event.org,
          createdAt: now,
          ...foldColumns(start),
        });
        raw = this.s.findingById!.get(info.lastInsertRowid) as RawFinding;
        isNew = true;
      }
      const data = JSON.stringify(draft.evidence);
      const added =
        this.s.insertEvidence!.run({
          findingId: raw.id,
          eventId: event.id,
          at: event.at,
          source: event.source,
          severity: draft.severity,
          summary: draft.summary,
          data,
          digest: evidenceDigest(event.source, draft.severity, data),
        }).changes === 1;
      if (added) {
        const folded = foldEvidence(foldOf(toFinding(raw)), draft, event, raisedReason);
        this.s.updateFinding!.run({ id: raw.id, ...foldColumns(folded) });
        raw = this.s.findingById!.get(raw.id) as RawFinding;
      }
      return { finding: toFinding(raw), isNew, added };
    });
  }

  getFinding(scope: string, fingerprint: string): FindingRow | undefined {
    const raw = this.s.findingByFp!.get(scope, fingerprint) as RawFinding | undefined;
    return raw ? toFinding(raw) : undefined;
  }

  getFindingById(id: number): FindingRow | undefined {
    const raw = this.s.findingById!.get(id) as RawFinding | undefined;
    return raw ? toFinding(raw) : undefined;
  }

  listFindings(): FindingRow[] {
    return (this.s.listFindings!.all() as RawFinding[]).map(toFinding);
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

  actorsToCheck(limit: number): FindingRow[] {
    return (this.s.actorsToCheck!.all(limit) as RawFinding[]).map(toFinding);
  }

  // --- detector state ---------------------------------------------------------------------------------

  /** Every detector's state in one scope. A value that no longer parses is left out (it will expire). */
  loadScopeState(scope: string): { detector: string; key: string; value: unknown; expiresAt: number }[] {
    const out: { detector: string; key: string; value: unknown; expiresAt: number }[] = [];
    for (const r of this.s.stateScope!.iterate(scope) as Iterable<{ detector: string; key: string; value: string; expires_at: number }>) {
      let value: unknown;
      try {
        value = JSON.parse(r.value);
      } catch {
        continue;
      }
      out.push({ detector: r.detector, key: r.key, value, expiresAt: r.expires_at });
    }
    return out;
  }

  /** Writes changed detector state (undefined value: delete); drops state that expired before `expireBefore`. */
  writeState(changes: readonly { scope: string; detector: string; key: string; value?: unknown; expiresAt?: number }[], expireBefore?: number): void {
    if (changes.length === 0 && expireBefore === undefined) return;
    this.transaction(() => {
      for (const c of changes) {
        if (c.value === undefined) this.s.stateDelete!.run(c.scope, c.detector, c.key);
        else this.s.stateSet!.run(c.scope, c.detector, c.key, JSON.stringify(c.value), c.expiresAt ?? 0);
      }
      if (expireBefore !== undefined) this.s.stateExpire!.run(expireBefore);
    });
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

  /** The last good config text and when it was saved (the config service saves a text only when it changed). */
  goodConfig(org: string): { yaml: string; savedAt: number } | undefined {
    const r = this.s.configGet!.get(org) as { good_yaml: string; updated_at: number } | undefined;
    return r ? { yaml: r.good_yaml, savedAt: r.updated_at } : undefined;
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

  // --- alerts dispatcher bookkeeping (migrations/0002-alerts.ts) ---------------------------------------

  /**
   * Findings the alerts dispatcher has work for: no issue yet (unless held below `alerts.min_severity`
   * with no evidence since), or evidence newer than their issue shows. Offline findings (no org or
   * installation) are left out. `maxSeq` is the newest evidence seq, `dryRunSeq` what dry-run has logged.
   */
  alertQueue(): { finding: FindingRow; maxSeq: number; dryRunSeq: number }[] {
    return (this.s.alertQueue!.all() as (RawFinding & { max_seq: number; dry_run_seq: number })[]).map((r) => ({
      finding: toFinding(r),
      maxSeq: r.max_seq,
      dryRunSeq: r.dry_run_seq,
    }));
  }

  /** Keeps a finding below `alerts.min_severity` out of the alert queue until evidence newer than `seq`. */
  holdFinding(findingId: number, seq: number): void {
    this.s.holdFinding!.run(seq, findingId);
  }

  /** Orgs with held findings (and an installation to reach them), so a lowered threshold can release them. */
  heldOrgs(): { org: string; installationId: number }[] {
    return (this.s.heldOrgs!.all() as { org: string; installation_id: number }[]).map((r) => ({
      org: r.org,
      installationId: r.installation_id,
    }));
  }

  /** Puts back in the queue the org's held findings whose severity is one of `severities`. */
  releaseHeld(org: string, severities: readonly Severity[]): number {
    return this.s.releaseHeld!.run(org, `,${severities.join(",")},`).changes;
  }

  markDryRunLogged(findingId: number, seq: number): void {
    this.s.dryRunLogged!.run(seq, findingId);
  }

  /**
   * Keeps a notice until it is filed (a notice already filed for this org and key is left alone). `repo`: file
   * it in this repository of the org rather than the `alerts.repo` in force.
   */
  saveNotice(n: { org: string; key: string; installationId: number; title: string; body: string; repo?: string | null }, at: number): void {
    this.s.noticeSave!.run({ ...n, repo: n.repo ?? null, at });
  }

  pendingNotices(): { org: string; key: string; installationId: number; title: string; body: string; repo: string | null }[] {
    return (
      this.s.noticesPending!.all() as {
        org: string;
        problem_hash: string;
        installation_id: number;
        title: string | null;
        body: string;
        repo: string | null;
      }[]
    ).map((r) => ({ org: r.org, key: r.problem_hash, installationId: r.installation_id, title: r.title ?? "", body: r.body, repo: r.repo }));
  }

  markNoticeError(org: string, key: string, message: string): void {
    this.s.noticeError!.run(message.slice(0, 2000), org, key);
  }

  /** Stops retrying a notice that has nowhere to go (its row stays, so the key is known). */
  dropNotice(org: string, key: string): void {
    this.s.noticeDrop!.run(org, key);
  }

  // --- audit-log poll position ------------------------------------------------------------------------

  auditLogPosition(org: string): AuditLogPosition | undefined {
    const r = this.s.auditPosGet!.get(org) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    let boundaryIds: string[] = [];
    try {
      const parsed = JSON.parse(r.boundary_ids as string) as unknown;
      if (Array.isArray(parsed)) boundaryIds = parsed.filter((x): x is string => typeof x === "string");
    } catch {
      // A damaged list only costs re-reading one second of entries, which the event ids deduplicate.
      boundaryIds = [];
    }
    return {
      org: r.org as string,
      installationId: r.installation_id as number | null,
      createdAt: r.created_at as number | null,
      boundaryIds,
      lastSuccessAt: r.last_success_at as number | null,
      unavailableAt: r.unavailable_at as number | null,
      unavailableReason: r.unavailable_reason as string | null,
      gapNotice: r.gap_notice as string | null,
    };
  }

  /** Writes the whole position of one org (call it inside the transaction that stores the page's events). */
  saveAuditLogPosition(pos: AuditLogPosition, at: number): void {
    this.s.auditPosSet!.run({ ...pos, boundaryIds: JSON.stringify(pos.boundaryIds), updatedAt: at });
  }

  // --- sweeps (see migrations/0004-sweeps.ts) -------------------------------------------------------------

  private sweepStatements: Record<string, Statement> | undefined;

  /** Prepared on first use, once, so stores that never sweep (the CLI) pay nothing. */
  private get sw(): Record<string, Statement> {
    if (!this.sweepStatements) {
      const p = (sql: string) => this.db.prepare(sql);
      this.sweepStatements = {
        hasEvent: p(`SELECT 1 FROM events WHERE id = ?`),
        stateGet: p(`SELECT value FROM sweep_state WHERE key = ?`),
        stateSet: p(
          `INSERT INTO sweep_state (key, value, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        ),
        inventory: p(`SELECT * FROM repo_inventory WHERE org = ? ORDER BY repo_id`),
        inventorySeen: p(
          `INSERT INTO repo_inventory (org, repo_id, node_id, full_name, visibility, first_seen, last_seen, gone_at)
           VALUES (@org, @id, @nodeId, @fullName, @visibility, @at, @at, NULL)
           ON CONFLICT (org, repo_id) DO UPDATE SET node_id = coalesce(excluded.node_id, repo_inventory.node_id),
             full_name = excluded.full_name, visibility = excluded.visibility, last_seen = excluded.last_seen,
             gone_at = NULL`,
        ),
        inventoryGone: p(`UPDATE repo_inventory SET gone_at = ? WHERE org = ? AND repo_id = ? AND gone_at IS NULL`),
      };
    }
    return this.sweepStatements;
  }

  /** Whether an event with this id is stored (processed or not). */
  hasEvent(id: string): boolean {
    return this.sw.hasEvent!.get(id) !== undefined;
  }

  /** A sweep's own record for one key (`inventory:<org>`, `org_settings:<org>`); undefined when never saved. */
  sweepState<T>(key: string): T | undefined {
    const r = this.sw.stateGet!.get(key) as { value: string } | undefined;
    if (!r) return undefined;
    try {
      return JSON.parse(r.value) as T;
    } catch {
      // A damaged record is treated as absent: the sweep then starts over from a fresh baseline.
      return undefined;
    }
  }

  saveSweepState(key: string, value: unknown, at: number): void {
    this.sw.stateSet!.run(key, JSON.stringify(value), at);
  }

  /** Every repository ever listed for `org`, including those gone (with `goneAt`). */
  repoInventory(org: string): InventoryRepo[] {
    return (this.sw.inventory!.all(org) as Record<string, unknown>[]).map((r) => ({
      id: r.repo_id as number,
      nodeId: r.node_id as string | null,
      fullName: r.full_name as string,
      visibility: r.visibility as InventoryRepo["visibility"],
      firstSeen: r.first_seen as number,
      lastSeen: r.last_seen as number,
      goneAt: r.gone_at as number | null,
    }));
  }

  /**
   * Records one sweep's listing in one transaction: `seen` repositories are upserted (a repository that comes
   * back loses its `goneAt`), and the ids in `goneIds` are marked gone at `at` unless already gone.
   */
  saveRepoInventory(org: string, seen: readonly InventoryListing[], goneIds: readonly number[], at: number): void {
    this.transaction(() => {
      for (const r of seen) {
        this.sw.inventorySeen!.run({ org, id: r.id, nodeId: r.nodeId, fullName: r.fullName, visibility: r.visibility, at });
      }
      for (const id of goneIds) this.sw.inventoryGone!.run(at, org, id);
    });
  }
}

