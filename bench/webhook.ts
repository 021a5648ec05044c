// Webhook intake benchmark: signed `push` deliveries over loopback to exfil-monitor and to a bare Probot
// server with a no-op handler, measured in the same run. Three processes per measurement, so that none
// shares a thread with another:
//   the server     exfil-monitor as `npm start` runs it (src/main.ts, run by tsx rather than built: createApp
//                  through Probot's middleware), or bench/servers/bare-probot.ts; both load
//                  bench/servers/probe.ts, which reports the server's event-loop utilization over the window;
//   the load       autocannon, in a child of this file (`--load`): keep-alive connections sending one body
//                  serialized and signed once, with a fresh X-GitHub-Delivery id on every request, so the
//                  generator spends nothing on JSON or HMAC and every delivery is new to the app;
//   this process   starts and stops the others, and serves the fake GitHub API the app reads its config from.
// A server less than BUSY_FLOOR busy was waiting for the load generator (or for the machine), not working
// at its limit: its figures say nothing about its speed, and no ratio is reported from them.
// The app may answer before it has judged a delivery (it commits the delivery, then judges in the
// background): the time its event loop stays busy after the load stops is added to its run, so a backlog
// left for later is not counted as speed.
//
//   tsx bench/webhook.ts [--seconds 10] [--connections 16] [--rounds 3]
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { examplePayload } from "../test/helpers/examples.js";
import { freePort, sign, testPrivateKey, waitFor, WEBHOOK_SECRET } from "../test/helpers/app-process.js";
import { startFakeGitHub } from "../test/helpers/fake-github.js";
import type { ProbeReport } from "./servers/probe.js";

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(THIS_FILE), "..");
const WEBHOOK_PATH = "/api/github/webhooks";

/** Below this event-loop utilization a server was not the bottleneck of its own run. */
export const BUSY_FLOOR = 0.85;
/** exfil-monitor's deliveries/s ÷ bare Probot's. */
export const TARGET_THROUGHPUT = 0.9;
/** exfil-monitor's p99 latency ÷ bare Probot's, at most. */
export const TARGET_P99 = 2;
/** GitHub counts a delivery as failed after 10 s; "well inside" means an order of magnitude less. */
export const TARGET_SLOWEST_MS = 1_000;

export type ServerKind = "bare-probot" | "exfil-monitor";

export interface WebhookRun {
  server: ServerKind;
  round: number;
  /** Deliveries answered 2xx in the measured window. */
  deliveries: number;
  /** Length of the measured window. */
  seconds: number;
  /** How long the server's event loop stayed busy after the load stopped. */
  settleSeconds: number;
  /** deliveries ÷ (seconds + settleSeconds): what the server sustains, deferred work included. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Answers other than 2xx, and connection errors or timeouts. */
  non2xx: number;
  errors: number;
  /** The server's event-loop utilization over the window, 0 to 1. */
  serverBusy: number;
  /** The server's CPU time over the window (all its threads), per second of window. */
  serverCpu: number;
  /** The load generator's event-loop utilization over the window. */
  generatorBusy: number;
}

export interface WebhookBenchResult {
  bare: WebhookRun;
  app: WebhookRun;
  rounds: WebhookRun[];
  /** app deliveries/s ÷ bare deliveries/s; absent when a server was not busy enough to tell. */
  ratio?: number;
  /** app p99 ÷ bare p99; absent with ratio. */
  p99Ratio?: number;
  /** Why no ratio is given. */
  refused?: string;
  /** Targets missed (or no ratio), one line each. */
  misses: string[];
  /** Deliveries not answered 2xx: a fault, whatever the speed. */
  failures: string[];
}

export interface BenchWebhookOptions {
  /** Length of each measured run. */
  seconds?: number;
  warmupSeconds?: number;
  connections?: number;
  /** Alternating rounds; each server's fastest round is kept. */
  rounds?: number;
  progress?: (line: string) => void;
}

// --- child processes and their IPC ------------------------------------------------------------------------

