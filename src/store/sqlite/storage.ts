// The SQLite backend of the storage interface (../storage.ts), on one better-sqlite3 connection.
//
// better-sqlite3 is synchronous, so a method's work is done by the time its promise exists. The only way two
// callers can interleave is a unit of work that awaits between its steps; while one is open, calls through
// the outer Storage (and other units of work) wait for it in arrival order, so nothing joins a transaction
// it did not start. Calls through the `tx` a unit of work hands out run at once, inside it. Nested steps
// (`tx.unitOfWork`) follow the same rule one level down: a step's savepoint must close before its siblings
// or its parent write again, or undoing the step would undo their work too.
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type { Severity } from "../../domain/severity.js";
import type { OrgEvent } from "../../events/types.js";
import type {
  AccountRecord,
  CursorRepository,
  DeliveryRepository,
  DirectoryRepository,
  EventRepository,
  FindingRepository,
  MemberStatus,
  NoticeRepository,
  StateRepository,
  Storage,
  SweepRepository,
  UnitOfWorkOptions,
} from "../storage.js";
import { MEMORY, openDatabase } from "./open.js";
import { Store } from "./store.js";

type Run = <T>(f: () => T) => Promise<T>;

export interface SqliteStorageOptions {
  /**
   * `background` (the app): the connection never checkpoints the WAL itself; a worker thread with its own
   * connection does, so a checkpoint never holds up webhook intake. `inline` (the CLI, tests): SQLite's own
   * automatic checkpoints.
   */
  checkpoints?: "background" | "inline";
  /** How often the background worker checkpoints (ms). */
  checkpointEveryMs?: number;
}

export function openSqliteStorage(file: string, opts: SqliteStorageOptions = {}): SqliteStorage {
  return new SqliteStorage(new Store(openDatabase(file)), file, opts);
}

export class SqliteStorage implements Storage {
  readonly backend = "sqlite";
  readonly deliveries: DeliveryRepository;
  readonly events: EventRepository;
  readonly findings: FindingRepository;
  readonly state: StateRepository;
  readonly directory: DirectoryRepository;
  readonly notices: NoticeRepository;
  readonly cursors: CursorRepository;
  readonly sweeps: SweepRepository;
  /** Where units of work queue, and calls through this Storage wait while one is open. */
  private readonly top = new Level();
  private depth = 0;
  private checkpointer: Worker | null = null;
  private closed = false;

  constructor(
    /** The statements; only the store folder and its tests reach it. */
    readonly store: Store,
    private readonly file: string,
    opts: SqliteStorageOptions = {},
  ) {
    const r = repositories(store, this.top.run);
    this.deliveries = r.deliveries;
    this.events = r.events;
    this.findings = r.findings;
    this.state = r.state;
    this.directory = r.directory;
    this.notices = r.notices;
    this.cursors = r.cursors;
    this.sweeps = r.sweeps;
    if (opts.checkpoints === "background" && file !== MEMORY) this.startCheckpointer(opts.checkpointEveryMs ?? 1000);
  }

