// `npm start`: loads `.env`, checks our own environment variables first (one message listing every
// problem), then serves the app (app/server.ts). Until the app is registered, Probot's run() serves its
// setup page instead (and, with NODE_ENV=production, refuses to start).
import fs from "node:fs";
import { run } from "probot";
import { readEnv, type AppEnv } from "./config/env.js";
import type { Runtime } from "./app/runtime.js";
import { startServer } from "./app/server.js";
import { createApp } from "./index.js";

// Probot loads `.env` only inside run(); our variables are read before that, so load it here first.
if (fs.existsSync(".env")) process.loadEnvFile(".env");

try {
  const env = readEnv();
  if (registered(env)) {
    let runtime: Runtime | undefined;
    // On shutdown the deliveries already taken in are committed, then the database is closed.
    await startServer(createApp({ env, onRuntime: (r) => (runtime = r) }), env, { onStop: async () => runtime?.close() });
  } else {
    await run(createApp({ env }));
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}

/** Probot's own test: an app id and a private key (PRIVATE_KEY, PRIVATE_KEY_PATH, or a .pem file here). */
function registered(env: AppEnv): boolean {
  if (env.appId === undefined) return false;
  return env.privateKey !== undefined || env.privateKeyPath !== undefined || fs.readdirSync(".").some((f) => f.endsWith(".pem"));
}
