// The running app between Probot and the modules: takes webhook deliveries in, keeps the slow work (API
// lookups, detection, filing) off the request path, and drives the periodic jobs (retrying pending alerts,
// polling the audit log, sweeps). Probot is not imported here: handlers receive plain values, so the same
// runtime serves the HTTP app, the tests and the benchmark.
import type { Config } from "../config/schema.js";
import { defaultConfig } from "../config/schema.js";
import { ConfigService } from "../config/service.js";
import { AlertDispatcher } from "../alerts/dispatcher.js";
import type { OctokitLike } from "../github/octokit.js";
import type { Logger } from "../log.js";
import { Engine } from "../engine/engine.js";
import { STATE_EXPIRY_GRACE_MS } from "../engine/state-cache.js";
import { fromWebhook } from "../events/from-webhook.js";
import type { OrgEvent } from "../events/types.js";
import { enrichEvent } from "../github/enrich.js";
import { checkActors } from "../pipeline/actors.js";
import { judgeBatch, type JudgeItem } from "../pipeline/judge.js";
import type { Storage } from "../store/storage.js";

export type { Logger };

export interface RuntimeOptions {
  storage: Storage;
  log: Logger;
  /** An Octokit authenticated as the installation. */
  octokitFor: (installationId: number) => Promise<OctokitLike>;
  now?: () => number;
  configCacheMs?: number;
  /** Pause between issue/comment writes (GitHub's content-creation limit); tests set 0. */
  alertWriteSpacingMs?: number;
}

/**
 * Detector state past its expiry is deleted at most this often. Only state that expired more than
 * STATE_EXPIRY_GRACE_MS before the oldest event of the batch (or now) goes: audit-log events arrive up to
 * 7 days late, and their windows must still be there when they are judged.
 */
export const STATE_EXPIRY_EVERY_MS = 60 * 60_000;
export { STATE_EXPIRY_GRACE_MS };

/**
 * Judged events and deliveries are kept this long. Longer than every detector window and than the 7 days
 * for which the audit log and the sweeps may hand back an event already seen (deduplicated by its id).
 */
export const HISTORY_DAYS = 30;
const DAY_MS = 24 * 60 * 60_000;

/** Events whose handling needs a GitHub lookup before the detectors can judge them. */
const NEEDS_ENRICHMENT = new Set(["member.added", "member.edited"]);

/** The request body exactly as received over HTTP: the bytes the signature covers. */
export interface RawBody {
  /** sha256 of the raw bytes, hex. */
  sha256: string;
  bytes: number;
  /** The bytes as UTF-8 text, stored only when the delivery id was seen with another body. */
  text: string;
}

/** A delivery waiting for its intake unit of work. */
interface Intake {
  name: string;
  id: string;
  payload: unknown;
  raw: RawBody | undefined;
  receivedAt: number;
  events: OrgEvent[];
  done: (fresh: boolean) => void;
  fail: (err: unknown) => void;
}

/** What the intake unit of work found for one delivery: new, a redelivery, or a known id with another body. */
type IntakeOutcome = { kind: "fresh" } | { kind: "redelivery" } | { kind: "conflict"; firstSha256: string };

/** A drain starts this long after the first kick, so events arriving together are judged in one batch. */
const DRAIN_DELAY_MS = 5;

export class Runtime {
  readonly storage: Storage;
  readonly engine: Engine;
  readonly alerts: AlertDispatcher;
  readonly configs: ConfigService;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly octokitFor: RuntimeOptions["octokitFor"];
  private intake: Intake[] = [];
  /**
   * Intake groups and `acceptEvents`, one after the other: the queue takes events in the order they came, and
   * `idle()` and `close()` have one thing to wait for.
   */
  private writes: Promise<unknown> = Promise.resolve();
  private draining: Promise<void> | null = null;
  /**
   * True while no stored event waits to be judged: only then may intake judge a delivery's events itself,
   * since an org's events are judged in the order they came. False at start (a crash may have left some).
   */
  private queueIdle = false;
  /**
   * Writes that queue events: how many are under way, and how many have started or ended so far. A drain that
   * finds the queue empty only trusts that answer when no such write overlapped its query, which may not have
   * seen it.
   */
  private queueWriters = 0;
  private queueWrites = 0;
  private drainAgain = false;
  private evidenceAdded = false;
  private flushedOnce = false;
  private actorChecks: Promise<unknown> = Promise.resolve();
  private lastStateExpiry = 0;
  private closed = false;
  /**
   * For /health: deliveries accepted since start, redeliveries ignored, known delivery ids that came with a
   * different body (kept as evidence), and webhook requests refused before they reached the runtime.
   */
  readonly counters = { deliveries: 0, duplicates: 0, conflicts: 0, refused: 0, events: 0, processingErrors: 0 };

