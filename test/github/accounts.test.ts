import nock from "nock";
import { describe, expect, it } from "vitest";
import type { OctokitLike } from "../../src/github/octokit.js";
import { accountCreatedAt } from "../../src/github/accounts.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import { DAY, T0 } from "../helpers/engine.js";
import { testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const CREATED = "2026-09-28T09:00:00Z";

function setup() {
  const storage = openSqliteStorage(MEMORY);
  const octokit = testOctokit();
  return { storage, octokit: octokit as unknown as OctokitLike };
}

describe("accountCreatedAt", () => {
  it("reads created_at and caches it for a week", async () => {
    const { storage, octokit } = setup();
    const scope = nock(API).get("/users/mallory").reply(200, { login: "mallory", created_at: CREATED });
    expect(await accountCreatedAt("mallory", { octokit, storage, now: T0 })).toBe(Date.parse(CREATED));
    expect(await accountCreatedAt("Mallory", { octokit, storage, now: T0 + 6 * DAY })).toBe(Date.parse(CREATED));
    expect(scope.isDone()).toBe(true);
    expect(await storage.directory.account("mallory")).toEqual({ createdAt: Date.parse(CREATED), checkedAt: T0 });
  });

  it("asks again after 7 days", async () => {
    const { storage, octokit } = setup();
    await storage.directory.setAccount("mallory", Date.parse("2010-01-01T00:00:00Z"), T0 - 8 * DAY);
    const scope = nock(API).get("/users/mallory").reply(200, { login: "mallory", created_at: CREATED });
    expect(await accountCreatedAt("mallory", { octokit, storage, now: T0 })).toBe(Date.parse(CREATED));
    expect(scope.isDone()).toBe(true);
  });

  it("answers undefined (not known) on a failure and does not cache it", async () => {
    const { storage, octokit } = setup();
    const scope = nock(API)
      .get("/users/mallory")
      .reply(500, {})
      .get("/users/mallory")
      .reply(200, { created_at: "not a date" })
      .get("/users/mallory")
      .reply(200, { created_at: CREATED });
    expect(await accountCreatedAt("mallory", { octokit, storage, now: T0 })).toBeUndefined();
    expect(await storage.directory.account("mallory")).toBeUndefined();
    expect(await accountCreatedAt("mallory", { octokit, storage, now: T0 })).toBeUndefined();
    expect(await storage.directory.account("mallory")).toBeUndefined();
    expect(await accountCreatedAt("mallory", { octokit, storage, now: T0 })).toBe(Date.parse(CREATED));
    expect(scope.isDone()).toBe(true);
  });

  it("caches a missing account as null", async () => {
    const { storage, octokit } = setup();
    const scope = nock(API).get("/users/ghost-1").reply(404, { message: "Not Found" });
    expect(await accountCreatedAt("ghost-1", { octokit, storage, now: T0 })).toBeNull();
    expect(await accountCreatedAt("ghost-1", { octokit, storage, now: T0 + DAY })).toBeNull();
    expect(scope.isDone()).toBe(true);
    expect(await storage.directory.account("ghost-1")).toEqual({ createdAt: null, checkedAt: T0 });
  });
});
