// Periodic work of a running app: retry pending alerts, poll each org's audit log, and sweep for what no
// event announces (repos gone from the inventory, org settings). Each job never overlaps itself, and a
// failure is logged and retried at the next tick.
import type { OctokitLike } from "../github/octokit.js";
import type { AuditLogPoller } from "../github/audit-log.js";
import { sweepInventory } from "../hunt/inventory.js";
import { sweepOrgSettings } from "../hunt/org-settings.js";
import type { Logger, Runtime } from "./runtime.js";

export interface OrgInstallation {
  org: string;
  installationId: number;
}

export interface JobDeps {
  runtime: Runtime;
  log: Logger;
  poller: AuditLogPoller | null;
  /** Org installations of the app, as GitHub lists them now. */
  listInstallations: () => Promise<OrgInstallation[]>;
  octokitFor: (installationId: number) => Promise<OctokitLike>;
  alertFlushMs: number;
  now?: () => number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const INSTALLATIONS_EVERY = 10 * MINUTE;
const SWEEP_EVERY = HOUR;

export class Jobs {
  private timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<string>();
  private readonly lastPoll = new Map<string, number>();
  private readonly lastSweep = new Map<string, number>();
  private installations: { list: OrgInstallation[]; at: number } | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: JobDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    const { runtime } = this.deps;
    this.every("alerts", this.deps.alertFlushMs, async () => {
      // Events left unjudged by a failed drain are retried here too, not only when the next event arrives.
      runtime.kick();
      await runtime.flushAlerts();
    });
    this.every("orgs", MINUTE, () => this.tickOrgs());
    this.every("history", HOUR, async () => {
      await runtime.pruneHistory();
      // The backend's own housekeeping, here rather than on the webhook path (SQLite: a WAL checkpoint, when
      // no background worker does it).
      await runtime.storage.maintain();
    });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  private every(name: string, ms: number, fn: () => Promise<void>): void {
    const t = setInterval(() => void this.once(name, fn), ms);
    t.unref();
    this.timers.push(t);
    void this.once(name, fn);
  }

  private async once(name: string, fn: () => Promise<void>): Promise<void> {
    if (this.running.has(name)) return;
    this.running.add(name);
    try {
      await fn();
    } catch (err) {
      this.deps.log.error({ err, job: name }, "periodic job failed; retrying at the next tick");
    } finally {
      this.running.delete(name);
    }
  }

  /** One pass over the org installations: polls and sweeps that are due. Exposed for tests. */
  async tickOrgs(): Promise<void> {
    const { log } = this.deps;
    // The ticks run every minute; installations change rarely, so GitHub is asked every 10 minutes.
    const now = this.now();
    if (!this.installations || now - this.installations.at >= INSTALLATIONS_EVERY) {
      this.installations = { list: await this.deps.listInstallations(), at: now };
    }
    const installations = this.installations.list;
    for (const { org, installationId } of installations) {
      try {
        await this.tickOrg(org, installationId);
      } catch (err) {
        // One org's failure (token revoked, API down) must not starve the others.
        log.error({ err, org }, "audit-log poll or sweep failed for this org; retrying at the next tick");
      }
    }
  }

  private async tickOrg(org: string, installationId: number): Promise<void> {
    const { runtime, poller, log } = this.deps;
    const now = this.now();
    const octokit = await this.deps.octokitFor(installationId);
    if (poller) {
      const config = await runtime.configs.get(org, installationId);
      const due = (this.lastPoll.get(org) ?? 0) + config.audit_log.poll_minutes * MINUTE <= now;
      if (due) {
        this.lastPoll.set(org, now);
        const result = await poller.poll(org, installationId, octokit);
        log.debug({ org, ...result }, "audit log polled");
      }
    }
    if ((this.lastSweep.get(org) ?? 0) + SWEEP_EVERY <= now) {
      this.lastSweep.set(org, now);
      const deps = { octokit, storage: runtime.storage, org, installationId, now };
      const events = [...(await sweepInventory(deps)), ...(await sweepOrgSettings(deps))];
      if (events.length > 0) await runtime.acceptEvents(events);
    }
  }
}