  constructor(opts: RuntimeOptions) {
    this.storage = opts.storage;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.octokitFor = opts.octokitFor;
    this.engine = new Engine({ log: this.log, now: this.now });
    this.alerts = new AlertDispatcher({
      storage: this.storage,
      log: this.log,
      now: this.now,
      octokitFor: this.octokitFor,
      configFor: (org, installationId) => this.configs.get(org, installationId),
      ...(opts.alertWriteSpacingMs !== undefined ? { writeSpacingMs: opts.alertWriteSpacingMs } : {}),
    });
    this.configs = new ConfigService({
      storage: this.storage,
      log: this.log,
      now: this.now,
      ...(opts.configCacheMs !== undefined ? { ttlMs: opts.configCacheMs } : {}),
      octokitFor: this.octokitFor,
      // Not awaited: filing needs this org's config, which is being resolved right now. reportNotice stores
      // the notice before its first await, so it is durable and retried by later flushes.
      onProblem: (p) => {
        void this.alerts.reportNotice(p);
      },
    });
  }

  /**
   * The webhook path: remember the delivery, normalize, store, and resolve once it is committed. Deliveries
   * arriving while the previous group is written (or in the same turn of the event loop) share one unit of
   * work (group commit): the answer still goes out only after the delivery is durable, and everything slow
   * happens in `drain()` after the 2xx.
   * Resolves false for a delivery id seen before (GitHub redelivery): nothing changes, unless `raw` shows a
   * different body than the first time, which is logged and kept as evidence (still not processed).
   */
  acceptDelivery(name: string, id: string, payload: unknown, raw?: RawBody): Promise<boolean> {
    const receivedAt = this.now();
    const entry: Intake = {
      name,
      id,
      payload,
      raw,
      receivedAt,
      events: fromWebhook({ name, id, payload, receivedAt }),
      done: () => {},
      fail: () => {},
    };
    const result = new Promise<boolean>((resolve, reject) => {
      entry.done = resolve;
      entry.fail = reject;
    });
    this.intake.push(entry);
    if (this.intake.length === 1) void this.serial(() => new Promise((resolve) => setImmediate(resolve)).then(() => this.commitIntake()));
    return result;
  }

