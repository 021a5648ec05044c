// The live audit-log path end to end: the periodic job polls an org's audit log, the poller stores the new
// entries, the runtime runs the detectors and files the issue; the same pass sweeps the org.
import { Octokit } from "@octokit/rest";
import Bottleneck from "bottleneck";
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Jobs } from "../../src/app/jobs.js";
import { Runtime } from "../../src/app/runtime.js";
import { AuditLogPoller } from "../../src/github/audit-log.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import { T0 } from "../helpers/engine.js";
import { silentLog } from "../helpers/github.js";

const API = "https://api.github.com";

let storage: SqliteStorage;
let runtime: Runtime;
let jobs: Jobs;

beforeEach(() => {
  storage = openSqliteStorage(MEMORY);
  const octokit = new Octokit({ auth: "ghs_test" }) as unknown as OctokitLike;
  const octokitFor = async () => octokit;
  runtime = new Runtime({ storage, log: silentLog, octokitFor, now: () => T0, alertWriteSpacingMs: 0 });
  const poller = new AuditLogPoller({
    storage,
    log: silentLog,
    now: () => T0,
    limiter: new Bottleneck(),
    sleep: async () => {},
    onEvents: () => runtime.kick(),
    notice: (n) => runtime.alerts.reportNotice(n),
  });
  jobs = new Jobs({
    runtime,
    log: silentLog,
    poller,
    octokitFor,
    alertFlushMs: 60_000,
    now: () => T0,
    listInstallations: async () => [{ org: "acme", installationId: 1 }],
  });
});

afterEach(async () => {
  await runtime.idle();
  await storage.close();
});

describe("a polling pass over an org", () => {
  it("turns a repository made public in the audit log into one filed issue, and sweeps the org", async () => {
    const filed: { labels: string[]; title: string }[] = [];
    const gh = nock(API)
      .get("/repos/acme/.github/contents/.github%2Fexfil-monitor.yml")
      .reply(404, { message: "Not Found" })
      .get("/orgs/acme/audit-log")
      .query((q) => q.include === "all" && q.order === "asc" && String(q.phrase).startsWith("created:>="))
      .reply(200, [
        {
          "@timestamp": T0 - 60_000,
          created_at: T0 - 60_000,
          _document_id: "doc-1",
          action: "repo.access",
          actor: "jonas",
          actor_location: { country_code: "DE" },
          org: "acme",
          repo: "acme/payments",
          visibility: "public",
          previous_visibility: "private",
        },
      ])
      .get("/orgs/acme/repos")
      .query(true)
      .reply(200, [])
      .get("/orgs/acme")
      .reply(200, { login: "acme", members_can_fork_private_repositories: false })
      .get("/repos/acme/security-alerts")
      .reply(200, { full_name: "acme/security-alerts", private: true, visibility: "private" })
      .get("/users/jonas")
      .reply(200, { login: "jonas", created_at: "2016-05-01T00:00:00Z" })
      .post("/repos/acme/security-alerts/issues", (body) => {
        filed.push(body);
        return true;
      })
      .reply(201, { number: 12 });

    await jobs.tickOrgs();
    await runtime.idle();

    expect(gh.pendingMocks()).toEqual([]);
    expect(filed).toHaveLength(1);
    expect(filed[0]!.labels).toEqual(expect.arrayContaining(["detector:repo-made-public", "severity:high"]));
    expect((await storage.findings.list()).map((f) => [f.fingerprint, f.issueNumber])).toEqual([["repo-made-public:acme/payments", 12]]);
  });
});

describe("the list of installations", () => {
  it("is asked of GitHub at most every 10 minutes, not on every one-minute tick", async () => {
    let now = T0;
    let asked = 0;
    const ticking = new Jobs({
      runtime,
      log: silentLog,
      poller: null,
      octokitFor: async () => new Octokit({ auth: "ghs_test" }) as unknown as OctokitLike,
      alertFlushMs: 60_000,
      now: () => now,
      listInstallations: async () => {
        asked += 1;
        return [];
      },
    });
    for (let minute = 0; minute < 15; minute++) {
      await ticking.tickOrgs();
      now += 60_000;
    }
    expect(asked).toBe(2);
  });
});
