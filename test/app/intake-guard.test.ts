// The public webhook URL under attack, against the real app in its own process (`src/main.ts`, default log
// level) over real HTTP: forged bodies larger than GitHub ever sends are answered 413 without being read or
// logged, the process's memory and the log stay flat, and a signed delivery without an id is refused.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sign, startAppProcess, type AppProcess } from "../helpers/app-process.js";
import { webhookFixture } from "../helpers/examples.js";
import { startFakeGitHub, type FakeGitHub } from "../helpers/fake-github.js";
import { rawPost } from "../helpers/raw-http.js";

let dir: string;
let github: FakeGitHub;
let app: AppProcess;
let hook: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "exfil-intake-"));
  github = await startFakeGitHub();
  // LOG_LEVEL empty means unset: the default level, info.
  app = await startAppProcess({ databasePath: path.join(dir, "exfil-monitor.db"), githubHost: github.host, extraEnv: { LOG_LEVEL: "" } });
  hook = `${app.url}/api/github/webhooks`;
}, 40_000);

afterAll(async () => {
  await app?.kill();
  await github?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Resident memory and its peak since the last reset, in bytes (Linux /proc). */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

/** Starts a new peak measurement at the current resident size. */
function resetPeak(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** Well-formed webhook headers with a signature made with another secret: what anyone can send. */
function forged(id: string): Record<string, string> {
  return { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": sign("{}", "not-the-secret") };
}

function logLinesSince(offset: number): Record<string, unknown>[] {
  return app
    .output()
    .slice(offset)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const MB = 1000 * 1000;

describe("forged posts larger than GitHub's cap", () => {

  it("are answered 413 without being read, in flat memory and a small log", async () => {
    const pid = app.child.pid!;
    // The refusal path runs once before anything is measured.
    expect((await rawPost(hook, { headers: forged("warm-up"), size: 1000 })).status).toBe(400);
    const logStart = app.output().length;

    // No Content-Length (GitHub always sends one): refused from the headers, before a byte of body is read.
    resetPeak(pid);
    let before = memory(pid).rss;
    const chunked = await rawPost(hook, { headers: forged("flood-chunked"), size: 30 * MB, chunked: true, fill: 0x7a });
    expect(chunked.status).toBe(411);
    expect(chunked.ms).toBeLessThan(1000);
    expect(memory(pid).peak - before).toBeLessThan(50 * MB);

    // Twenty declared 30 MB bodies: refused from the headers alone, before a byte of body is read.
    resetPeak(pid);
    before = memory(pid).rss;
    for (let i = 0; i < 20; i++) {
      const res = await rawPost(hook, { headers: forged(`flood-${i}`), size: 30 * MB, fill: 0x7a });
      expect(res.status).toBe(413);
      expect(res.ms).toBeLessThan(1000);
      expect(JSON.parse(res.body)).toEqual({ error: expect.stringContaining("larger than") });
    }
    expect(memory(pid).peak - before).toBeLessThan(50 * MB);

    const health = (await (await fetch(`${app.url}/health`)).json()) as { counters: { refused: number; deliveries: number } };
    expect(health.counters).toMatchObject({ refused: 22, deliveries: 0 });

    const logged = app.output().slice(logStart);
    expect(logged.length).toBeLessThan(10_000);
    expect(logged).not.toContain("zzzzzzzz");
    // The first refusals of a minute are logged one by one (the rest are summed up later), without a body.
    const lines = logLinesSince(logStart);
    expect(lines.find((l) => l.reason === "length-required")).toMatchObject({ delivery: "flood-chunked", event: "push", status: 411, bytes: 0 });
    const declared = lines.filter((l) => l.reason === "too-large");
    expect(declared.length).toBeGreaterThanOrEqual(8);
    for (const line of declared) expect(line).toMatchObject({ event: "push", contentLength: 30 * MB, bytes: 0, status: 413 });
  }, 60_000);

  it("are refused on every spelling of the webhook path, so no other handler reads them", async () => {
    const pid = app.child.pid!;
    const logStart = app.output().length;
    resetPeak(pid);
    const before = memory(pid).rss;
    const spellings = [
      "/api/github/x/../webhooks",
      "/api/github/%2e/webhooks",
      "/api/github/%2E%2E/github/webhooks",
      "/api/github/webhooks/",
      "/api/github/webhooks//",
      "/api/github/webhooks?x=1",
      "/api/github/./webhooks#f",
    ];
    for (const rawPath of spellings) {
      const res = await rawPost(hook, { headers: forged(`spelling-${rawPath}`), size: 30 * MB, fill: 0x7a, rawPath });
      expect({ rawPath, status: res.status }).toEqual({ rawPath, status: 413 });
    }
    expect(memory(pid).peak - before).toBeLessThan(50 * MB);
    expect(app.output().length - logStart).toBeLessThan(10_000);
  }, 60_000);
});

describe("a signed delivery", () => {
  it("without X-GitHub-Delivery, or with an empty one, is refused with 400 and nothing is stored", async () => {
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    const body = JSON.stringify(payload);
    const headers = { "content-type": "application/json", "x-github-event": name, "x-hub-signature-256": sign(body) };
    const missing = await fetch(hook, { method: "POST", headers, body });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ error: expect.stringContaining("X-GitHub-Delivery") });
    const empty = await fetch(hook, { method: "POST", headers: { ...headers, "x-github-delivery": "" }, body });
    expect(empty.status).toBe(400);

    const health = (await (await fetch(`${app.url}/health`)).json()) as { counters: { deliveries: number } };
    expect(health.counters.deliveries).toBe(0);
  });
});
