// The app behind a real HTTP server on 127.0.0.1: signatures, what GitHub never sends, redeliveries, every
// example payload GitHub publishes, and the /health route.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createNodeMiddleware, Probot } from "probot";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readEnv } from "../../src/config/env.js";
import { createApp } from "../../src/index.js";
import type { Runtime } from "../../src/app/runtime.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import type { Storage } from "../../src/store/storage.js";
import { deliver, sign, testPrivateKey, WEBHOOK_SECRET } from "../helpers/app-process.js";
import { allExamples, examplePayload, webhookFixture } from "../helpers/examples.js";
import { TestProbotOctokit } from "../helpers/github.js";
import { rawPost } from "../helpers/raw-http.js";

let server: http.Server;
let url: string;
let storage: SqliteStorage;
let runtime: Runtime;
let probot: Probot;

/** Deliveries the app has recorded, counted as its units of work record them (every delivery is recorded in one). */
let recorded = 0;

/** Hands every unit of work of `s` a changed `tx` (a repository that fails, say). */
function alterUnits(s: Storage, alter: (tx: Storage) => Storage): void {
  const original = s.unitOfWork.bind(s);
  s.unitOfWork = (fn) => original((tx) => fn(alter(tx)));
}

beforeAll(async () => {
  storage = openSqliteStorage(MEMORY);
  alterUnits(storage, (tx) => ({
    ...tx,
    deliveries: {
      ...tx.deliveries,
      record: async (d) => {
        const fresh = await tx.deliveries.record(d);
        if (fresh) recorded += 1;
        return fresh;
      },
    },
  }));
  probot = new Probot({
    appId: 1,
    privateKey: testPrivateKey(),
    secret: WEBHOOK_SECRET,
    logLevel: "fatal",
    Octokit: TestProbotOctokit,
  });
  const middleware = await createNodeMiddleware(
    createApp({ storage, env: readEnv({ WEBHOOK_SECRET }), jobs: false, alertWriteSpacingMs: 0, onRuntime: (r) => (runtime = r) }),
    { probot },
  );
  server = http.createServer((req, res) => {
    void middleware(req, res, () => res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await runtime.idle();
  await new Promise((resolve) => server.close(resolve));
  await storage.close();
});

function deliveryCount(): number {
  return recorded;
}

describe("webhook signatures", () => {
  it("refuses a delivery signed with another secret, and one with no signature, changing nothing", async () => {
    const before = deliveryCount();
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    const forged = await deliver(url, name, "forged-1", payload, "not-the-secret");
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);

    const unsigned = await fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": name, "x-github-delivery": "unsigned-1" },
      body: JSON.stringify(payload),
    });
    expect(unsigned.status).toBeGreaterThanOrEqual(400);
    expect(unsigned.status).toBeLessThan(500);

    expect(deliveryCount()).toBe(before);
    expect(await storage.deliveries.bodySha256("forged-1")).toBeUndefined();
    expect(await storage.deliveries.bodySha256("unsigned-1")).toBeUndefined();
    expect(await storage.findings.list()).toEqual([]);
  });

  it("accepts the same delivery correctly signed", async () => {
    const before = deliveryCount();
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    const res = await deliver(url, name, "signed-1", payload);
    expect(res.status).toBe(200);
    await runtime.idle();
    expect(deliveryCount()).toBe(before + 1);
    expect((await storage.findings.list()).map((f) => f.detector)).toEqual(["personal-fork"]);
  });
});

describe("every example payload GitHub publishes", () => {
  it("is answered 2xx", async () => {
    const examples = allExamples();
    expect(examples.length).toBeGreaterThan(300);
    const failures: string[] = [];
    let i = 0;
    for (const { name, payload } of examples) {
      const res = await deliver(url, name, `example-${i++}`, payload);
      await res.arrayBuffer();
      if (res.status < 200 || res.status > 299) failures.push(`${name}.${String(payload.action ?? "")}: ${res.status}`);
    }
    expect(failures).toEqual([]);
    await runtime.idle();
    expect(runtime.counters.processingErrors).toBe(0);
  });
});

