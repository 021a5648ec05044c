import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { sweepOrgSettings } from "../../src/hunt/org-settings.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import { HOUR, T0, makeEngine } from "../helpers/engine.js";
import { testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const org = (fork: boolean) => ({
  login: "acme",
  id: 1,
  members_can_fork_private_repositories: fork,
  members_can_create_public_repositories: false,
  two_factor_requirement_enabled: true,
});

let storage: SqliteStorage;
const sweep = (now: number) =>
  sweepOrgSettings({
    octokit: testOctokit(),
    storage,
    org: "acme",
    installationId: 7,
    now,
  });
const accept = async (events: OrgEvent[]) => {
  await storage.events.add(events);
  return events;
};

beforeEach(() => {
  storage = openSqliteStorage(MEMORY);
});
afterEach(async () => {
  await storage.close();
});

describe("sweepOrgSettings", () => {
  it("turns the first read into one sweep.org_settings event with the watched booleans", async () => {
    const scope = nock(API, { badheaders: ["if-none-match"] }).get("/orgs/acme").reply(200, org(true), { etag: '"o1"' });
    const events = await accept(await sweep(T0));
    expect(scope.isDone()).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      source: "sweep",
      action: "sweep.org_settings",
      at: T0,
      org: "acme",
      actor: null,
      installationId: 7,
      details: {
        extra: {
          members_can_fork_private_repositories: true,
          members_can_create_public_repositories: false,
          two_factor_requirement_enabled: true,
        },
      },
    });
    expect(events[0]?.id).toMatch(/^sweep:org_settings:acme:[0-9a-f]{16}:1$/);
  });

  it("makes no new event while nothing changes: a 304 with the stored ETag, or the same values", async () => {
    nock(API).get("/orgs/acme").reply(200, org(false), { etag: '"o1"' });
    await accept(await sweep(T0));
    const scope = nock(API)
      .get("/orgs/acme")
      .matchHeader("if-none-match", '"o1"')
      .reply(304)
      .get("/orgs/acme")
      .matchHeader("if-none-match", '"o1"')
      .reply(200, { ...org(false), description: "edited" }, { etag: '"o2"' });
    expect(await sweep(T0 + HOUR)).toEqual([]);
    expect(await sweep(T0 + 2 * HOUR)).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("a change is a new event, and so is changing it back", async () => {
    nock(API)
      .get("/orgs/acme")
      .reply(200, org(false), { etag: '"o1"' })
      .get("/orgs/acme")
      .reply(200, org(true), { etag: '"o2"' })
      .get("/orgs/acme")
      .reply(200, org(false), { etag: '"o3"' })
      .get("/orgs/acme")
      .reply(200, org(true), { etag: '"o4"' });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(...(await accept(await sweep(T0 + i * HOUR))).map((e) => e.id));
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("hands back an event that never reached the storage", async () => {
    nock(API).get("/orgs/acme").reply(200, org(true), { etag: '"o1"' }).get("/orgs/acme").reply(304);
    const lost = await sweep(T0);
    const again = await sweep(T0 + HOUR);
    expect(again).toEqual(lost);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("makes no event when GitHub hides the settings (missing permission)", async () => {
    const scope = nock(API).get("/orgs/acme").reply(200, { login: "acme", id: 1 }, { etag: '"o1"' });
    expect(await sweep(T0)).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("fails with a message that tells the fix", async () => {
    const scope = nock(API).get("/orgs/acme").reply(404, { message: "Not Found" });
    await expect(sweep(T0)).rejects.toThrow(/no longer installed/);
    expect(scope.isDone()).toBe(true);
  });

  it("feeds forking-policy-changed: forking turned on between two sweeps is one medium finding", async () => {
    nock(API)
      .get("/orgs/acme")
      .reply(200, org(false), { etag: '"o1"' })
      .get("/orgs/acme")
      .reply(200, org(true), { etag: '"o2"' })
      .get("/orgs/acme")
      .reply(304);
    const t = makeEngine();
    await storage.close();
    storage = t.storage;
    // The engine harness stores each event it runs, as the app does with a sweep's events.
    for (let i = 0; i < 3; i++) await t.run(...(await sweep(T0 + i * HOUR)));
    expect(nock.pendingMocks()).toEqual([]);
    expect((await t.findings("forking-policy-changed")).map((f) => [f.subject, f.severity])).toEqual([["acme:2026-10-02", "medium"]]);
  });
});
