// Live polling of the org audit log (GitHub Enterprise Cloud). Each poll reads the entries created since the
// stored position in ascending order, following the `after` cursors, converts them into normalized events,
// stores them (deduplicated on `_document_id`) and hands the new ones to the engine. The position is saved
// with every page, so a crash or restart resumes where it stopped without missing or repeating an entry.
// Git events (clones, fetches) are kept by GitHub for 7 days only: a gap that nears that is reported.
// An org without the API (another plan, or the Administration permission missing) is reported once and
// skipped until a daily recheck; the webhook detectors keep running for it.
import type Bottleneck from "bottleneck";
import { fromAuditLog } from "../events/from-audit-log.js";
import { parseTimestamp } from "../events/time.js";
import type { OrgEvent } from "../events/types.js";
import type { Logger } from "../log.js";
import type { OctokitLike, OctokitResponse } from "./octokit.js";
import type { AuditLogPosition, Storage } from "../store/storage.js";
import { createAuditLogLimiter, GiveUpError, httpFailure, isRateLimited, withRetries } from "./limiter.js";

const SECOND = 1000;
const HOUR = 60 * 60 * SECOND;
const DAY = 24 * HOUR;

/** GitHub keeps git events for 7 days; the first poll of an org starts that far back. */
export const GIT_EVENT_RETENTION_MS = 7 * DAY;
/** A gap longer than this since the last successful poll is reported before git events start to vanish. */
export const GAP_WARNING_MS = 5 * DAY;
/** An org without the audit-log API is asked again after this long. */
export const UNAVAILABLE_RECHECK_MS = DAY;
export const PER_PAGE = 100;

export type PollLogger = Logger;
export type { OctokitLike };

export interface AuditLogNotice {
  org: string;
  installationId: number;
  /** Stable key: the same key is one notice (the receiver may deduplicate on it too). */
  key: string;
  title: string;
  body: string;
}

export interface AuditLogPollerOptions {
  storage: Storage;
  log: PollLogger;
  now?: () => number;
  /** Share one limiter between every poller of the process (see createAuditLogLimiter). */
  limiter?: Bottleneck;
  sleep?: (ms: number) => Promise<void>;
  /** Receives the events not seen before, in audit-log order; the app feeds them to the engine. */
  onEvents: (events: OrgEvent[]) => void | Promise<void>;
  notice: (n: AuditLogNotice) => Promise<void> | void;
  /** Pages read per poll at most, so one org's backlog cannot hold the shared budget for hours. */
  maxPages?: number;
  /**
   * Runs the unit of work that stores a page's events and position. The app passes its queue's writer, so a
   * webhook delivery taken in meanwhile is judged after these older events, never before. Default: a plain
   * unit of work.
   */
  storeEvents?: <T>(write: (tx: Storage) => Promise<T>) => Promise<T>;
}

export interface PollResult {
  status: "ok" | "unavailable" | "skipped" | "error";
  /** New events handed to `onEvents`. */
  events: number;
  /** Pages received. */
  pages: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `created` of an entry in epoch ms: `created_at` or `@timestamp`, in any form the one time parser reads. */
export function createdOf(entry: unknown): number | null {
  if (typeof entry !== "object" || entry === null) return null;
  const e = entry as Record<string, unknown>;
  return parseTimestamp(e.created_at) ?? parseTimestamp(e["@timestamp"]) ?? null;
}

function documentIdOf(entry: unknown): string | null {
  if (typeof entry !== "object" || entry === null) return null;
  const id = (entry as Record<string, unknown>)._document_id;
  return typeof id === "string" && id !== "" ? id : null;
}

/** The `after` cursor of the `rel="next"` link, or null on the last page. */
export function nextCursor(link: unknown): string | null {
  if (typeof link !== "string") return null;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (!m?.[1]) continue;
    try {
      return new URL(m[1], "https://api.github.com").searchParams.get("after");
    } catch {
      return null;
    }
  }
  return null;
}

function floorSecond(ms: number): number {
  return Math.floor(ms / SECOND) * SECOND;
}

/** Search syntax wants whole seconds; the boundary second's entries are recognised by their ids. */
function isoSecond(ms: number): string {
  return new Date(floorSecond(ms)).toISOString().replace(".000Z", "Z");
}

