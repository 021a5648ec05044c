// End to end through Probot: real deliveries in (probot.receive), GitHub mocked with nock, issues out.
import nock from "nock";
import { Probot } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readEnv } from "../../src/config/env.js";
import { createApp } from "../../src/index.js";
import type { Runtime } from "../../src/app/runtime.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import { T0 } from "../helpers/engine.js";
import { webhookFixture } from "../helpers/examples.js";
import { testPrivateKey } from "../helpers/app-process.js";
import { TestProbotOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const ORG = "Octocoders";
const CONFIG_PATH = `/repos/${ORG}/.github/contents/.github%2Fexfil-monitor.yml`;
const ALERTS = `/repos/${ORG}/security-alerts`;

let storage: SqliteStorage;
let runtime: Runtime;
let probot: Probot;
let unmatched: string[];

function onNoMatch(req: { method?: string; path?: string }) {
  unmatched.push(`${req.method} ${req.path}`);
}

beforeEach(async () => {
  unmatched = [];
  nock.emitter.on("no match", onNoMatch);
  storage = openSqliteStorage(MEMORY);
  probot = new Probot({
    appId: 1,
    privateKey: testPrivateKey(),
    secret: "test",
    logLevel: (process.env.TEST_LOG_LEVEL as "fatal") ?? "fatal",
    Octokit: TestProbotOctokit,
  });
  await probot.load(
    createApp({
      storage,
      env: readEnv({}),
      jobs: false,
      alertWriteSpacingMs: 0,
      now: () => T0,
      onRuntime: (r) => (runtime = r),
    }),
  );
});

afterEach(async () => {
  await runtime.idle();
  nock.emitter.removeListener("no match", onNoMatch);
  await storage.close();
});

function configFile(yaml: string | null) {
  const scope = nock(API).get(CONFIG_PATH);
  return yaml === null
    ? scope.reply(404, { message: "Not Found" })
    : scope.reply(200, { type: "file", encoding: "base64", content: Buffer.from(yaml).toString("base64") });
}

/** Token, config file, account lookup and a private alerts repo: what filing one issue needs. */
function githubFor(opts: { yaml?: string | null; sender?: string } = {}) {
  const sender = opts.sender ?? "mallory";
  const scope = nock(API)
    .post("/app/installations/1/access_tokens")
    .reply(201, { token: "ghs_test", expires_at: "2030-01-01T00:00:00Z", permissions: {} })
    .get(`/users/${sender}`)
    .reply(200, { login: sender, created_at: "2015-01-01T00:00:00Z" });
  // Every flush checks that the alerts repository is still private before writing to it.
  nock(API).get(ALERTS).reply(200, { full_name: `${ORG}/security-alerts`, private: true, visibility: "private" }).persist();
  configFile(opts.yaml ?? null);
  return scope;
}

async function receive(file: string, id: string) {
  const { name, payload } = webhookFixture(file);
  await probot.receive({ id, name, payload } as never);
  await runtime.idle();
}

/** Markdown with code spans and HTML comments removed: what GitHub would interpret. */
function outsideCode(body: string): string {
  return body.replace(/<!--[\s\S]*?-->/g, "").replace(/`[^`\n]*`/g, "");
}

describe("a fork of a private repository into a personal account", () => {
  it("files exactly one issue with the detector and severity labels", async () => {
    const created: { title: string; body: string; labels: string[] }[] = [];
    const scope = githubFor();
    nock(API)
      .post(`${ALERTS}/issues`, (body) => {
        created.push(body);
        return true;
      })
      .reply(201, { number: 7 });

    await receive("fork.private-org-to-user", "delivery-1");

    expect(scope.isDone()).toBe(true);
    expect(unmatched).toEqual([]);
    expect(created).toHaveLength(1);
    expect(created[0]!.labels).toEqual(expect.arrayContaining(["exfil-monitor", "severity:high", "detector:personal-fork"]));
    expect(created[0]!.title).toContain("HIGH");
    expect(await storage.findings.list()).toHaveLength(1);
    expect((await storage.findings.list())[0]).toMatchObject({ issueNumber: 7, detector: "personal-fork" });
  });

  it("files nothing new for the same delivery again or the same incident under a new delivery id", async () => {
    githubFor();
    nock(API).post(`${ALERTS}/issues`).reply(201, { number: 7 });
    await receive("fork.private-org-to-user", "delivery-1");
    expect(nock.pendingMocks()).toEqual([]);

    await receive("fork.private-org-to-user", "delivery-1");
    await receive("fork.private-org-to-user", "delivery-2");
    await runtime.alerts.flush();

    expect(unmatched).toEqual([]);
    expect(runtime.counters).toMatchObject({ deliveries: 2, duplicates: 1 });
    const [finding] = await storage.findings.list();
    expect(await storage.findings.list()).toHaveLength(1);
    expect(finding!.issueNumber).toBe(7);
  });

  it("files no finding in dry-run mode, only the notice that dry-run took effect", async () => {
    const created: { title: string; labels: string[] }[] = [];
    githubFor({ yaml: "mode: dry-run\n" });
    nock(API)
      .post(`${ALERTS}/issues`, (body) => {
        created.push(body);
        return true;
      })
      .reply(201, { number: 3 });
    await receive("fork.private-org-to-user", "delivery-1");
    await runtime.alerts.flush();
    expect(unmatched.filter((r) => r.startsWith("POST /repos"))).toEqual([]);
    expect(created.map((c) => c.labels)).toEqual([["exfil-monitor", "config-change"]]);
    expect((await storage.findings.list())[0]?.issueNumber).toBeNull();
    nock.cleanAll();
  });
});

describe("a broken config file", () => {
  it("is reported once in the alerts repo and detection goes on with the defaults", async () => {
    const created: { title: string; body: string; labels: string[] }[] = [];
    githubFor({ yaml: "mode: loud\nalerts:\n  repo: security-alerts\n  colour: red\n" });
    nock(API)
      .post(`${ALERTS}/issues`, (body) => {
        created.push(body);
        return true;
      })
      .times(2)
      .reply(201, () => ({ number: created.length }));

    await receive("fork.private-org-to-user", "delivery-1");
    await runtime.alerts.flush();

    expect(unmatched).toEqual([]);
    const report = created.find((c) => c.labels.includes("config-error"));
    expect(report?.body).toContain("alerts.colour");
    expect(report?.body).toContain("mode");
    expect(created.filter((c) => c.labels.includes("detector:personal-fork"))).toHaveLength(1);
  });
});

describe("a deploy key with a hostile title", () => {
  it("is filed with the title rendered inert", async () => {
    const created: { title: string; body: string; labels: string[] }[] = [];
    const { payload } = webhookFixture("deploy_key.created.hostile-title-write");
    const sender = (payload.sender as { login: string }).login;
    githubFor({ sender });
    nock(API)
      .post(`${ALERTS}/issues`, (body) => {
        created.push(body);
        return true;
      })
      .reply(201, { number: 1 });

    await receive("deploy_key.created.hostile-title-write", "delivery-key");

    expect(unmatched).toEqual([]);
    expect(created).toHaveLength(1);
    const issue = created[0]!;
    expect(issue.labels).toContain("detector:deploy-key-added");
    expect(issue.body).toContain("img src=x");
    const live = outsideCode(issue.body);
    expect(live).not.toContain("@everyone");
    expect(live).not.toMatch(/<img/i);
    expect(live).not.toContain("](https://evil");
    expect(issue.title).not.toMatch(/[\r\n]/);
  });
});

describe("an alerts repository that errors", () => {
  it("leaves the finding pending and files it once GitHub answers", async () => {
    nock(API)
      .post("/app/installations/1/access_tokens")
      .reply(201, { token: "ghs_test", expires_at: "2030-01-01T00:00:00Z", permissions: {} })
      .get("/users/mallory")
      .reply(200, { login: "mallory", created_at: "2015-01-01T00:00:00Z" });
    configFile(null);
    nock(API).get(ALERTS).reply(502, { message: "Bad Gateway" });

    await receive("fork.private-org-to-user", "delivery-1");
    expect((await storage.findings.list())[0]?.issueNumber).toBeNull();

    nock(API)
      .get(ALERTS)
      .reply(200, { full_name: `${ORG}/security-alerts`, private: true, visibility: "private" })
      .post(`${ALERTS}/issues`)
      .reply(201, { number: 3 });
    await runtime.alerts.flush();
    await runtime.alerts.flush();

    expect(nock.pendingMocks()).toEqual([]);
    expect(unmatched).toEqual([]);
    expect((await storage.findings.list())[0]?.issueNumber).toBe(3);
  });
});
