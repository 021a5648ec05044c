// `npm start`: loads `.env`, checks our own environment variables first (one message listing every
// problem), then hands over to Probot, which serves the setup page when the app is not registered yet.
import fs from "node:fs";
import { run } from "probot";
import { readEnv } from "./config/env.js";
import { createApp } from "./index.js";

// Probot loads `.env` only inside run(); our variables are read before that, so load it here first.
if (fs.existsSync(".env")) process.loadEnvFile(".env");

try {
  const env = readEnv();
  await run(createApp({ env }));
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
