// The app behind a real HTTP server on 127.0.0.1: signatures, every example payload GitHub publishes, and
// the /health route.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createNodeMiddleware, Probot } from "probot";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readEnv } from "../../src/config/env.js";
import { createApp } from "../../src/index.js";
import type { Runtime } from "../../src/app/runtime.js";
import { MEMORY } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
import { deliver, testPrivateKey, WEBHOOK_SECRET } from "../helpers/app-process.js";
import { allExamples, webhookFixture } from "../helpers/examples.js";
import { TestProbotOctokit } from "../helpers/github.js";

let server: http.Server;
let url: string;
let store: Store;
let runtime: Runtime;

beforeAll(async () => {
  store = Store.open(MEMORY);
  const probot = new Probot({
    appId: 1,
    privateKey: testPrivateKey(),
    secret: WEBHOOK_SECRET,
    logLevel: "fatal",
    Octokit: TestProbotOctokit,
  });
  const middleware = await createNodeMiddleware(
    createApp({ store, env: readEnv({}), jobs: false, alertWriteSpacingMs: 0, onRuntime: (r) => (runtime = r) }),
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
  store.close();
});

function deliveryCount(): number {
  return (store.db.prepare("SELECT count(*) AS n FROM deliveries").get() as { n: number }).n;
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
    expect(store.listFindings()).toEqual([]);
  });

  it("accepts the same delivery correctly signed", async () => {
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    const res = await deliver(url, name, "signed-1", payload);
    expect(res.status).toBe(200);
    await runtime.idle();
    expect(store.listFindings().map((f) => f.detector)).toEqual(["personal-fork"]);
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
    const prepare = vi.spyOn(store.db, "prepare").mockImplementation(() => {
      throw new Error("SQLITE_IOERR: disk I/O error");
    });
    const res = await fetch(`${url}/health`);
    prepare.mockRestore();
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ status: "error", database: expect.stringContaining("SQLITE_IOERR") });
  });
});