  unitOfWork<T>(fn: (tx: Storage) => Promise<T>, opts?: UnitOfWorkOptions): Promise<T> {
    return this.top.enter(async () => {
      const db = this.store.db;
      // Undo callbacks of this unit and of the steps inside it that completed: all of their work goes if the
      // unit rolls back.
      const undo: (() => void)[] = opts?.onRollback ? [opts.onRollback] : [];
      db.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.view(undo));
        db.exec("COMMIT");
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec("ROLLBACK");
        // Still inside the lock: no other unit of work has started on what the caller held in memory.
        runAll(undo);
        throw err;
      }
    });
  }

  /**
   * What a unit of work (or a step) hands its function: the same repositories, run at once inside the open
   * transaction, at a level of their own where its nested steps queue.
   */
  private view(undo: (() => void)[]): Storage {
    const level = new Level();
    return {
      backend: "sqlite",
      ...repositories(this.store, level.run),
      unitOfWork: (fn, opts) => level.enter(() => this.step(fn, opts, undo)),
      ping: () => level.run(() => void this.store.db.prepare("SELECT 1").get()),
      maintain: () => Promise.resolve(),
      close: () => Promise.reject(new Error("close() inside a unit of work")),
    };
  }

  /** A unit of work inside one: a savepoint, so a failing step undoes only itself. */
  private async step<T>(fn: (tx: Storage) => Promise<T>, opts: UnitOfWorkOptions | undefined, parentUndo: (() => void)[]): Promise<T> {
    const db = this.store.db;
    const name = `uow_${++this.depth}`;
    const undo: (() => void)[] = opts?.onRollback ? [opts.onRollback] : [];
    db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this.view(undo));
      db.exec(`RELEASE ${name}`);
      // Kept, but only as long as the enclosing unit is: its rollback undoes this step too.
      parentUndo.push(...undo);
      return result;
    } catch (err) {
      if (db.inTransaction) {
        db.exec(`ROLLBACK TO ${name}`);
        db.exec(`RELEASE ${name}`);
      }
      runAll(undo);
      throw err;
    } finally {
      this.depth--;
    }
  }

  ping(): Promise<void> {
    return this.top.run(() => void this.store.db.prepare("SELECT 1").get());
  }

  /** Inline mode: a passive checkpoint now. Background mode: the worker does it on its own clock. */
  maintain(): Promise<void> {
    if (this.checkpointer || this.file === MEMORY) return Promise.resolve();
    return this.top.run(() => void this.store.db.pragma("wal_checkpoint(PASSIVE)"));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.top.tail;
    if (this.checkpointer) {
      await this.checkpointer.terminate();
      this.checkpointer = null;
    }
    // The last connection to close checkpoints and removes the WAL itself.
    this.store.close();
  }

  private startCheckpointer(everyMs: number): void {
    // The connection itself checkpoints only as a backstop, when the worker could not keep up with a long burst
    // of commits (a PASSIVE checkpoint never finishes while writes keep coming): at 10,000 pages, about 40 MB.
    this.store.db.pragma("wal_autocheckpoint = 10000");
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    // Plain CommonJS evaluated in the worker, so it runs the same under tsx, vitest and the built dist/.
    const code = `
      const { workerData } = require("node:worker_threads");
      const Database = require(workerData.driver);
      const db = new Database(workerData.file);
      db.pragma("busy_timeout = 1000");
      setInterval(() => {
        try { db.pragma("wal_checkpoint(PASSIVE)"); } catch { /* busy or closing: the next tick tries again */ }
      }, workerData.everyMs);
    `;
    const worker = new Worker(code, { eval: true, workerData: { driver, file: this.file, everyMs } });
    worker.unref();
    worker.on("error", () => {
      // Without the worker, the connection checkpoints by itself again; nothing is lost.
      if (!this.closed) this.store.db.pragma("wal_autocheckpoint = 1000");
      this.checkpointer = null;
    });
    this.checkpointer = worker;
  }
}

/**
 * One level of units of work: the Storage itself, or an open unit of work or step. Units entered at a level
 * run one after the other, and while one is open, calls made at that level wait for it in arrival order.
 */
class Level {
  /** Settles when the unit queued last at this level has finished. */
  tail: Promise<void> = Promise.resolve();
  private open = false;

  /** Runs `f` now, or once the open unit has finished (and any that opened meanwhile). */
  readonly run: Run = (f) => (this.open ? this.tail.then(() => this.run(f)) : now(f));

  async enter<T>(body: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await before;
    this.open = true;
    try {
      return await body();
    } finally {
      this.open = false;
      release();
    }
  }
}

/** Runs every undo callback; one that throws does not stop the others (the rollback itself already happened). */
function runAll(undo: readonly (() => void)[]): void {
  for (const f of undo) {
    try {
      f();
    } catch {
      // Nothing to add: the caller's own error is what is reported.
    }
  }
}

function now<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err);
  }
}

