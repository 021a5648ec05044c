// Webhook intake benchmark: signed push deliveries over loopback, to exfil-monitor and to a bare Probot
// server measured in the same run. Each server runs in its own process; the load comes from this one.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { examplePayload } from "../test/helpers/examples.js";
import { deliver, freePort, testPrivateKey, waitFor, WEBHOOK_SECRET } from "../test/helpers/app-process.js";
import { startFakeGitHub } from "../test/helpers/fake-github.js";

export interface WebhookRun {
  server: "bare-probot" | "exfil-monitor";
  deliveries: number;
  seconds: number;
  perSecond: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
}

async function startServer(script: string, env: Record<string, string>) {
  const port = await freePort();
  const root = path.resolve(import.meta.dirname, "..");
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, script)], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      APP_ID: "1",
      PRIVATE_KEY: testPrivateKey(),
      WEBHOOK_SECRET,
      HOST: "127.0.0.1",
      PORT: String(port),
      LOG_LEVEL: "warn",
      LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  // The bare server has no /health: any HTTP answer means it is listening.
  await waitFor(async () => (await fetch(`${url}/health`).catch(() => null)) !== null, 30_000, () => err);
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

async function load(url: string, deliveries: number, concurrency: number, idPrefix: string) {
  const payload = examplePayload("push");
  const latencies: number[] = [];
  let non2xx = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= deliveries) return;
        const t = performance.now();
        const res = await deliver(url, "push", `${idPrefix}-${i}`, payload);
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
        if (res.status < 200 || res.status > 299) non2xx += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    seconds,
    perSecond: deliveries / seconds,
    p99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
    maxMs: latencies.at(-1) ?? 0,
    non2xx,
  };
}

/** Alternates bare Probot and exfil-monitor `rounds` times and keeps each one's best round. */
export async function benchWebhook(opts: { deliveries?: number; concurrency?: number; rounds?: number } = {}) {
  const deliveries = opts.deliveries ?? 4000;
  const concurrency = opts.concurrency ?? 16;
  const rounds = opts.rounds ?? 3;
  const github = await startFakeGitHub();
  const dir = mkdtempSync(path.join(os.tmpdir(), "exfil-bench-"));
  const best: Record<string, WebhookRun> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const server of ["bare-probot", "exfil-monitor"] as const) {
        const s =
          server === "bare-probot"
            ? await startServer("bench/servers/bare-probot.ts", {})
            : await startServer("src/main.ts", {
                GHE_HOST: github.host,
                GHE_PROTOCOL: "http",
                DATABASE_PATH: path.join(dir, `round-${round}.db`),
                AUDIT_LOG_POLLING: "false",
              });
        try {
          // Warm-up so both are measured with a hot JIT and open connections.
          await load(s.url, 200, concurrency, `warm-${server}-${round}`);
          const r = await load(s.url, deliveries, concurrency, `run-${server}-${round}`);
          const prev = best[server];
          if (!prev || r.perSecond > prev.perSecond) best[server] = { server, deliveries, ...r };
        } finally {
          await s.stop();
        }
      }
    }
  } finally {
    await github.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const bare = best["bare-probot"]!;
  const app = best["exfil-monitor"]!;
  return { bare, app, ratio: app.perSecond / bare.perSecond };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchWebhook();
  console.log(JSON.stringify(r, null, 2));
}
