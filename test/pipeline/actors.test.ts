// The actor check against a mocked GitHub: a young account raises its finding once, with the reason; an old
// or missing account only marks it checked; a failed lookup leaves it for the next pass; and a finding held
// below alerts.min_severity is filed once the check raised it.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { AlertDispatcher } from "../../src/alerts/dispatcher.js";
import type { OrgEvent } from "../../src/events/types.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { MAX_CHECKS_PER_PASS, checkActors } from "../../src/pipeline/actors.js";
import type { ConfigInput } from "../../src/config/schema.js";
import { DAY, MINUTE, T0, makeConfig, makeEngine, makeEvent } from "../helpers/engine.js";
import { silentLog, testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const REPO = "/repos/acme/security-alerts";
const FP = "personal-fork:acme/api->mallory/api";
/** Four days and an hour before T0 (2026-10-02T10:00Z). */
const YOUNG = { login: "mallory", created_at: new Date(T0 - 4 * DAY - 3_600_000).toISOString() };
const OLD = { login: "mallory", created_at: "2015-03-01T00:00:00Z" };
const REASON = "mallory's GitHub account was created on 2026-09-28, 4 days before";

function fork(over: Partial<OrgEvent> = {}, owner = "mallory"): OrgEvent {
  return makeEvent({
    action: "fork",
    source: "webhook",
    repo: "acme/api",
    visibility: "private",
    installationId: 42,
    details: { forkFullName: `${owner}/api`, forkOwner: owner, forkOwnerType: "User" },
    ...over,
  });
}

/** Rated medium, so a finding raised twice would show (high once, critical twice). */
const MEDIUM: ConfigInput = { detectors: { "personal-fork": { severity: "medium" } } };

function setup(input: ConfigInput = {}) {
  const t = makeEngine(input);
  const warnings: string[] = [];
  const installations: number[] = [];
  const ctx = { now: T0 + 2 * MINUTE, failInstallation: null as number | null };
  const pass = () =>
    checkActors({
      storage: t.storage,
      octokitFor: async (installationId) => {
        installations.push(installationId);
        if (installationId === ctx.failInstallation) throw new Error("installation suspended");
        return testOctokit() as unknown as OctokitLike;
      },
      now: ctx.now,
      log: { warn: (_obj, msg) => warnings.push(msg) },
    });
  const finding = async (fp = FP) => (await t.storage.findings.get("org:acme", fp))!;
  return { ...t, warnings, installations, ctx, pass, finding };
}

describe("checkActors", () => {
  it("raises a finding whose actor's account was younger than 30 days once, with the reason", async () => {
    const t = setup();
    await t.run(fork());
    expect((await t.finding()).severity).toBe("high");
    const scope = nock(API).get("/users/mallory").reply(200, YOUNG);

    expect(await t.pass()).toBe(1);
    expect(scope.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "critical", raisedReason: REASON, actorChecked: true });
    // The answer is cached where the engine finds it for later events.
    expect(await t.storage.directory.account("mallory")).toEqual({ createdAt: Date.parse(YOUNG.created_at), checkedAt: T0 + 2 * MINUTE });

    // Checked: a second pass asks nothing (an unmocked request would fail) and raises nothing.
    expect(await t.pass()).toBe(0);
    expect(await t.storage.findings.actorsToCheck(10)).toEqual([]);
    expect((await t.finding()).severity).toBe("critical");
  });

  it("marks a finding whose actor's account is old checked, at its severity", async () => {
    const t = setup();
    await t.run(fork());
    const scope = nock(API).get("/users/mallory").reply(200, OLD);
    expect(await t.pass()).toBe(0);
    expect(scope.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: null, actorChecked: true });
  });

  it("marks a finding checked when its actor's account does not exist (404)", async () => {
    const t = setup();
    await t.run(fork());
    const scope = nock(API).get("/users/mallory").reply(404, { message: "Not Found" });
    expect(await t.pass()).toBe(0);
    expect(scope.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: null, actorChecked: true });
    expect(await t.storage.directory.account("mallory")).toEqual({ createdAt: null, checkedAt: T0 + 2 * MINUTE });
  });

  it("leaves a finding unchecked when the lookup fails (500), and raises it on the next pass", async () => {
    const t = setup();
    await t.run(fork());
    const failing = nock(API).get("/users/mallory").reply(500, { message: "boom" });
    expect(await t.pass()).toBe(0);
    expect(failing.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "high", actorChecked: false });
    expect(await t.storage.directory.account("mallory")).toBeUndefined();
    expect(t.warnings.some((w) => w.includes("checked on the next pass"))).toBe(true);

    t.ctx.now = T0 + 10 * MINUTE;
    const ok = nock(API).get("/users/mallory").reply(200, YOUNG);
    expect(await t.pass()).toBe(1);
    expect(ok.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "critical", raisedReason: REASON, actorChecked: true });
  });

  it("ends the pass at a failed lookup: the findings after it wait for the next pass", async () => {
    const t = setup();
    await t.run(fork(), fork({ actor: "eve" }, "eve"));
    const eveFp = "personal-fork:acme/api->eve/api";
    const failing = nock(API).get("/users/mallory").reply(502, {});
    const eve = nock(API).get("/users/eve").reply(200, { login: "eve", created_at: OLD.created_at });
    expect(await t.pass()).toBe(0);
    expect(failing.isDone()).toBe(true);
    expect(eve.isDone()).toBe(false);
    expect((await t.finding(eveFp)).actorChecked).toBe(false);

    nock(API).get("/users/mallory").reply(200, OLD);
    expect(await t.pass()).toBe(0);
    expect(eve.isDone()).toBe(true);
    expect((await t.storage.findings.list()).map((f) => f.actorChecked)).toEqual([true, true]);
  });

  it("does not raise a finding the engine already raised", async () => {
    const t = setup(MEDIUM);
    // Known before the event: the engine raised the finding when it recorded it.
    await t.storage.directory.setAccount("mallory", Date.parse(YOUNG.created_at), T0);
    await t.run(fork());
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: REASON, actorChecked: false });

    // The cached answer is fresh: no request (an unmocked one would fail and leave the finding unchecked).
    expect(await t.pass()).toBe(0);
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: REASON, actorChecked: true });
  });

  it("does not raise twice a finding raised for a new member", async () => {
    const t = setup(MEDIUM);
    await t.storage.directory.setMember("acme", "mallory", true, T0 - 2 * DAY, T0 - 2 * DAY);
    await t.run(fork());
    const raised = await t.finding();
    expect(raised.severity).toBe("high");
    expect(raised.raisedReason).toContain("joined acme");

    const scope = nock(API).get("/users/mallory").reply(200, YOUNG);
    expect(await t.pass()).toBe(0);
    expect(scope.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: raised.raisedReason, actorChecked: true });
  });

  it("marks an offline finding (no installation) checked without asking GitHub", async () => {
    const t = setup();
    await t.run(fork({ installationId: null }));
    expect(await t.pass()).toBe(0);
    expect(t.installations).toEqual([]);
    expect(await t.finding()).toMatchObject({ severity: "high", actorChecked: true });
  });

  it("leaves an installation it cannot act as for later without holding back the others", async () => {
    const t = setup();
    t.ctx.failInstallation = 42;
    await t.run(fork(), fork({ installationId: 43, actor: "eve" }, "eve"));
    const scope = nock(API).get("/users/eve").reply(200, { login: "eve", created_at: YOUNG.created_at });
    expect(await t.pass()).toBe(1);
    expect(scope.isDone()).toBe(true);
    expect(t.installations).toEqual([42, 43]);
    expect(await t.finding()).toMatchObject({ severity: "high", actorChecked: false });
    expect(await t.finding("personal-fork:acme/api->eve/api")).toMatchObject({ severity: "critical", actorChecked: true });
    expect(t.warnings.some((w) => w.includes("could not act as the installation"))).toBe(true);
  });

  it("gives up on a finding whose actor could not be looked up for a day, at its severity", async () => {
    const t = setup();
    await t.run(fork());
    t.ctx.now = T0 + DAY;
    const failing = nock(API).get("/users/mallory").reply(500, {});
    expect(await t.pass()).toBe(0);
    expect(failing.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: null, actorChecked: true });
    expect(t.warnings.some((w) => w.includes("for a day"))).toBe(true);
  });

  it(`asks GitHub ${MAX_CHECKS_PER_PASS} times per pass at most, and checks findings of known accounts without asking`, async () => {
    const t = setup();
    const owner = (i: number) => `user-${i}`;
    for (let i = 0; i <= MAX_CHECKS_PER_PASS; i++) {
      await t.run(fork({ actor: owner(i), details: { forkFullName: `${owner(i)}/api`, forkOwner: owner(i), forkOwnerType: "User" } }, owner(i)));
    }
    // Twenty findings of one account already known: checked from the directory, no lookup spent on them.
    await t.storage.directory.setAccount("mallory", Date.parse(OLD.created_at), T0);
    for (let i = 0; i < 20; i++) {
      await t.run(fork({ details: { forkFullName: `mallory/api-${i}`, forkOwner: "mallory", forkOwnerType: "User" } }));
    }
    const asked: string[] = [];
    nock(API)
      .get(/^\/users\/user-\d+$/)
      .times(MAX_CHECKS_PER_PASS + 1)
      .reply(200, (uri) => {
        asked.push(uri);
        return { login: uri.split("/").pop(), created_at: OLD.created_at };
      });
    await t.pass();
    expect(asked).toHaveLength(MAX_CHECKS_PER_PASS);
    expect((await t.storage.findings.actorsToCheck(100)).map((f) => f.actor)).toEqual([owner(MAX_CHECKS_PER_PASS)]);
    await t.pass();
    expect(asked).toHaveLength(MAX_CHECKS_PER_PASS + 1);
    expect(await t.storage.findings.actorsToCheck(100)).toHaveLength(0);
  });

  it("passes over the findings of an installation it cannot act as, and checks the others' behind them", async () => {
    const t = setup();
    for (let i = 0; i < 60; i++) {
      await t.run(fork({ installationId: 7, details: { forkFullName: `mallory/old-${i}`, forkOwner: "mallory", forkOwnerType: "User" } }));
    }
    await t.run(fork({ actor: "eve", details: { forkFullName: "eve/api", forkOwner: "eve", forkOwnerType: "User" } }, "eve"));
    t.ctx.failInstallation = 7;
    const scope = nock(API).get("/users/eve").reply(200, { login: "eve", created_at: OLD.created_at });
    await t.pass();
    expect(scope.isDone()).toBe(true);
    expect((await t.storage.findings.actorsToCheck(100)).every((f) => f.installationId === 7)).toBe(true);
  });

  it("gets a finding held below alerts.min_severity filed once the check raised it to the threshold", async () => {
    const t = setup();
    await t.run(fork());
    const config = makeConfig({ alerts: { min_severity: "critical" } });
    const dispatcher = new AlertDispatcher({
      storage: t.storage,
      log: silentLog,
      now: () => t.ctx.now,
      octokitFor: async () => testOctokit() as unknown as OctokitLike,
      configFor: async () => config,
      sleep: async () => {},
    });
    // Below the threshold: held, and nothing is asked of GitHub (an unmocked request would fail).
    expect(await dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 0 });
    expect(await t.storage.findings.alertQueue()).toEqual([]);

    nock(API).get("/users/mallory").reply(200, YOUNG);
    expect(await t.pass()).toBe(1);
    let posted: { title: string; body: string } | undefined;
    const scope = nock(API)
      .get(REPO)
      .reply(200, { private: true, visibility: "private" })
      .post(`${REPO}/issues`, (b: typeof posted) => {
        posted = b;
        return true;
      })
      .reply(201, { number: 3 });
    expect(await dispatcher.flush()).toMatchObject({ filed: 1, pending: 0 });
    expect(scope.isDone()).toBe(true);
    expect(posted?.title.startsWith("[CRITICAL] ")).toBe(true);
    expect(posted?.body).toContain("created on 2026-09-28, 4 days before");
    expect(await t.finding()).toMatchObject({ issueNumber: 3, severity: "critical" });
  });
});