export class AuditLogPoller {
  private readonly storage: Storage;
  private readonly log: PollLogger;
  private readonly now: () => number;
  private readonly limiter: Bottleneck;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onEvents: AuditLogPollerOptions["onEvents"];
  private readonly storeEvents: NonNullable<AuditLogPollerOptions["storeEvents"]>;
  private readonly notice: AuditLogPollerOptions["notice"];
  private readonly maxPages: number;
  /** Orgs being polled right now: a second poll of the same org is skipped, not run twice. */
  private readonly running = new Set<string>();

  constructor(opts: AuditLogPollerOptions) {
    this.storage = opts.storage;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.limiter = opts.limiter ?? createAuditLogLimiter();
    this.sleep = opts.sleep ?? defaultSleep;
    this.onEvents = opts.onEvents;
    this.storeEvents = opts.storeEvents ?? ((write) => this.storage.unitOfWork(write));
    this.notice = opts.notice;
    this.maxPages = opts.maxPages ?? 200;
  }

  async poll(org: string, installationId: number, octokit: OctokitLike): Promise<PollResult> {
    const key = org.toLowerCase();
    if (this.running.has(key)) return { status: "skipped", events: 0, pages: 0 };
    this.running.add(key);
    try {
      return await this.pollOnce(org, installationId, octokit);
    } finally {
      this.running.delete(key);
    }
  }

  private save(pos: AuditLogPosition, storage: Storage = this.storage): Promise<void> {
    return storage.cursors.saveAuditLog(pos, this.now());
  }

  private async sendNotice(n: AuditLogNotice): Promise<boolean> {
    try {
      await this.notice(n);
      return true;
    } catch (err) {
      this.log.error({ err, org: n.org, key: n.key }, "could not deliver an audit-log notice; it is tried again on the next poll");
      return false;
    }
  }