function repositories(s: Store, run: Run) {
  const deliveries: DeliveryRepository = {
    record: (d) => run(() => s.recordDelivery(d)),
    bodySha256: (id) => run(() => s.deliveryBodySha256(id)),
    recordConflict: (c) => run(() => s.recordDeliveryConflict(c)),
    conflicts: () => run(() => s.deliveryConflicts()),
    prune: (cutoff) => run(() => s.pruneDeliveries(cutoff)),
  };
  const events: EventRepository = {
    add: (list, opts) => run(() => s.transaction(() => list.map((e) => s.addEvent(e, opts?.processed ?? false)))),
    markSeen: (list) => run(() => s.transaction(() => s.markSeenMany(list))),
    pending: (limit) => run(() => s.pendingEvents(limit)),
    markProcessed: (ids) => run(() => s.transaction(() => ids.forEach((id) => s.markProcessed(id)))),
    has: (id) => run(() => s.hasEvent(id)),
    count: () => run(() => s.countEvents()),
    prune: (cutoff, limit) => run(() => s.pruneEvents(cutoff, limit)),
  };
  const findings: FindingRepository = {
    record: (scope, detector, draft, event: OrgEvent, raisedReason, at) =>
      run(() => s.recordFinding(scope, detector, draft, event, raisedReason, at)),
    get: (scope, fp) => run(() => s.getFinding(scope, fp)),
    getById: (id) => run(() => s.getFindingById(id)),
    list: () => run(() => s.listFindings()),
    evidence: (id, afterSeq) => run(() => s.evidence(id, afterSeq)),
    maxEvidenceSeq: (id) => run(() => s.maxEvidenceSeq(id)),
    raise: (id, severity: Severity, reason) => run(() => s.raiseFinding(id, severity, reason)),
    markActorChecked: (id) => run(() => s.markActorChecked(id)),
    actorsToCheck: (limit) => run(() => s.actorsToCheck(limit)),
    markFilingStarted: (id, at) => run(() => s.markFilingStarted(id, at)),
    markFiled: (id, repo, number, seq) => run(() => s.markFiled(id, repo, number, seq)),
    markCommented: (id, seq) => run(() => s.markCommented(id, seq)),
    markFilingError: (id, message) => run(() => s.markFilingError(id, message)),
    alertQueue: () => run(() => s.alertQueue()),
    hold: (id, seq) => run(() => s.holdFinding(id, seq)),
    heldOrgs: () => run(() => s.heldOrgs()),
    releaseHeld: (org, severities) => run(() => s.releaseHeld(org, severities)),
    markDryRunLogged: (id, seq) => run(() => s.markDryRunLogged(id, seq)),
  };
  const state: StateRepository = {
    loadScope: (scope) => run(() => s.loadScopeState(scope)),
    write: (changes, expireBefore) => run(() => s.writeState(changes, expireBefore)),
  };
  const directory: DirectoryRepository = {
    member: (org, login) => run(() => s.memberStatus(org, login)),
    members: (org, logins) =>
      run(() => {
        const out = new Map<string, MemberStatus>();
        for (const login of new Set(logins)) {
          const m = s.memberStatus(org, login);
          if (m) out.set(login, m);
        }
        return out;
      }),
    setMember: (org, login, isMember, joinedAt, at) => run(() => s.setMember(org, login, isMember, joinedAt, at)),
    account: (login) => run(() => s.account(login)),
    accounts: (logins) =>
      run(() => {
        const out = new Map<string, AccountRecord>();
        for (const login of new Set(logins)) {
          const a = s.account(login);
          if (a) out.set(login, a);
        }
        return out;
      }),
    setAccount: (login, createdAt, checkedAt) => run(() => s.setAccount(login, createdAt, checkedAt)),
  };
  const notices: NoticeRepository = {
    goodConfig: (org) => run(() => s.goodConfig(org)),
    saveGoodConfig: (org, yaml, at) => run(() => s.saveGoodConfig(org, yaml, at)),
    configReport: (org, hash) => run(() => s.configReport(org, hash)),
    saveConfigReport: (org, hash, issueNumber, at) => run(() => s.saveConfigReport(org, hash, issueNumber, at)),
    save: (n, at) => run(() => s.saveNotice(n, at)),
    pending: () => run(() => s.pendingNotices()),
    markError: (org, key, message) => run(() => s.markNoticeError(org, key, message)),
    drop: (org, key) => run(() => s.dropNotice(org, key)),
  };
  const cursors: CursorRepository = {
    auditLog: (org) => run(() => s.auditLogPosition(org)),
    saveAuditLog: (pos, at) => run(() => s.saveAuditLogPosition(pos, at)),
  };
  const sweeps: SweepRepository = {
    state: <T>(key: string) => run(() => s.sweepState<T>(key)),
    saveState: (key, value, at) => run(() => s.saveSweepState(key, value, at)),
    inventory: (org) => run(() => s.repoInventory(org)),
    saveInventory: (org, seen, gone, at) => run(() => s.saveRepoInventory(org, seen, gone, at)),
  };
  return { deliveries, events, findings, state, directory, notices, cursors, sweeps };
}