describe("GET /health", () => {
  it("answers 200 with the database up", async () => {
    const res = await fetch(`${url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", database: "ok" });
  });

  it("answers 503 naming the problem when the database is not usable", async () => {
    const ping = vi.spyOn(storage, "ping").mockRejectedValue(new Error("SQLITE_IOERR: disk I/O error"));
    const res = await fetch(`${url}/health`);
    ping.mockRestore();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "error", database: expect.stringContaining("SQLITE_IOERR") });
  });
});

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Every log call the app made while `fn` ran, each as one string (fields and message). */
async function logsDuring(fn: () => Promise<void>): Promise<{ level: string; text: string }[]> {
  const calls: { level: string; text: string }[] = [];
  const spies = (["debug", "info", "warn", "error"] as const).map((level) =>
    vi.spyOn(probot.log, level).mockImplementation(((obj: unknown, msg?: unknown) => {
      calls.push({ level, text: JSON.stringify([obj, msg], (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)) });
    }) as never),
  );
  try {
    await fn();
  } finally {
    for (const s of spies) s.mockRestore();
  }
  return calls;
}

describe("what GitHub never sends", () => {
  const post = (headers: Record<string, string>, body: string, method = "POST") =>
    fetch(`${url}/api/github/webhooks`, { method, headers, ...(method === "POST" ? { body } : {}) });
  const payload = JSON.stringify(examplePayload("push"));
  const good = { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "refused-1", "x-hub-signature-256": sign(payload) };

  it("never writes a request body to the log, forged, unparsable or failing to store", async () => {
    const marker = "BODY-MARKER-7f3a";
    const body = JSON.stringify({ ...examplePayload("push"), marker });
    const logs = await logsDuring(async () => {
      expect((await post({ ...good, "x-github-delivery": "log-1", "x-hub-signature-256": sign(body, "not-the-secret") }, body)).status).toBe(400);
      const unparsable = `${marker}{`;
      expect((await post({ ...good, "x-github-delivery": "log-2", "x-hub-signature-256": sign(unparsable) }, unparsable)).status).toBe(400);
      const counting = storage.unitOfWork.bind(storage);
      const failing = vi
        .spyOn(storage, "unitOfWork")
        .mockImplementation((fn) =>
          counting((tx) => fn({ ...tx, deliveries: { ...tx.deliveries, record: () => Promise.reject(new Error("SQLITE_FULL: database or disk is full")) } })),
        );
      try {
        expect((await post({ ...good, "x-github-delivery": "log-3", "x-hub-signature-256": sign(body) }, body)).status).toBe(500);
      } finally {
        failing.mockRestore();
      }
    });
    expect(logs.filter((l) => l.level === "warn" || l.level === "error").length).toBeGreaterThanOrEqual(3);
    for (const l of logs) expect(l.text).not.toContain(marker);
    // What is logged instead: the delivery id, the event, the size and the reason.
    expect(logs.find((l) => l.text.includes("log-1"))?.text).toMatch(/"event":"push".*"bytes":\d+.*"reason":"signature-mismatch"/);
  });

  it("refuses a signed delivery without X-GitHub-Delivery, or with an empty one, with 400", async () => {
    const before = deliveryCount();
    const { "x-github-delivery": _id, ...noId } = good;
    for (const headers of [noId, { ...good, "x-github-delivery": "" }, { ...good, "x-github-delivery": "has spaces" }]) {
      const res = await post(headers, payload);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: expect.stringContaining("X-GitHub-Delivery") });
    }
    expect(deliveryCount()).toBe(before);
  });

  it("refuses another method, content type, event name or signature format, and a signed body that is not a JSON object", async () => {
    const before = deliveryCount();
    expect((await post(good, "", "GET")).status).toBe(405);
    expect((await post({ ...good, "content-type": "application/x-www-form-urlencoded" }, payload)).status).toBe(415);
    expect((await post({ ...good, "x-github-event": "Push Event" }, payload)).status).toBe(400);
    expect((await post({ ...good, "x-hub-signature-256": "sha1=abc" }, payload)).status).toBe(400);
    for (const body of ["[1,2]", "null", "{not json"]) {
      const res = await post({ ...good, "x-hub-signature-256": sign(body) }, body);
      expect(res.status).toBe(400);
    }
    expect(deliveryCount()).toBe(before);
  });

  it("answers a declared body over GitHub's cap 413 before reading it", async () => {
    const res = await rawPost(`${url}/api/github/webhooks`, { headers: good, size: 30 * 1000 * 1000 });
    expect(res.status).toBe(413);
    // The answer came while the body was still being sent: it was not waited for.
    expect(res.sent).toBeLessThan(30 * 1000 * 1000);
  });
});

describe("a delivery id seen again", () => {
  const first = examplePayload("push");
  const bodyA = JSON.stringify(first);
  const bodyB = JSON.stringify({ ...first, after: "0000000000000000000000000000000000000000" });
  const send = (id: string, body: string) =>
    fetch(`${url}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": sign(body) },
      body,
    });

  it("with the same body is a quiet redelivery", async () => {
    const logs = await logsDuring(async () => {
      expect((await send("again-1", bodyA)).status).toBe(200);
      expect((await send("again-1", bodyA)).status).toBe(200);
    });
    expect(logs.filter((l) => l.level === "warn")).toEqual([]);
    expect(await storage.deliveries.bodySha256("again-1")).toBe(sha256(bodyA));
    expect((await storage.deliveries.conflicts()).filter((c) => c.deliveryId === "again-1")).toEqual([]);
  });

  it("with a different body is logged at warn with both body hashes and kept as evidence, not processed", async () => {
    let eventsAfterFirst = 0;
    const logs = await logsDuring(async () => {
      expect((await send("again-2", bodyA)).status).toBe(200);
      eventsAfterFirst = await storage.events.count();
      expect((await send("again-2", bodyB)).status).toBe(200);
      expect((await send("again-2", bodyB)).status).toBe(200);
    });
    const warnings = logs.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(2);
    for (const w of warnings) {
      expect(w.text).toContain("different body");
      expect(w.text).toContain(`"firstSha256":"${sha256(bodyA)}"`);
      expect(w.text).toContain(`"sha256":"${sha256(bodyB)}"`);
    }
    expect((await storage.deliveries.conflicts()).filter((c) => c.deliveryId === "again-2")).toEqual([
      expect.objectContaining({
        name: "push",
        firstBodySha256: sha256(bodyA),
        bodySha256: sha256(bodyB),
        bodyBytes: Buffer.byteLength(bodyB),
        body: bodyB,
        times: 2,
      }),
    ]);
    // The different body's events were not stored.
    expect(await storage.events.count()).toBe(eventsAfterFirst);
    expect(runtime.counters.conflicts).toBe(2);
  });
});
