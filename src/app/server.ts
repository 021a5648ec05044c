// The HTTP server `npm start` runs once the app is registered. Probot's own server (`run()`) puts its webhook
// middleware before every route the app adds, and that middleware reads a body whole before checking its
// signature; it also logs each request with all its headers. On a public URL both let anyone fill memory and
// disk. This server is built from Probot's documented pieces for custom servers (createProbot,
// createNodeMiddleware), which run the app's routes first, so the bounded webhook route (webhook-route.ts)
// answers every delivery. Registration (the setup page) still goes through Probot's run(): see main.ts.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createNodeMiddleware, createProbot, type ApplicationFunction } from "probot";
import type { AppEnv } from "../config/env.js";
import type { Logger } from "../log.js";

/**
 * A request (headers and body) must arrive within this time. GitHub gives up on a delivery after 10 s, so
 * only a slow or stalled sender is cut off, and a connection trickling a body cannot be held for minutes.
 */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 20_000;

type ProbotLogLevel = NonNullable<NonNullable<Parameters<typeof createProbot>[0]>["overrides"]>["logLevel"];

export interface StartedServer {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

export interface ServerOptions {
  /** Runs on SIGINT or SIGTERM once the server has stopped taking requests (the app closes its storage). */
  onStop?: () => Promise<void>;
}

export async function startServer(appFn: ApplicationFunction, env: AppEnv, opts: ServerOptions = {}): Promise<StartedServer> {
  if (!env.webhookSecret) {
    // Probot would fall back to the secret "development", which anyone can sign with.
    throw new Error("WEBHOOK_SECRET is missing: set it to the webhook secret on the GitHub App's settings page (see .env.example)");
  }
  // Probot's own webhook handler must never take a request: it reads bodies whole and logs them. The bounded
  // route (added by the app, run first) owns WEBHOOK_PATH; Probot's handler is put on a path nobody can name,
  // so a request that somehow passes our route cannot reach it either.
  const unreachable = `/.exfil-monitor-internal/${randomUUID()}`;
  const probot = createProbot({
    // pino takes "silent" too, which Probot's type leaves out.
    overrides: { logLevel: env.logLevel as ProbotLogLevel, logFormat: env.logFormat, webhookPath: unreachable },
  });
  const middleware = await createNodeMiddleware(appFn, { probot, webhooksPath: unreachable });
  // Set once Probot is initialized, which loading the app waits for.
  const log = probot.log;

  const server = http.createServer((req, res) => {
    // Probot's server answered /ping; kept for load balancers set up against it.
    if (req.method === "GET" && req.url?.split("?")[0] === "/ping") {
      res.writeHead(200, { "content-type": "text/plain" }).end("PONG");
      return;
    }
    void middleware(req, res, () => {
      if (!res.headersSent) res.writeHead(404).end();
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;

  const host = env.host ?? "localhost";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "EADDRINUSE" ? new Error(`Port ${env.port} is already in use: set PORT to another port`) : err);
    });
    server.listen(env.port, host, () => resolve());
  });
  server.on("error", (err) => log.error({ err }, "HTTP server error"));
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info(`Listening on ${url}`);

  if (env.webhookProxyUrl) await startWebhookProxy(env.webhookProxyUrl, `${url}${env.webhookPath}`, log);

  const close = () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  // As Probot's run() does for Ctrl-C: stop accepting requests, then exit; SIGTERM too (`docker stop`), so the
  // app closes its storage rather than being killed. A second signal ends the process at once.
  const stop = () => {
    server.closeAllConnections();
    close()
      .then(() => opts.onStop?.())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, "error while stopping the server");
          process.exit(1);
        },
      );
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return { server, url, close };
}

/**
 * Development only: forwards deliveries sent to a https://smee.io channel to this server (through the same
 * webhook route). smee-client is not a dependency of the app; Probot downloaded it on the fly, this asks
 * for it to be installed instead.
 */
async function startWebhookProxy(source: string, target: string, log: Logger): Promise<void> {
  type SmeeClient = new (opts: { source: string; target: string; logger: Logger }) => { start(): Promise<unknown> };
  let Client: SmeeClient;
  try {
    const specifier = "smee-client";
    ({ SmeeClient: Client } = (await import(specifier)) as { SmeeClient: SmeeClient });
  } catch (err) {
    log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      "WEBHOOK_PROXY_URL is set but smee-client is not installed: run `npm install --no-save smee-client@5` " +
        "to receive deliveries through the channel, or remove WEBHOOK_PROXY_URL",
    );
    return;
  }
  await new Client({ source, target, logger: log }).start();
  log.info({ source, target }, "forwarding deliveries from the webhook proxy channel");
}