/** The next message of `type` from `child`, or the child's exit as an error. */
function reply<T>(child: ChildProcess, type: string, context: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: { type?: string }) => {
      if (msg.type !== type) return;
      cleanup();
      resolve(msg as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`a benchmark process exited (${code}) while waiting for "${type}":\n${context()}`));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

interface Server {
  url: string;
  child: ChildProcess;
  output: () => string;
}

async function startServer(kind: ServerKind, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  const script = kind === "bare-probot" ? "bench/servers/bare-probot.ts" : "src/main.ts";
  const child = spawn(process.execPath, ["--import", "tsx", "--import", "./bench/servers/probe.ts", path.join(ROOT, script)], {
    cwd: ROOT,
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
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  let err = "";
  child.stderr?.on("data", (c: Buffer) => (err += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  // The bare server has no /health: any HTTP answer means it is listening.
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`${kind} exited early (${child.exitCode}):\n${err}`);
    return (await fetch(`${url}/health`).catch(() => null)) !== null;
  }, 30_000, () => err);
  return { url, child, output: () => err };
}

interface LoadRequest {
  type: "run";
  url: string;
  seconds: number;
  connections: number;
  event: string;
  body: string;
  signature: string;
}

interface LoadResult {
  type: "result";
  deliveries: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  generatorBusy: number;
}

function startLoad(): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", THIS_FILE, "--load"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit", "ipc"] });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** The load generator's side: runs autocannon for each request of the parent, in this process alone. */
async function loadChild(): Promise<void> {
  const { default: autocannon } = await import("autocannon");
  process.on("message", (req: LoadRequest) => {
    if (req.type !== "run") return;
    const latencies: number[] = [];
    let non2xx = 0;
    const elu0 = performance.eventLoopUtilization();
    const started = performance.now();
    const instance = autocannon(
      {
        url: `${req.url}${WEBHOOK_PATH}`,
        method: "POST",
        connections: req.connections,
        pipelining: 1,
        duration: req.seconds,
        headers: {
          "content-type": "application/json",
          "x-github-event": req.event,
          // autocannon puts a new id in place of [<id>] in every request it sends.
          "x-github-delivery": "bench-[<id>]",
          "x-hub-signature-256": req.signature,
        },
        body: req.body,
        idReplacement: true,
      },
      (err: unknown, result) => {
        if (err) {
          process.stderr.write(`autocannon failed: ${String(err)}\n`);
          process.exit(1);
        }
        const seconds = (performance.now() - started) / 1000;
        const sorted = Float64Array.from(latencies).sort();
        const res: LoadResult = {
          type: "result",
          deliveries: latencies.length,
          seconds,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
          maxMs: sorted.at(-1) ?? 0,
          non2xx,
          errors: result.errors,
          generatorBusy: performance.eventLoopUtilization(elu0).utilization,
        };
        process.send!(res);
      },
    );
    // autocannon's own histogram keeps whole milliseconds; p99 ratios of a few ms need the fractions.
    instance.on("response", (_client, status, _bytes, responseTime) => {
      if (status >= 200 && status < 300) latencies.push(responseTime);
      else non2xx++;
    });
  });
  process.send!({ type: "ready" });
}

// --- the benchmark -----------------------------------------------------------------------------------------

/**
 * GitHub's example push, as an org installation receives it: from an org repository, with the installation
 * (so the app reads the org's config, cached, as in production).
 */
