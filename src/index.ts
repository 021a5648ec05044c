// The Probot app: wiring only. Webhooks go to the runtime, which answers fast and does the slow work in
// the background; /health is served beside the webhook route; periodic jobs poll and sweep. Over HTTP,
// deliveries come through our own webhook route (app/webhook-route.ts), which must run before Probot's
// webhook middleware: app/server.ts, and Probot's createNodeMiddleware, run added handlers first.
import type { ApplicationFunction, ApplicationFunctionOptions, Probot } from "probot";
import type { OctokitLike } from "./github/octokit.js";
import { readEnv, type AppEnv } from "./config/env.js";
import { AuditLogPoller } from "./github/audit-log.js";
import { openStorage } from "./store/open.js";
import type { Storage } from "./store/storage.js";
import { healthHandler } from "./app/health.js";
import { Jobs, type OrgInstallation } from "./app/jobs.js";
import { Runtime } from "./app/runtime.js";
import { webhookRoute } from "./app/webhook-route.js";

export interface AppOptions {
  /** Defaults to the database at DATABASE_PATH. */
  storage?: Storage;
  env?: AppEnv;
  /** Periodic jobs (alert retries, audit-log polling, sweeps). Off in tests that drive the runtime. */
  jobs?: boolean;
  /** Receives the runtime once built (tests wait on `runtime.idle()`). */
  onRuntime?: (runtime: Runtime) => void;
  now?: () => number;
  /** Pause between issue/comment writes; tests set 0. */
  alertWriteSpacingMs?: number;
}

export function createApp(options: AppOptions = {}): ApplicationFunction {
  return (app: Probot, appOptions: ApplicationFunctionOptions) => {
    const env = options.env ?? readEnv();
    // SQLite's WAL checkpoints run in a worker thread, never on the event loop that answers webhooks.
    const storage = options.storage ?? openStorage(env.databasePath, { checkpoints: "background" });
    const octokitFor = async (installationId: number) => (await app.auth(installationId)) as unknown as OctokitLike;
    const runtime = new Runtime({
      storage,
      log: app.log,
      octokitFor,
      configCacheMs: env.configCacheSeconds * 1000,
      ...(options.now ? { now: options.now } : {}),
      ...(options.alertWriteSpacingMs !== undefined ? { alertWriteSpacingMs: options.alertWriteSpacingMs } : {}),
    });

    // Events handed over without HTTP (Probot's receive()); their raw body is not known.
    app.onAny(async (context) => {
      await runtime.acceptDelivery(context.name, context.id, context.payload);
    });

    try {
      appOptions.addHandler(
        webhookRoute({
          path: env.webhookPath,
          secret: env.webhookSecret,
          log: app.log,
          accept: (name, id, payload, raw) => runtime.acceptDelivery(name, id, payload, raw),
          counters: runtime.counters,
        }),
      );
      appOptions.addHandler(healthHandler(runtime));
    } catch (err) {
      // Loaded without an HTTP server (probot.receive in tests): there is no route to add.
      app.log.debug({ err }, "no HTTP server: /health is not served");
    }

    if (options.jobs ?? true) {
      const jobs = new Jobs({
        runtime,
        log: app.log,
        octokitFor,
        alertFlushMs: env.alertFlushSeconds * 1000,
        poller: env.auditLogPolling
          ? new AuditLogPoller({
              storage,
              log: app.log,
              // Through the runtime's queue writer: webhook deliveries taken in meanwhile wait behind the page.
              storeEvents: (write) => runtime.queueEvents(write),
              // The poller has stored the new events already (that is how it deduplicates): process them.
              onEvents: () => runtime.kick(),
              notice: (n) => runtime.alerts.reportNotice(n),
            })
          : null,
        listInstallations: () => listOrgInstallations(app),
      });
      jobs.start();
    }

    // Events stored before a crash or restart and not yet judged are processed now.
    runtime.kick();
    options.onRuntime?.(runtime);
  };
}

async function listOrgInstallations(app: Probot): Promise<OrgInstallation[]> {
  const octokit = await app.auth();
  const installations = await octokit.paginate("GET /app/installations", { per_page: 100 });
  return installations
    .filter((i) => i.account && "login" in i.account && i.target_type === "Organization")
    .map((i) => ({ org: (i.account as { login: string }).login, installationId: i.id }));
}

export default createApp();