  /** Runs `fn` after the writes queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** Writes one intake group in one unit of work; never rejects (each delivery hears of its own outcome). */
  private async commitIntake(): Promise<void> {
    const batch = this.intake;
    this.intake = [];
    const judgeNow: JudgeItem[] = [];
    let evidence = false;
    let queueing = false;
    let outcomes: IntakeOutcome[];
    try {
      outcomes = await this.storage.unitOfWork(async (tx) => {
        const out: IntakeOutcome[] = [];
        const queued: OrgEvent[] = [];
        for (const d of batch) {
          const delivery = {
            id: d.id,
            name: d.name,
            action: readAction(d.payload),
            installationId: readInstallationId(d.payload),
            receivedAt: d.receivedAt,
            bodySha256: d.raw?.sha256 ?? null,
          };
          if (await tx.deliveries.record(delivery)) {
            // A push to the org's `.github` repository goes through the queue: the drain then reads the new
            // config (and reports what it changes) before judging anything with it.
            const configPush = d.name === "push" && readRepoName(d.payload) === ".github";
            for (const e of d.events) {
              // Judged now, in this same commit, when nothing needs the network and nothing older waits in the
              // queue (events of one org are judged in order); otherwise queued for the drain.
              const config = this.queueIdle && !configPush && !NEEDS_ENRICHMENT.has(e.action) ? this.cachedConfigFor(e) : undefined;
              if (config) {
                judgeNow.push({ event: e, config });
              } else {
                if (!queueing) this.startQueueWrite();
                queueing = true;
                queued.push(e);
                this.queueIdle = false;
              }
            }
            out.push({ kind: "fresh" });
            continue;
          }
          // Known id. Only an id whose first body was recorded can be compared (not one stored before
          // migration 0006, nor one handed over without its raw body).
          const firstSha256 = d.raw ? await tx.deliveries.bodySha256(d.id) : null;
          if (!d.raw || !firstSha256 || firstSha256 === d.raw.sha256) {
            out.push({ kind: "redelivery" });
            continue;
          }
          await tx.deliveries.recordConflict({
            deliveryId: d.id,
            name: d.name,
            action: delivery.action,
            installationId: delivery.installationId,
            firstBodySha256: firstSha256,
            bodySha256: d.raw.sha256,
            bodyBytes: d.raw.bytes,
            body: d.raw.text,
            receivedAt: d.receivedAt,
          });
          out.push({ kind: "conflict", firstSha256 });
        }
        // The group's queued events in one call, in arrival order. Those judged now were all ahead of them
        // (once one event is queued, the rest of the group is too) and are stored judged by judgeBatch.
        if (queued.length > 0) await tx.events.add(queued);
        if (judgeNow.length > 0) evidence = (await this.judge(judgeNow, "stored", tx)).recorded.some((r) => r.added);
        return out;
      });
    } catch (err) {
      // What the engine judged in memory here was dropped by judgeBatch's rollback hook, inside the unit of work.
      // Not stored: answer 5xx so the delivery shows as failed in GitHub and can be redelivered.
      for (const d of batch) d.fail(err);
      return;
    } finally {
      if (queueing) this.endQueueWrite();
    }
    batch.forEach((d, i) => {
      const outcome = outcomes[i] ?? { kind: "redelivery" };
      if (outcome.kind === "redelivery") {
        this.counters.duplicates += 1;
        this.log.debug({ delivery: d.id, event: d.name }, "redelivery of a known delivery ignored");
      } else if (outcome.kind === "conflict") {
        // Only the webhook secret signs a body, so this is GitHub misbehaving or the secret in other hands.
        this.counters.conflicts += 1;
        this.log.warn(
          { delivery: d.id, event: d.name, bytes: d.raw?.bytes, firstSha256: outcome.firstSha256, sha256: d.raw?.sha256 },
          "delivery id seen again with a different body: not processed, kept as evidence in delivery_conflicts",
        );
      } else {
        this.counters.deliveries += 1;
        this.counters.events += d.events.length;
        const org = readOrg(d.payload);
        if (d.name === "push" && org && readRepoName(d.payload) === ".github") this.configs.pushed(org, d.payload);
      }
      d.done(outcome.kind === "fresh");
    });
    if (evidence) this.evidenceAdded = true;
    // The drain judges what was queued and files what was found; deliveries judged here that found nothing
    // (most pushes) need no drain at all.
    if (!this.queueIdle || evidence) this.kick();
  }

  private startQueueWrite(): void {
    this.queueWriters += 1;
    this.queueWrites += 1;
  }

  private endQueueWrite(): void {
    this.queueWriters -= 1;
    this.queueWrites += 1;
  }

  /**
   * Runs `write`, a unit of work that queues events (the audit-log poller's page and position), in order with
   * webhook intake: a delivery taken in meanwhile is queued behind these events instead of judged before them.
   */
  queueEvents<T>(write: (tx: Storage) => Promise<T>): Promise<T> {
    return this.serial(async () => {
      // Not idle from before the write: a delivery taken in meanwhile must queue behind these events.
      this.queueIdle = false;
      this.startQueueWrite();
      try {
        return await this.storage.unitOfWork(write);
      } finally {
        this.endQueueWrite();
      }
    });
  }

