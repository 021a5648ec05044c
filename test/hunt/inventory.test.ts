import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { sweepInventory } from "../../src/hunt/inventory.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import { HOUR, T0 } from "../helpers/engine.js";
import { testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const repo = (id: number, name: string, visibility = "private") => ({
  id,
  node_id: `R_${id}`,
  full_name: `acme/${name}`,
  private: visibility !== "public",
  visibility,
});
const next = (page: number) =>
  `<${API}/organizations/1/repos?type=all&per_page=100&page=${page}>; rel="next", <${API}/organizations/1/repos?type=all&per_page=100&page=${page}>; rel="last"`;
const query = (page: number) => ({ type: "all", per_page: "100", page: String(page) });

let storage: SqliteStorage;
const octokit = () =>
  testOctokit();
const sweep = (now: number) => sweepInventory({ octokit: octokit(), storage, org: "acme", installationId: 7, now });
/** What the app does with a sweep's events: store them, so the next sweep does not hand them back. */
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

/** Baseline: two pages, three repositories. */
async function baseline() {
  const scope = nock(API, { badheaders: ["if-none-match"] })
    .get("/orgs/acme/repos")
    .query(query(1))
    .reply(200, [repo(3, "web"), repo(2, "api")], { etag: '"p1-v1"', link: next(2) })
    .get("/orgs/acme/repos")
    .query(query(2))
    .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v1"' });
  const events = await sweep(T0);
  expect(scope.isDone()).toBe(true);
  return events;
}

describe("sweepInventory", () => {
  it("records the first listing as a baseline, following the link header, and reports nothing", async () => {
    expect(await baseline()).toEqual([]);
    expect((await storage.sweeps.inventory("acme")).map((r) => [r.id, r.fullName, r.visibility, r.goneAt])).toEqual([
      [1, "acme/old", "internal", null],
      [2, "acme/api", "private", null],
      [3, "acme/web", "private", null],
    ]);
  });

  it("turns a repository gone since the last sweep into one sweep.repo_missing event", async () => {
    await baseline();
    const scope = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .matchHeader("if-none-match", '"p1-v1"')
      .reply(200, [repo(3, "web")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' })
      .get("/repositories/2")
      .reply(404, { message: "Not Found" });
    const events = await accept(await sweep(T0 + HOUR));
    expect(scope.isDone()).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: `sweep:repo_missing:acme/api:R_2:${T0 + HOUR}`,
      source: "sweep",
      action: "sweep.repo_missing",
      at: T0 + HOUR,
      org: "acme",
      actor: null,
      repo: "acme/api",
      visibility: "private",
      installationId: 7,
    });
    expect((await storage.sweeps.inventory("acme")).find((r) => r.id === 2)?.goneAt).toBe(T0 + HOUR);

    // Unchanged pages answer 304 and the missing repository is not reported again.
    const quiet = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .matchHeader("if-none-match", '"p1-v2"')
      .reply(304)
      .get("/orgs/acme/repos")
      .query(query(2))
      .matchHeader("if-none-match", '"p2-v2"')
      .reply(304);
    expect(await sweep(T0 + 2 * HOUR)).toEqual([]);
    expect(quiet.isDone()).toBe(true);
  });

  it("answers nothing on a 304 and fetches no second page", async () => {
    const first = nock(API).get("/orgs/acme/repos").query(query(1)).reply(200, [repo(2, "api")], { etag: '"v1"' });
    await sweep(T0);
    expect(first.isDone()).toBe(true);
    // Only one interceptor: a request for page 2 would fail the sweep (the network is closed).
    const scope = nock(API).get("/orgs/acme/repos").query(query(1)).matchHeader("if-none-match", '"v1"').reply(304);
    expect(await sweep(T0 + HOUR)).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("catches an old repository removed from a later page while the first page is unchanged", async () => {
    await baseline();
    const scope = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .matchHeader("if-none-match", '"p1-v1"')
      .reply(304)
      .get("/orgs/acme/repos")
      .query(query(2))
      .matchHeader("if-none-match", '"p2-v1"')
      .reply(200, [], { etag: '"p2-v2"' })
      // Page 1's content is needed to compare, so the listing starts over without ETags.
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web"), repo(2, "api")], { etag: '"p1-v1"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [], { etag: '"p2-v2"' })
      .get("/repositories/1")
      .reply(404, { message: "Not Found" });
    const events = await sweep(T0 + HOUR);
    expect(scope.isDone()).toBe(true);
    expect(events.map((e) => [e.repo, e.visibility])).toEqual([["acme/old", "internal"]]);
  });

  it("a repository missed by a shifting listing but still in the org is not reported", async () => {
    await baseline();
    const scope = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' })
      .get("/repositories/2")
      .reply(200, { ...repo(2, "api"), owner: { login: "acme", type: "Organization" } });
    expect(await sweep(T0 + HOUR)).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect((await storage.sweeps.inventory("acme")).every((r) => r.goneAt === null)).toBe(true);
  });

  it("a renamed repository is the same repository, not a missing one", async () => {
    await baseline();
    const scope = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web"), repo(2, "api-v2")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' });
    expect(await sweep(T0 + HOUR)).toEqual([]);
    expect(scope.isDone()).toBe(true);
    expect((await storage.sweeps.inventory("acme")).find((r) => r.id === 2)?.fullName).toBe("acme/api-v2");
  });

  it("tells where a repository went when the app can still see it", async () => {
    await baseline();
    const scope = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' })
      .get("/repositories/2")
      .reply(200, { id: 2, node_id: "R_2", full_name: "mallory/api", visibility: "public", owner: { login: "mallory", type: "User" } });
    const [event] = await sweep(T0 + HOUR);
    expect(scope.isDone()).toBe(true);
    expect(event?.details).toMatchObject({ newOwner: "mallory", newOwnerType: "User", extra: { new_nwo: "mallory/api" } });
    // The event names the repository as the org knew it.
    expect(event?.repo).toBe("acme/api");
  });

  it("decides nothing when the lookup fails, and lists without ETags next time", async () => {
    await baseline();
    const failing = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' })
      .get("/repositories/2")
      .reply(502, { message: "Bad Gateway" });
    expect(await sweep(T0 + HOUR)).toEqual([]);
    expect(failing.isDone()).toBe(true);

    const retry = nock(API, { badheaders: ["if-none-match"] })
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' })
      .get("/repositories/2")
      .reply(404, { message: "Not Found" });
    const events = await sweep(T0 + 2 * HOUR);
    expect(retry.isDone()).toBe(true);
    expect(events.map((e) => e.repo)).toEqual(["acme/api"]);
  });

  it("hands back an event that never reached the storage, even when the listing is unchanged", async () => {
    await baseline();
    nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(200, [repo(3, "web")], { etag: '"p1-v2"', link: next(2) })
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(200, [repo(1, "old", "internal")], { etag: '"p2-v2"' })
      .get("/repositories/2")
      .reply(404, { message: "Not Found" });
    const lost = await sweep(T0 + HOUR);
    expect(lost).toHaveLength(1);

    const scope = nock(API)
      .get("/orgs/acme/repos")
      .query(query(1))
      .reply(304)
      .get("/orgs/acme/repos")
      .query(query(2))
      .reply(304);
    const again = await accept(await sweep(T0 + 2 * HOUR));
    expect(scope.isDone()).toBe(true);
    expect(again.map((e) => e.id)).toEqual(lost.map((e) => e.id));
  });

  it("fails with a message that tells the fix, and keeps the stored inventory", async () => {
    await baseline();
    nock(API).get("/orgs/acme/repos").query(query(1)).reply(404, { message: "Not Found" });
    await expect(sweep(T0 + HOUR)).rejects.toThrow(/no longer installed/);
    expect(await storage.sweeps.inventory("acme")).toHaveLength(3);
  });
});
