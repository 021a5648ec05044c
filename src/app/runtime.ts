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
import { fromWebhook } from "../events/from-webhook.js";
import type { OrgEvent } from "../events/types.js";
import { enrichEvent } from "../github/enrich.js";
import { judgeBatch, type JudgeItem } from "../pipeline/judge.js";
import type { Store } from "../store/store.js";

export type { Logger };

export interface RuntimeOptions {
  store: Store;
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
export const STATE_EXPIRY_GRACE_MS = 8 * 24 * 60 * 60_000;

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

/** A delivery waiting for the intake transaction. */
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

/** What the intake transaction found for one delivery: new, a redelivery, or a known id with another body. */
type IntakeOutcome = { kind: "fresh" } | { kind: "redelivery" } | { kind: "conflict"; firstSha256: string };

/** A drain starts this long after the first kick, so events arriving together are judged in one batch. */
const DRAIN_DELAY_MS = 5;

export class Runtime {
  readonly store: Store;
  readonly engine: Engine;
  readonly alerts: AlertDispatcher;
  readonly configs: ConfigService;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly octokitFor: RuntimeOptions["octokitFor"];
  private intake: Intake[] = [];
  private draining: Promise<void> | null = null;
  /**
   * True while no stored event waits to be judged: only then may intake judge a delivery's events itself,
   * since an org's events are judged in the order they came. False at start (a crash may have left some).
   */
  private queueIdle = false;
  private drainAgain = false;
  private evidenceAdded = false;
  private flushedOnce = false;
  private lastStateExpiry = 0;
  /**
   * For /health: deliveries accepted since start, redeliveries ignored, known delivery ids that came with a
   * different body (kept as evidence), and webhook requests refused before they reached the runtime.
   */
  readonly counters = { deliveries: 0, duplicates: 0, conflicts: 0, refused: 0, events: 0, processingErrors: 0 };

  constructor(opts: RuntimeOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.octokitFor = opts.octokitFor;
    this.engine = new Engine({ store: this.store, log: this.log, now: this.now });
    this.alerts = new AlertDispatcher({
      store: this.store,
      log: this.log,
      now: this.now,
      octokitFor: this.octokitFor,
      configFor: (org, installationId) => this.configs.get(org, installationId),
      ...(opts.alertWriteSpacingMs !== undefined ? { writeSpacingMs: opts.alertWriteSpacingMs } : {}),
    });
    this.configs = new ConfigService({
      store: this.store,
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
   * arriving in the same turn of the event loop share one transaction (group commit): the answer still goes
   * out only after the delivery is durable, and everything slow happens in `drain()` after the 2xx.
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
    if (this.intake.length === 1) setImmediate(() => this.commitIntake());
    return result;
  }

  private commitIntake(): void {
    const batch = this.intake;
    this.intake = [];
    let outcomes: IntakeOutcome[];
    const judgeNow: JudgeItem[] = [];
    let evidence = false;
    try {
      outcomes = this.store.transaction(() => {
        const out = batch.map((d): IntakeOutcome => {
          const delivery = {
            id: d.id,
            name: d.name,
            action: readAction(d.payload),
            installationId: readInstallationId(d.payload),
            receivedAt: d.receivedAt,
            bodySha256: d.raw?.sha256 ?? null,
          };
          if (this.store.recordDelivery(delivery)) {
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
                this.store.addEvent(e);
                this.queueIdle = false;
              }
            }
            return { kind: "fresh" };
          }
          // Known id. Only an id whose first body was recorded can be compared (not one stored before
          // migration 0006, nor one handed over without its raw body).
          const firstSha256 = d.raw ? this.store.deliveryBodySha256(d.id) : null;
          if (!d.raw || !firstSha256 || firstSha256 === d.raw.sha256) return { kind: "redelivery" };
          this.store.recordDeliveryConflict({
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
          return { kind: "conflict", firstSha256 };
        });
        if (judgeNow.length > 0) evidence = this.judge(judgeNow, "stored").recorded.some((r) => r.added);
        return out;
      });
    } catch (err) {
      // Not stored: answer 5xx so the delivery shows as failed in GitHub and can be redelivered.
      for (const d of batch) d.fail(err);
      return;
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

  /** Adds events from the audit log or a sweep; already-known ids are dropped. */
  acceptEvents(events: OrgEvent[]): number {
    const added = this.store.transaction(() => events.filter((e) => this.store.addEvent(e)).length);
    if (added > 0) {
      this.queueIdle = false;
      this.kick();
    }
    return added;
  }

  /** Starts processing in the background; several kicks while running collapse into one more pass. */
  kick(): void {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = this.drainLoop()
      .catch((err: unknown) => {
        // A store failure (disk full, database locked past the busy timeout) must not become an unhandled
        // rejection, which would end the process. The events stay unprocessed and the next kick retries them.
        this.counters.processingErrors += 1;
        this.log.error({ err }, "processing stored events failed; they stay pending and are retried on the next event or poll");
      })
      .finally(() => {
        this.draining = null;
      });
  }

  /** Resolves when every stored event has been processed and alerts have been flushed once. */
  async idle(): Promise<void> {
    while (this.intake.length > 0) await new Promise((resolve) => setImmediate(resolve));
    do {
      while (this.draining) await this.draining;
      await this.alerts.idle();
    } while (this.draining);
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
        await this.alerts.flush();
      }
    } while (this.drainAgain);
  }

  /** Runs every unprocessed event (including those left by a crash) through enrichment and detection. */
  async processPending(): Promise<number> {
    let done = 0;
    for (;;) {
      const batch = this.store.pendingEvents(200);
      if (batch.length === 0) {
        this.queueIdle = true;
        return done;
      }
      // The async part first (membership lookups, each org's config, cached), then one transaction for the
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
      const judged = this.judge(ready, "queued", expire ? cutoff : undefined);
      if (judged.recorded.some((r) => r.added)) this.evidenceAdded = true;
      if (expire) this.lastStateExpiry = now;
      done += batch.length;
    }
  }

  private judge(items: JudgeItem[], record: "queued" | "stored", expireStateBefore?: number) {
    return judgeBatch(items, {
      store: this.store,
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
    const deliveries = this.store.pruneDeliveries(cutoff);
    let events = 0;
    for (;;) {
      const step = this.store.pruneEvents(cutoff);
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
      return await enrichEvent(event, { octokit, store: this.store, now: this.now() });
    } catch (err) {
      this.log.warn({ err, event: event.id }, "could not look up membership; judging without it");
      return event;
    }
  }

  private async configFor(event: OrgEvent): Promise<Config> {
    if (!event.org || event.installationId === null) return defaultConfig();
    return this.configs.get(event.org, event.installationId);
  }

  health(): { status: "ok" | "error"; database: string; counters: Runtime["counters"]; detectorFailures: Record<string, number> } {
    let database = "ok";
    try {
      this.store.db.prepare("SELECT 1").get();
    } catch (err) {
      database = err instanceof Error ? err.message : String(err);
    }
    return {
      status: database === "ok" ? "ok" : "error",
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
