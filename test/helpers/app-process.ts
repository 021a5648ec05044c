// Runs the real app (`src/main.ts`) in a child process on 127.0.0.1, against a fake GitHub, so tests can
// sign deliveries, kill it hard and start it again on the same database.
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync } from "node:crypto";
import net from "node:net";
import path from "node:path";

export const WEBHOOK_SECRET = "e2e-secret";

let cachedKey: string | undefined;
/** A throwaway RSA key so Probot can sign app JWTs; never written to disk. */
export function testPrivateKey(): string {
  cachedKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  return cachedKey;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function sign(body: string, secret = WEBHOOK_SECRET): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

export interface AppProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startAppProcess(opts: { databasePath: string; githubHost: string; port?: number; extraEnv?: Record<string, string> }): Promise<AppProcess> {
  const port = opts.port ?? (await freePort());
  const root = path.resolve(import.meta.dirname, "../..");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "test",
    APP_ID: "1",
    PRIVATE_KEY: testPrivateKey(),
    WEBHOOK_SECRET,
    HOST: "127.0.0.1",
    PORT: String(port),
    GHE_HOST: opts.githubHost,
    GHE_PROTOCOL: "http",
    DATABASE_PATH: opts.databasePath,
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    AUDIT_LOG_POLLING: "false",
    ALERT_FLUSH_SECONDS: "1",
    ...opts.extraEnv,
  };
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "src/main.ts")], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`app exited early (${child.exitCode}):\n${out}`);
    const r = await fetch(`${url}/health`).catch(() => null);
    return r?.status === 200;
  }, 30_000, () => out);
  return {
    url,
    child,
    output: () => out,
    kill: (signal = "SIGKILL") =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill(signal);
      }),
  };
}

export async function deliver(url: string, name: string, id: string, payload: unknown, secret = WEBHOOK_SECRET): Promise<Response> {
  const body = JSON.stringify(payload);
  return fetch(`${url}/api/github/webhooks`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": id,
      "x-hub-signature-256": sign(body, secret),
    },
    body,
  });
}

/** Polls `check` until it returns true; the deadline only guards against a hung test, it is not a measurement. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, context?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${context ? `\n${context()}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
