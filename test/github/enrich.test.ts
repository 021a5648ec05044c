import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { fromWebhook } from "../../src/events/from-webhook.js";
import type { OrgEvent } from "../../src/events/types.js";
import { enrichEvent } from "../../src/github/enrich.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import { T0, makeEvent } from "../helpers/engine.js";
import { webhookFixture } from "../helpers/examples.js";
import { testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";

function octokit() {
  return testOctokit();
}

function memberAdded(): OrgEvent {
  const { name, payload } = webhookFixture("member.added.outsider-write");
  const [event] = fromWebhook({ name, id: "guid-1", payload, receivedAt: T0 });
  if (!event) throw new Error("fixture member.added.outsider-write did not convert");
  return event;
}

let storage: SqliteStorage | undefined;
afterEach(async () => {
  await storage?.close();
  storage = undefined;
});

function deps(warnings: unknown[] = []) {
  storage = openSqliteStorage(MEMORY);
  return { octokit: octokit(), storage, now: T0, log: { warn: (obj: object) => warnings.push(obj) } };
}

describe("enrichEvent", () => {
  it("asks GitHub and caches a user who is not an org member (404)", async () => {
    const scope = nock(API).get("/orgs/Octocoders/members/hacktocat").reply(404, { message: "Not Found" });
    const d = deps();
    const out = await enrichEvent(memberAdded(), d);
    expect(out.details.userIsOrgMember).toBe(false);
    expect(await d.storage.directory.member("Octocoders", "hacktocat")).toEqual({ isMember: false, joinedAt: null });
    // Cached: a second event makes no request (nock would refuse an unmocked one).
    expect((await enrichEvent(memberAdded(), d)).details.userIsOrgMember).toBe(false);
    expect(scope.isDone()).toBe(true);
  });

  it("asks GitHub and caches a user who is an org member (204)", async () => {
    const scope = nock(API).get("/orgs/Octocoders/members/hacktocat").reply(204);
    const d = deps();
    const out = await enrichEvent(memberAdded(), d);
    expect(out.details.userIsOrgMember).toBe(true);
    expect((await d.storage.directory.member("Octocoders", "hacktocat"))?.isMember).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it("uses what the storage already knows without a request", async () => {
    const d = deps();
    await d.storage.directory.setMember("Octocoders", "hacktocat", true, T0 - 1000, T0 - 1000);
    const out = await enrichEvent(memberAdded(), d);
    expect(out.details.userIsOrgMember).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("leaves membership unknown, caches nothing and logs when GitHub fails", async () => {
    const scope = nock(API).get("/orgs/Octocoders/members/hacktocat").reply(403, { message: "Resource not accessible by integration" });
    const warnings: unknown[] = [];
    const d = deps(warnings);
    const event = memberAdded();
    const out = await enrichEvent(event, d);
    expect(out.details.userIsOrgMember).toBeNull();
    expect(out.details.user).toBe("hacktocat");
    expect(await d.storage.directory.member("Octocoders", "hacktocat")).toBeUndefined();
    expect(warnings).toHaveLength(1);
    // The input event is not mutated.
    expect(event.details).not.toHaveProperty("userIsOrgMember");
    expect(scope.isDone()).toBe(true);
  });

  it("treats a redirect (installation cannot see private membership) as unknown, without following it", async () => {
    const scope = nock(API)
      .get("/orgs/Octocoders/members/hacktocat")
      .reply(302, "", { location: `${API}/orgs/Octocoders/public_members/hacktocat` });
    // Followed, this 404 ("not a PUBLIC member") would wrongly read as "not a member".
    const publicCheck = nock(API).get("/orgs/Octocoders/public_members/hacktocat").reply(404);
    const d = deps();
    const out = await enrichEvent(memberAdded(), d);
    expect(out.details.userIsOrgMember).toBeNull();
    expect(await d.storage.directory.member("Octocoders", "hacktocat")).toBeUndefined();
    expect(scope.isDone()).toBe(true);
    expect(publicCheck.isDone()).toBe(false);
  });

  it("leaves membership unknown when the network is down", async () => {
    const scope = nock(API).get("/orgs/Octocoders/members/hacktocat").replyWithError("socket hang up");
    const out = await enrichEvent(memberAdded(), deps());
    expect(out.details.userIsOrgMember).toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it("passes other events, and member events without org or user, through untouched", async () => {
    const d = deps();
    const push = makeEvent({ action: "push", details: { user: "hacktocat" } });
    expect(await enrichEvent(push, d)).toBe(push);
    const noOrg = makeEvent({ action: "member.added", org: null, details: { user: "hacktocat" } });
    expect(await enrichEvent(noOrg, d)).toBe(noOrg);
    const known = makeEvent({ action: "member.added", details: { user: "hacktocat", userIsOrgMember: false } });
    expect(await enrichEvent(known, d)).toBe(known);
    expect(nock.pendingMocks()).toEqual([]);
  });
});