  private async pollOnce(org: string, installationId: number, octokit: OctokitLike): Promise<PollResult> {
    const started = this.now();
    let pos: AuditLogPosition = (await this.storage.cursors.auditLog(org)) ?? {
      org,
      installationId,
      createdAt: null,
      boundaryIds: [],
      lastSuccessAt: null,
      unavailableAt: null,
      unavailableReason: null,
      gapNotice: null,
    };
    pos = { ...pos, installationId };

    if (pos.unavailableAt !== null && started - pos.unavailableAt < UNAVAILABLE_RECHECK_MS) {
      return { status: "skipped", events: 0, pages: 0 };
    }

    if (pos.lastSuccessAt !== null && started - pos.lastSuccessAt > GAP_WARNING_MS) {
      const since = new Date(pos.lastSuccessAt).toISOString().slice(0, 10);
      const key = `audit-log:gap:${since}`;
      if (pos.gapNotice !== key) {
        const days = Math.floor((started - pos.lastSuccessAt) / DAY);
        const sent = await this.sendNotice({
          org,
          installationId,
          key,
          title: `Audit log of ${org} not read since ${since}: git events older than 7 days are gone`,
          body:
            `exfil-monitor last read the audit log of ${org} successfully on ${since}, ${days} days ago. ` +
            "GitHub keeps git events (git.clone, git.fetch) for 7 days only, so clones from the start of this gap " +
            "are about to disappear or already have, and mass-clone and credential findings for that period may be " +
            "missing. Web events are kept for 180 days and will still be read.\n\n" +
            "What to do: check that exfil-monitor is running and that its logs show no audit-log errors; if the " +
            "service was down, export the org audit log for the gap (Settings → Audit log → Export, git events " +
            "included) and run `exfil-monitor analyze` on it.",
        });
        if (sent) {
          pos = { ...pos, gapNotice: key };
          await this.save(pos);
        }
      }
    }

    const boundary = new Set(pos.boundaryIds);
    let boundarySecond = pos.createdAt === null ? null : floorSecond(pos.createdAt);
    const start = pos.createdAt ?? started - GIT_EVENT_RETENTION_MS;
    const phrase = `created:>=${isoSecond(start)}`;
    let after: string | null = null;
    let pages = 0;
    let delivered = 0;

    for (;;) {
      if (pages >= this.maxPages) {
        this.log.info({ org, pages }, "audit-log backlog: the next poll continues from the stored position");
        break;
      }
      let res: OctokitResponse;
      try {
        const params: Record<string, unknown> = { org, include: "all", order: "asc", per_page: PER_PAGE, phrase };
        if (after !== null) params.after = after;
        res = await withRetries(this.limiter, () => octokit.request("GET /orgs/{org}/audit-log", params), {
          sleep: this.sleep,
          now: this.now,
          onRetry: (info) => this.log.warn({ org, ...info }, "audit-log request failed; waiting before retrying"),
        });
      } catch (err) {
        const f = httpFailure(err);
        if (!(err instanceof GiveUpError) && (f.status === 403 || f.status === 404) && !isRateLimited(f)) {
          return this.markUnavailable(pos, installationId, `${f.status} ${f.message}`, pages, delivered);
        }
        this.log.error(
          { err, org, pages },
          "could not read the audit log; the position is kept and the next poll resumes from it",
        );
        return { status: "error", events: delivered, pages };
      }
      pages++;

      if (!Array.isArray(res.data)) {
        this.log.error({ org, pages }, "the audit log answered something other than a list; the next poll tries again");
        return { status: "error", events: delivered, pages };
      }

      const events: OrgEvent[] = [];
      for (const entry of res.data as unknown[]) {
        const docId = documentIdOf(entry);
        if (docId !== null && boundary.has(docId)) continue;
        const created = createdOf(entry);
        if (created !== null) {
          const sec = floorSecond(created);
          if (boundarySecond === null || sec > boundarySecond) {
            boundarySecond = sec;
            boundary.clear();
          }
          if (sec === boundarySecond && docId !== null) boundary.add(docId);
          if (pos.createdAt === null || created > pos.createdAt) pos = { ...pos, createdAt: created };
        }
        const event = fromAuditLog(entry, { installationId, org });
        if (event) events.push(event);
      }
      pos = { ...pos, boundaryIds: [...boundary] };
      // The page's events and the position after them are stored together: a crash leaves both or neither.
      const added = await this.storeEvents(async (tx) => {
        const answers = await tx.events.add(events);
        await this.save(pos, tx);
        return answers;
      });
      const fresh = events.filter((_, i) => added[i]);

      if (fresh.length > 0) {
        try {
          await this.onEvents(fresh);
        } catch (err) {
          // The events are stored unprocessed, so the app's pending-event recovery still runs them.
          this.log.error({ err, org, events: fresh.length }, "processing polled audit-log events failed");
          return { status: "error", events: delivered, pages };
        }
        delivered += fresh.length;
      }

      after = nextCursor(res.headers.link);
      if (after === null || res.data.length === 0) break;
    }

    pos = { ...pos, lastSuccessAt: this.now(), unavailableAt: null, unavailableReason: null };
    await this.save(pos);
    return { status: "ok", events: delivered, pages };
  }

  private async markUnavailable(
    pos: AuditLogPosition,
    installationId: number,
    reason: string,
    pages: number,
    events: number,
  ): Promise<PollResult> {
    const org = pos.org;
    const first = pos.unavailableAt === null;
    this.log.warn({ org, reason }, "the org audit log is not available; webhook detectors keep running");
    if (first) {
      const sent = await this.sendNotice({
        org,
        installationId,
        key: "audit-log:unavailable",
        title: `Audit log of ${org} is not available to exfil-monitor`,
        body:
          `GitHub answered \`${reason.slice(0, 200)}\` when exfil-monitor asked for the audit log of ${org}.\n\n` +
          "The audit-log detectors (mass clones, zip downloads, logins from several countries, new credentials " +
          "followed by clones, transfers) need it. To turn them on:\n" +
          "1. The org must be on GitHub Enterprise Cloud: the audit-log API does not exist on other plans.\n" +
          '2. Grant the app the organization permission "Administration: read" (organization_administration: read) ' +
          "and accept the new permission in the org's installation settings.\n\n" +
          "The webhook detectors keep running meanwhile (forks to personal accounts, repos made public, deploy " +
          "keys, ...). exfil-monitor checks again once a day and starts reading the audit log as soon as it answers.",
      });
      // Without a delivered notice nobody would know: ask again on the next poll rather than stay silent.
      if (!sent) return { status: "unavailable", events, pages };
    }
    await this.save({ ...pos, unavailableAt: this.now(), unavailableReason: reason.slice(0, 500) });
    return { status: "unavailable", events, pages };
  }
}