  /** Adds events from the audit log or a sweep; already-known ids are dropped. Resolves how many were new. */
  acceptEvents(events: OrgEvent[]): Promise<number> {
    return this.serial(async () => {
      // Not idle from before the write: a delivery taken in meanwhile must queue behind these events.
      this.queueIdle = false;
      this.startQueueWrite();
      let added: number;
      try {
        added = (await this.storage.events.add(events)).filter(Boolean).length;
      } finally {
        this.endQueueWrite();
      }
      // With nothing new, the next delivery's intake kicks the drain that makes the queue idle again.
      if (added > 0) this.kick();
      return added;
    });
  }

  /** Starts processing in the background; several kicks while running collapse into one more pass. */
  kick(): void {
    if (this.closed) return;
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = this.drainLoop()
      .catch((err: unknown) => {
        // A storage failure (disk full, database locked past the busy timeout) must not become an unhandled
        // rejection, which would end the process. The events stay unprocessed and the next kick retries them.
        this.counters.processingErrors += 1;
        this.log.error({ err }, "processing stored events failed; they stay pending and are retried on the next event or poll");
      })
      .finally(() => {
        this.draining = null;
      });
  }

  /** Resolves when every delivery taken in is committed, every stored event processed and alerts flushed once. */
  async idle(): Promise<void> {
    for (;;) {
      const writes = this.writes;
      await writes;
      if (writes !== this.writes) continue;
      if (this.draining) {
        await this.draining;
        continue;
      }
      await this.alerts.idle();
      if (!this.draining && writes === this.writes) return;
    }
  }

  /**
   * Shutdown: deliveries already taken in are committed (and answered) first, then the storage is closed
   * (after the unit of work under way, if any). No drain starts after this.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (let writes = this.writes; ; writes = this.writes) {
      await writes;
      if (writes === this.writes) break;
    }
    await this.storage.close();
  }

  private async drainLoop(): Promise<void> {
    do {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_DELAY_MS));
      this.drainAgain = false;
      await this.processPending();
      // Most events add no evidence (an ordinary push): skip the alert queue then. Findings that failed to
      // file earlier are retried by the periodic flush, and the first drain after a start flushes anyway.
      if (this.evidenceAdded || !this.flushedOnce) {
        this.evidenceAdded = false;
        this.flushedOnce = true;
        await this.flushAlerts();
      }
    } while (this.drainAgain);
  }

  /**
   * Raises the new findings whose actor's GitHub account turns out young, then files what is pending. The drain
   * and the periodic job both come through here, so an account lookup that failed is tried again before the
   * next filing, as filing itself used to.
   */
  async flushAlerts(): Promise<void> {
    try {
      await this.checkActors();
    } catch (err) {
      // An account's age can only raise a finding: never a reason to hold back filing it.
      this.log.error({ err }, "checking the age of new findings' accounts failed; filing goes on and the check is retried");
    }
    await this.alerts.flush();
  }

  /** One pass at a time, so an actor is never looked up twice at once. */
  private checkActors(): Promise<number> {
    const run = this.actorChecks.then(() =>
      checkActors({ storage: this.storage, octokitFor: this.octokitFor, now: this.now(), log: this.log }),
    );
    this.actorChecks = run.catch(() => undefined);
    return run;
  }

  /** Runs every unprocessed event (including those left by a crash) through enrichment and detection. */
  async processPending(): Promise<number> {
    let done = 0;
    for (;;) {
      const writes = this.queueWrites;
      const batch = await this.storage.events.pending(200);
      if (batch.length === 0) {
        if (writes === this.queueWrites && this.queueWriters === 0) this.queueIdle = true;
        return done;
      }
      // The async part first (membership lookups, each org's config, cached), then one unit of work for the
      // whole batch: per-event commits would cost more than the detectors themselves.
      const ready: { event: OrgEvent; config: Config }[] = [];
      const now = this.now();
      // Without this the live app never deletes expired detector state and the table grows for ever.
      const expire = now - this.lastStateExpiry >= STATE_EXPIRY_EVERY_MS;
      const cutoff = Math.min(now, ...batch.map((e) => e.at).filter(Number.isFinite)) - STATE_EXPIRY_GRACE_MS;
      for (const stored of batch) {
        const event = await this.enrich(stored);
        ready.push({ event, config: await this.configFor(event) });
      }
      const judged = await this.judge(ready, "queued", this.storage, expire ? cutoff : undefined);
      if (judged.recorded.some((r) => r.added)) this.evidenceAdded = true;
      if (expire) this.lastStateExpiry = now;
      done += batch.length;
    }
  }