function pushBody(): string {
  const payload = examplePayload("push") as Record<string, unknown> & { repository: Record<string, unknown> };
  const org = { login: "acme", id: 90_000_001, node_id: "O_kgDOBVx0AQ", url: "https://api.github.com/orgs/acme", description: "" };
  payload.repository = { ...payload.repository, full_name: "acme/Hello-World", owner: { ...(payload.repository.owner as object), login: "acme", type: "Organization" } };
  payload.organization = org;
  payload.installation = { id: 42, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=" };
  return JSON.stringify(payload);
}

async function health(url: string): Promise<{ deliveries: number; duplicates: number; conflicts: number }> {
  const res = await fetch(`${url}/health`);
  const body = (await res.json()) as { counters?: { deliveries: number; duplicates: number; conflicts: number } };
  if (!body.counters) throw new Error(`exfil-monitor's /health answered ${res.status} without counters: ${JSON.stringify(body)}`);
  return body.counters;
}

async function measure(
  kind: ServerKind,
  round: number,
  opts: Required<Omit<BenchWebhookOptions, "progress" | "rounds">>,
  env: Record<string, string>,
): Promise<WebhookRun> {
  const body = pushBody();
  const signature = sign(body);
  const server = await startServer(kind, env);
  const load = startLoad();
  try {
    await reply(load, "ready", () => "");
    const run = (seconds: number) => {
      const req: LoadRequest = { type: "run", url: server.url, seconds, connections: opts.connections, event: "push", body, signature };
      load.send(req);
      return reply<LoadResult>(load, "result", server.output);
    };
    // A hot JIT, open connections, the org's config cached: the steady state is what is measured.
    await run(opts.warmupSeconds);
    const before = kind === "exfil-monitor" ? await health(server.url) : undefined;
    server.child.send({ type: "start" });
    await reply(server.child, "started", server.output);
    const r = await run(opts.seconds);
    server.child.send({ type: "stop" });
    const probe = await reply<ProbeReport>(server.child, "stopped", server.output);
    if (before) {
      // Every delivery must have been new to the app and stored: a redelivery is answered without the work.
      // Those still in flight when the window closed were stored too, but autocannon drops their answers.
      const after = await health(server.url);
      const fresh = after.deliveries - before.deliveries;
      const counted = fresh >= r.deliveries && fresh <= r.deliveries + opts.connections;
      if (!counted || after.duplicates !== before.duplicates || after.conflicts !== before.conflicts) {
        throw new Error(
          `exfil-monitor answered ${r.deliveries} deliveries 2xx but counted ${fresh} new ones ` +
            `(${after.duplicates - before.duplicates} redeliveries, ${after.conflicts - before.conflicts} conflicts): the run is not comparable`,
        );
      }
    }
    const settleSeconds = probe.settleMs / 1000;
    return {
      server: kind,
      round,
      deliveries: r.deliveries,
      seconds: r.seconds,
      settleSeconds,
      perSecond: r.deliveries / (r.seconds + settleSeconds),
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      maxMs: r.maxMs,
      non2xx: r.non2xx,
      errors: r.errors,
      serverBusy: probe.utilization,
      serverCpu: probe.cpuMs / probe.windowMs,
      generatorBusy: r.generatorBusy,
    };
  } finally {
    await stop(load);
    await stop(server.child);
  }
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

export function formatRun(r: WebhookRun): string {
  return (
    `${r.server.padEnd(14)} ${r.perSecond.toFixed(0).padStart(6)} deliveries/s   ` +
    `p50 ${r.p50Ms.toFixed(1).padStart(5)} ms   p99 ${r.p99Ms.toFixed(1).padStart(6)} ms   max ${r.maxMs.toFixed(0).padStart(5)} ms   ` +
    `server busy ${pct(r.serverBusy).padStart(4)} (CPU ${r.serverCpu.toFixed(2)} cores)   generator busy ${pct(r.generatorBusy).padStart(4)}   ` +
    `settle ${(r.settleSeconds * 1000).toFixed(0)} ms   non-2xx ${r.non2xx}   errors ${r.errors}`
  );
}

/** Why no ratio can be given from these two runs, or undefined when both servers were at their limit. */
export function refusal(bare: WebhookRun, app: WebhookRun): string | undefined {
  const idle = [bare, app].filter((r) => r.serverBusy < BUSY_FLOOR);
  if (idle.length === 0) return undefined;
  return (
    idle.map((r) => `${r.server} was ${pct(r.serverBusy)} busy`).join(" and ") +
    ` (needs ≥ ${pct(BUSY_FLOOR)}): the load generator or the machine was the limit, not the server; ` +
    `run on a quieter machine or with more --connections`
  );
}

/** Alternates bare Probot and exfil-monitor `rounds` times and keeps each one's fastest round. */
export async function benchWebhook(opts: BenchWebhookOptions = {}): Promise<WebhookBenchResult> {
  const progress = opts.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settings = { seconds: opts.seconds ?? 10, warmupSeconds: opts.warmupSeconds ?? 3, connections: opts.connections ?? 16 };
  const rounds = Math.max(1, opts.rounds ?? 3);
  const github = await startFakeGitHub();
  const dir = mkdtempSync(path.join(os.tmpdir(), "exfil-bench-"));
  const all: WebhookRun[] = [];
  const best: Partial<Record<ServerKind, WebhookRun>> = {};
  try {
    for (let round = 0; round < rounds; round++) {
      for (const kind of ["bare-probot", "exfil-monitor"] as const) {
        const env: Record<string, string> =
          kind === "bare-probot"
            ? {}
            : { GHE_HOST: github.host, GHE_PROTOCOL: "http", DATABASE_PATH: path.join(dir, `round-${round}.db`), AUDIT_LOG_POLLING: "false" };
        const r = await measure(kind, round, settings, env);
        progress(`round ${round + 1}: ${formatRun(r)}`);
        all.push(r);
        const prev = best[kind];
        if (!prev || r.perSecond > prev.perSecond) best[kind] = r;
      }
    }
  } finally {
    await github.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const bare = best["bare-probot"]!;
  const app = best["exfil-monitor"]!;
  const misses: string[] = [];
  const failures: string[] = [];
  for (const r of all) {
    if (r.non2xx + r.errors > 0) failures.push(`${r.server}, round ${r.round + 1}: ${r.non2xx} answers not 2xx and ${r.errors} connection errors`);
  }
  if (app.maxMs > TARGET_SLOWEST_MS) misses.push(`slowest exfil-monitor answer took ${app.maxMs.toFixed(0)} ms (target ≤ ${TARGET_SLOWEST_MS} ms)`);
  const refused = refusal(bare, app);
  if (refused) {
    misses.push(`no webhook ratio: ${refused}`);
    return { bare, app, rounds: all, refused, misses, failures };
  }
  const ratio = app.perSecond / bare.perSecond;
  const p99Ratio = app.p99Ms / bare.p99Ms;
  if (ratio < TARGET_THROUGHPUT) misses.push(`webhook intake at ${ratio.toFixed(2)}× bare Probot's deliveries/s (target ≥ ${TARGET_THROUGHPUT})`);
  if (p99Ratio > TARGET_P99) misses.push(`webhook p99 at ${p99Ratio.toFixed(2)}× bare Probot's (target ≤ ${TARGET_P99})`);
  return { bare, app, rounds: all, ratio, p99Ratio, misses, failures };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--load")) {
    await loadChild();
    return 0;
  }
  const num = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} wants a positive number, got "${argv[i + 1]}"`);
    return n;
  };
  const seconds = num("seconds");
  const connections = num("connections");
  const rounds = num("rounds");
  const r = await benchWebhook({
    ...(seconds !== undefined ? { seconds } : {}),
    ...(connections !== undefined ? { connections } : {}),
    ...(rounds !== undefined ? { rounds } : {}),
  });
  console.log(formatRun(r.bare));
  console.log(formatRun(r.app));
  if (r.ratio !== undefined) console.log(`ratio ${r.ratio.toFixed(2)}, p99 ratio ${r.p99Ratio!.toFixed(2)}`);
  for (const m of r.misses) console.log(`MISSED: ${m}`);
  for (const f of r.failures) console.log(`FAILED: ${f}`);
  return r.misses.length + r.failures.length === 0 ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === THIS_FILE) {
  main(process.argv.slice(2)).then(
    (code) => {
      // The load child stays up for its parent's requests; everything else exits when done.
      if (!process.argv.includes("--load")) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