  /** Judges `items` in their own unit of work, or as a step of the one `storage` is (intake's). */
  private judge(items: JudgeItem[], record: "queued" | "stored", storage: Storage = this.storage, expireStateBefore?: number) {
    return judgeBatch(items, {
      storage,
      engine: this.engine,
      record,
      ...(expireStateBefore !== undefined ? { expireStateBefore } : {}),
      onEventError: (event, err) => {
        // A poison event must not block the queue: count it, log it, move on.
        this.counters.processingErrors += 1;
        this.log.error({ err, event: event.id }, "event could not be processed; skipped");
      },
    });
  }

  /** The config an event is judged with, when it needs no network: an org's cached config, or the defaults. */
  private cachedConfigFor(event: OrgEvent): Config | undefined {
    if (!event.org || event.installationId === null) return defaultConfig();
    return this.configs.cached(event.org);
  }

  /**
   * Keeps the database from growing for ever on a large org: judged events and deliveries older than
   * HISTORY_DAYS go (findings keep their evidence). Runs in small steps, yielding between them, so webhook
   * deliveries are still answered at once.
   */
  async pruneHistory(): Promise<{ events: number; deliveries: number }> {
    const cutoff = this.now() - HISTORY_DAYS * DAY_MS;
    const deliveries = await this.storage.deliveries.prune(cutoff);
    let events = 0;
    for (;;) {
      const step = await this.storage.events.prune(cutoff);
      events += step.deleted;
      if (!step.more) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (events + deliveries > 0) this.log.info({ events, deliveries }, "old events and deliveries pruned");
    return { events, deliveries };
  }

  private async enrich(event: OrgEvent): Promise<OrgEvent> {
    if (!NEEDS_ENRICHMENT.has(event.action) || event.installationId === null) return event;
    try {
      const octokit = await this.octokitFor(event.installationId);
      return await enrichEvent(event, { octokit, storage: this.storage, now: this.now() });
    } catch (err) {
      this.log.warn({ err, event: event.id }, "could not look up membership; judging without it");
      return event;
    }
  }

  private async configFor(event: OrgEvent): Promise<Config> {
    if (!event.org || event.installationId === null) return defaultConfig();
    return this.configs.get(event.org, event.installationId);
  }

  async health(): Promise<{
    status: "ok" | "error";
    backend: string;
    database: string;
    counters: Runtime["counters"];
    detectorFailures: Record<string, number>;
  }> {
    let database = "ok";
    try {
      await this.storage.ping();
    } catch (err) {
      database = err instanceof Error ? err.message : String(err);
    }
    return {
      status: database === "ok" ? "ok" : "error",
      backend: this.storage.backend,
      database,
      counters: this.counters,
      detectorFailures: Object.fromEntries(this.engine.failures),
    };
  }
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
}

function readInstallationId(payload: unknown): number | null {
  const id = asRecord(asRecord(payload)?.installation)?.id;
  return typeof id === "number" ? id : null;
}

function readAction(payload: unknown): string | null {
  const a = asRecord(payload)?.action;
  return typeof a === "string" ? a : null;
}

function readOrg(payload: unknown): string | null {
  const login = asRecord(asRecord(payload)?.organization)?.login;
  return typeof login === "string" ? login : null;
}

function readRepoName(payload: unknown): string | null {
  const name = asRecord(asRecord(payload)?.repository)?.name;
  return typeof name === "string" ? name : null;
}
