import { createHash } from "node:crypto";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { AlertDispatcher } from "../../src/alerts/dispatcher.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import type { Config, ConfigInput } from "../../src/config/schema.js";
import type { OrgEvent } from "../../src/events/types.js";
import { judgeBatch } from "../../src/pipeline/judge.js";
import { DAY, MINUTE, T0, makeConfig, makeEngine, makeEvent } from "../helpers/engine.js";
import { testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const REPO = "/repos/acme/security-alerts";
const FP = "personal-fork:acme/api->mallory/api";
const MARKER = `<!-- exfil-monitor:fp:${createHash("sha256").update(FP).digest("hex")} -->`;

function fork(over: Partial<OrgEvent> = {}): OrgEvent {
  return makeEvent({
    action: "fork",
    source: "webhook",
    repo: "acme/api",
    visibility: "private",
    installationId: 42,
    details: { forkFullName: "mallory/api", forkOwner: "mallory", forkOwnerType: "User" },
    ...over,
  });
}

interface LogLine {
  level: string;
  obj: unknown;
  msg: string;
}

function setup(input: ConfigInput = {}) {
  const t = makeEngine();
  const logs: LogLine[] = [];
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      logs.push(typeof obj === "string" ? { level, obj: {}, msg: obj } : { level, obj, msg: msg ?? "" });
    };
  const octokit = testOctokit();
  const ctx = {
    config: makeConfig(input) as Config,
    now: T0 + 2 * MINUTE,
    configCalls: 0,
    sleeps: 0,
    onConfig: undefined as (() => Promise<void>) | undefined,
  };
  const dispatcher = new AlertDispatcher({
    storage: t.storage,
    log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") },
    now: () => ctx.now,
    octokitFor: async () => octokit as unknown as OctokitLike,
    configFor: async () => {
      ctx.configCalls += 1;
      await ctx.onConfig?.();
      return ctx.config;
    },
    sleep: async () => {
      ctx.sleeps += 1;
    },
  });
  const finding = async () => (await t.storage.findings.get("org:acme", FP))!;
  return { ...t, logs, ctx, dispatcher, finding };
}

const privateRepo = () => nock(API).get(REPO).reply(200, { full_name: "acme/security-alerts", private: true, visibility: "private" });

describe("AlertDispatcher", () => {
  it("files exactly one issue with the right labels, and nothing on the next flush", async () => {
    const t = setup({ alerts: { labels: ["security"] } });
    await t.run(fork());
    let posted: { title: string; body: string; labels: string[] } | undefined;
    const scope = privateRepo()
      .post(`${REPO}/issues`, (b: typeof posted) => {
        posted = b;
        return true;
      })
      .reply(201, { number: 7 });

    expect(await t.dispatcher.flush()).toEqual({ filed: 1, commented: 0, pending: 0, dryRun: 0 });
    expect(posted?.title).toBe("[HIGH] acme/api forked into personal account mallory");
    expect(posted?.labels).toEqual(["exfil-monitor", "severity:high", "detector:personal-fork", "security"]);
    expect(posted?.body).toContain(MARKER);
    // Filing leaves the actor check to pipeline/actors.ts: the finding is filed as recorded.
    expect(await t.finding()).toMatchObject({ issueRepo: "acme/security-alerts", issueNumber: 7, filedSeq: 1, severity: "high", actorChecked: false });

    // Nothing is mocked now: any request would fail and leave the finding pending.
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 0 });
    expect(scope.isDone()).toBe(true);
  });

  it("adds new evidence as one comment", async () => {
    const t = setup();
    await t.run(fork());
    const first = privateRepo().post(`${REPO}/issues`).reply(201, { number: 7 });
    await t.dispatcher.flush();
    expect(first.isDone()).toBe(true);

    await t.run(fork({ source: "sweep", at: T0 + DAY }));
    let comment = "";
    const second = privateRepo()
      .post(`${REPO}/issues/7/comments`, (b: { body: string }) => {
        comment = b.body;
        return true;
      })
      .reply(201, { id: 1 });
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 1, pending: 0, dryRun: 0 });
    expect(comment).toContain("**1 new event**");
    expect(comment).toContain("`sweep`");
    expect((await t.finding()).filedSeq).toBe(await t.storage.findings.maxEvidenceSeq((await t.finding()).id));
    expect(await t.dispatcher.flush()).toMatchObject({ commented: 0, pending: 0 });
    expect(second.isDone()).toBe(true);
  });

  it("sends nothing in dry-run mode and logs each finding once, then once per new evidence", async () => {
    const t = setup({ mode: "dry-run" });
    await t.run(fork());
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 1 });
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 0 });
    const wouldFile = t.logs.filter((l) => l.msg.startsWith("dry-run: would file"));
    expect(wouldFile).toHaveLength(1);
    expect(wouldFile[0]?.obj).toMatchObject({
      title: "[HIGH] acme/api forked into personal account mallory",
      labels: ["exfil-monitor", "severity:high", "detector:personal-fork"],
    });

    await t.run(fork({ source: "sweep", at: T0 + DAY }));
    expect(await t.dispatcher.flush()).toMatchObject({ dryRun: 1 });
    expect(await t.dispatcher.flush()).toMatchObject({ dryRun: 0 });
    expect(t.logs.filter((l) => l.msg.startsWith("dry-run: would comment"))).toHaveLength(1);
    expect((await t.finding()).issueNumber).toBeNull();
  });

  it("keeps findings pending while the alerts repository is missing, and files them once it exists", async () => {
    const t = setup();
    await t.run(fork());
    const missing = nock(API).get(REPO).reply(404, { message: "Not Found" });
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 1, dryRun: 0 });
    expect(missing.isDone()).toBe(true);
    const warning = t.logs.find((l) => l.level === "warn");
    expect(warning?.msg).toContain("create it as a PRIVATE repository");
    expect(warning?.msg).toContain("alerts.repo");

    const later = privateRepo().post(`${REPO}/issues`).reply(201, { number: 1 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1, pending: 0 });
    expect(later.isDone()).toBe(true);
  });

  it("keeps a finding pending after a server error and files it on the next flush without a duplicate", async () => {
    const t = setup();
    await t.run(fork());
    const failing = privateRepo().post(`${REPO}/issues`).reply(500, { message: "boom" });
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 1, dryRun: 0 });
    expect(failing.isDone()).toBe(true);
    expect((await t.finding()).lastError).toContain("500");
    expect((await t.finding()).filingStartedAt).toBe(T0 + 2 * MINUTE);

    // GitHub may have created the issue before failing: look for it first, then create it.
    t.ctx.now = T0 + 30 * MINUTE;
    const retry = privateRepo()
      .get(`${REPO}/issues`)
      .query({ labels: "exfil-monitor", state: "all", since: new Date(T0 - 8 * MINUTE).toISOString(), per_page: "100" })
      .reply(200, [])
      .post(`${REPO}/issues`)
      .reply(201, { number: 2 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1, pending: 0 });
    expect(retry.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ issueNumber: 2, lastError: null, filingStartedAt: null });
  });

  it("refuses to file in a public alerts repository", async () => {
    const t = setup();
    await t.run(fork());
    const scope = nock(API).get(REPO).reply(200, { private: false, visibility: "public" });
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 1, dryRun: 0 });
    expect(scope.isDone()).toBe(true);
    const refusal = t.logs.find((l) => l.level === "error");
    expect(refusal?.msg).toContain("REFUSED");
    expect(refusal?.msg).toContain("Make acme/security-alerts private");
    expect((await t.finding()).issueNumber).toBeNull();
  });

  it("adopts the issue of an interrupted filing instead of filing a duplicate", async () => {
    const t = setup();
    await t.run(fork());
    await t.storage.findings.markFilingStarted((await t.finding()).id, T0 + MINUTE);
    const scope = privateRepo()
      .get(`${REPO}/issues`)
      .query({ labels: "exfil-monitor", state: "all", since: new Date(T0 - 9 * MINUTE).toISOString(), per_page: "100" })
      .reply(200, [
        { number: 3, body: "unrelated <!-- exfil-monitor:fp:00 -->", user: { type: "Bot" } },
        // Someone who can write to the repository planted the marker: not ours.
        { number: 4, body: `${MARKER}\n<!-- exfil-monitor:seq:1 -->`, user: { type: "User" } },
        { number: 5, body: `${MARKER}\n<!-- exfil-monitor:seq:1 -->\n## What happened`, user: { type: "Bot" } },
      ]);
    expect(await t.dispatcher.flush()).toEqual({ filed: 1, commented: 0, pending: 0, dryRun: 0 });
    expect(scope.isDone()).toBe(true);
    expect(await t.finding()).toMatchObject({ issueNumber: 5, filedSeq: 1, filingStartedAt: null });
  });

  it("holds findings below alerts.min_severity without re-examining them, and files them when the threshold drops", async () => {
    const t = setup({ alerts: { min_severity: "high" }, detectors: { "personal-fork": { severity: "low" } } });
    await judgeBatch([{ event: fork(), config: t.ctx.config }], {
      storage: t.storage,
      engine: t.engine,
      record: "stored",
      onEventError: (_event, err) => {
        throw err;
      },
    });
    expect((await t.finding()).severity).toBe("low");
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 0 });
    expect(await t.storage.findings.alertQueue()).toHaveLength(0);

    t.ctx.config = makeConfig({ alerts: { min_severity: "low" }, detectors: { "personal-fork": { severity: "low" } } });
    const scope = privateRepo()
      .post(`${REPO}/issues`, (b: { labels: string[] }) => b.labels.includes("severity:low"))
      .reply(201, { number: 9 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1 });
    expect(scope.isDone()).toBe(true);
  });

  it("never changes a finding's severity when filing it, even for an actor whose account is young", async () => {
    const t = setup();
    await t.run(fork());
    // Learned after the finding was recorded: raising for it is the actor check's work (pipeline/actors.ts).
    await t.storage.directory.setAccount("mallory", T0 - 4 * DAY, T0);
    const lookup = nock(API).get("/users/mallory").reply(200, { login: "mallory", created_at: new Date(T0 - 4 * DAY).toISOString() });
    let posted: { title: string; labels: string[] } | undefined;
    const scope = privateRepo()
      .post(`${REPO}/issues`, (b: typeof posted) => {
        posted = b;
        return true;
      })
      .reply(201, { number: 8 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1, pending: 0 });
    expect(scope.isDone()).toBe(true);
    expect(lookup.isDone()).toBe(false);
    expect(posted?.title.startsWith("[HIGH] ")).toBe(true);
    expect(posted?.labels).toContain("severity:high");
    expect(await t.finding()).toMatchObject({ severity: "high", raisedReason: null, actorChecked: false, issueNumber: 8 });
  });

  it("stops an org's run at a rate limit and keeps the rest pending", async () => {
    const t = setup();
    await t.run(fork(), fork({ details: { forkFullName: "eve/api", forkOwner: "eve", forkOwnerType: "User" }, actor: "eve" }));
    const scope = privateRepo()
      .post(`${REPO}/issues`)
      .reply(403, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "60" });
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 2, dryRun: 0 });
    expect(scope.isDone()).toBe(true);
    expect(t.logs.some((l) => l.level === "warn" && l.msg.includes("rate limit"))).toBe(true);
  });

  it("paces writes", async () => {
    const t = setup();
    await t.run(fork(), fork({ details: { forkFullName: "eve/api", forkOwner: "eve", forkOwnerType: "User" }, actor: "eve" }));
    const scope = privateRepo().post(`${REPO}/issues`).reply(201, { number: 1 }).post(`${REPO}/issues`).reply(201, { number: 2 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 2 });
    expect(scope.isDone()).toBe(true);
    expect(t.ctx.sleeps).toBe(1);
  });

  it("files the finding again when its issue was deleted", async () => {
    const t = setup();
    await t.run(fork());
    await t.storage.findings.markFiled((await t.finding()).id, "acme/security-alerts", 7, 0);
    let body = "";
    const scope = privateRepo()
      .post(`${REPO}/issues/7/comments`)
      .reply(404, { message: "Not Found" })
      .post(`${REPO}/issues`, (b: { body: string }) => {
        body = b.body;
        return true;
      })
      .reply(201, { number: 12 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1, pending: 0 });
    expect(scope.isDone()).toBe(true);
    expect(body).toContain("filed before as `acme/security-alerts#7`");
    expect((await t.finding()).issueNumber).toBe(12);
  });

  it("files again when its issue was locked, instead of holding back the org's other alerts", async () => {
    const t = setup();
    await t.run(fork());
    await t.storage.findings.markFiled((await t.finding()).id, "acme/security-alerts", 7, 0);
    await t.run(fork({ details: { forkFullName: "eve/api", forkOwner: "eve", forkOwnerType: "User" } }));
    const other = (await t.storage.findings.get("org:acme", "personal-fork:acme/api->eve/api"))!;
    const bodies: string[] = [];
    const scope = privateRepo()
      .post(`${REPO}/issues/7/comments`)
      .reply(403, { message: "Unable to create comment because issue is locked." })
      .post(`${REPO}/issues`, (b: { body: string }) => {
        bodies.push(b.body);
        return true;
      })
      .reply(201, { number: 12 })
      .post(`${REPO}/issues`, (b: { body: string }) => {
        bodies.push(b.body);
        return true;
      })
      .reply(201, { number: 13 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 2, pending: 0 });
    expect(scope.isDone()).toBe(true);
    expect(bodies[0]).toContain("filed before as `acme/security-alerts#7`");
    expect((await t.finding()).issueNumber).toBe(12);
    expect((await t.storage.findings.getById(other.id))?.issueNumber).toBe(13);
  });

  it("still stops the org when a 403 on a comment is a missing permission", async () => {
    const t = setup();
    await t.run(fork());
    await t.storage.findings.markFiled((await t.finding()).id, "acme/security-alerts", 7, 0);
    const scope = privateRepo()
      .post(`${REPO}/issues/7/comments`)
      .reply(403, { message: "Resource not accessible by integration" })
      .post(`${REPO}/issues`)
      .reply(403, { message: "Resource not accessible by integration" });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 0, pending: 1 });
    expect(scope.isDone()).toBe(true);
    expect((await t.finding()).issueNumber).toBe(7);
    expect((await t.finding()).lastError).toContain("Issues: write");
  });

  it("runs one flush at a time and coalesces requests made during a run into one more run", async () => {
    const t = setup({ mode: "dry-run" });
    await t.run(fork());
    const a = t.dispatcher.flush();
    const b = t.dispatcher.flush();
    const c = t.dispatcher.flush();
    expect(b).toBe(c);
    expect(await a).toMatchObject({ dryRun: 1 });
    expect(await b).toMatchObject({ dryRun: 0 });
    expect(t.ctx.configCalls).toBe(2);
  });

  it("skips offline findings", async () => {
    const t = setup();
    await t.run(fork({ installationId: null }));
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 0 });
    expect(t.ctx.configCalls).toBe(0);
  });
});

describe("reportNotice", () => {
  const notice = { org: "acme", installationId: 42, key: "config:abc", title: "the config file has errors", body: "Line 2: unknown key." };

  it("files a notice once per org and key", async () => {
    const t = setup();
    let posted: { title: string; labels: string[]; body: string } | undefined;
    const scope = privateRepo()
      .post(`${REPO}/issues`, (b: typeof posted) => {
        posted = b;
        return true;
      })
      .reply(201, { number: 30 });
    await t.dispatcher.reportNotice({ ...notice, quote: "alerts:\n  repo: ```x```\n" });
    await t.dispatcher.reportNotice(notice);
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 0 });
    expect(scope.isDone()).toBe(true);
    expect(posted?.labels).toEqual(["exfil-monitor", "config-error"]);
    expect(posted?.title).toBe("exfil-monitor: the config file has errors");
    expect(posted?.body).toContain("````yaml\nalerts:\n  repo: ```x```\n````");
    expect(await t.storage.notices.configReport("acme", "config:abc")).toEqual({ issueNumber: 30 });
  });

  it("stores the notice before its first await, so a caller that does not wait for it can count on it", async () => {
    const t = setup();
    const missing = nock(API).get(REPO).reply(404, {});
    const filing = t.dispatcher.reportNotice(notice);
    // Asked right after the call returned, before anything else ran: what the config service relies on when
    // it saves a new version as the last good one right after reporting what the version weakens.
    const stored = t.storage.notices.pending();
    expect((await stored).map((n) => n.key)).toEqual(["config:abc"]);
    await filing;
    expect(missing.isDone()).toBe(true);
    expect(await t.storage.notices.configReport("acme", "config:abc")).toEqual({ issueNumber: null });
  });

  it("keeps a notice that cannot be filed now and files it on a later flush", async () => {
    const t = setup();
    const missing = nock(API).get(REPO).reply(404, {});
    await t.dispatcher.reportNotice({ ...notice, key: "audit-log:gap" });
    expect(missing.isDone()).toBe(true);
    const later = privateRepo()
      .post(`${REPO}/issues`, (b: { labels: string[] }) => b.labels.includes("exfil-monitor-notice"))
      .reply(201, { number: 31 });
    await t.dispatcher.flush();
    expect(later.isDone()).toBe(true);
    expect(await t.storage.notices.configReport("acme", "audit-log:gap")).toEqual({ issueNumber: 31 });
  });

  it("does not deadlock when the config lookup of a run reports a notice, and files it right after", async () => {
    const t = setup();
    await t.run(fork());
    let reported = false;
    t.ctx.onConfig = async () => {
      if (reported) return;
      reported = true;
      // What the config service does when the org's file is broken: it awaits the notice.
      await t.dispatcher.reportNotice(notice);
    };
    const scope = privateRepo()
      .post(`${REPO}/issues`, (b: { labels: string[] }) => b.labels.includes("detector:personal-fork"))
      .reply(201, { number: 1 })
      .get(REPO)
      .reply(200, { private: true, visibility: "private" })
      .post(`${REPO}/issues`, (b: { labels: string[] }) => b.labels.includes("config-error"))
      .reply(201, { number: 2 });
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1 });
    await t.dispatcher.flush();
    expect(scope.isDone()).toBe(true);
    expect(await t.storage.notices.configReport("acme", "config:abc")).toEqual({ issueNumber: 2 });
  });

  it("refuses a public alerts repository for notices too", async () => {
    const t = setup();
    const scope = nock(API).get(REPO).reply(200, { private: false });
    await t.dispatcher.reportNotice(notice);
    expect(scope.isDone()).toBe(true);
    expect(t.logs.some((l) => l.level === "error" && l.msg.includes("REFUSED"))).toBe(true);
    expect(await t.storage.notices.configReport("acme", "config:abc")).toEqual({ issueNumber: null });
  });
});

describe("notices about the app itself", () => {
  const change = { org: "acme", installationId: 42, key: "config-change:abc", title: "config changed: it now watches less", body: "- `mode`: dry-run" };
  const OLD = "/repos/acme/sec-alerts";

  it("are filed in dry-run mode, which silences findings only", async () => {
    const t = setup({ mode: "dry-run" });
    await t.run(fork());
    let posted: { labels: string[] } | undefined;
    const scope = privateRepo()
      .post(`${REPO}/issues`, (b: typeof posted) => {
        posted = b;
        return true;
      })
      .reply(201, { number: 40 });
    await t.dispatcher.reportNotice(change);
    expect(await t.dispatcher.flush()).toEqual({ filed: 0, commented: 0, pending: 0, dryRun: 1 });
    expect(scope.isDone()).toBe(true);
    expect(posted?.labels).toEqual(["exfil-monitor", "config-change"]);
    expect(await t.storage.notices.configReport("acme", change.key)).toEqual({ issueNumber: 40 });
    expect((await t.finding()).issueNumber).toBeNull();
  });

  it("go to the repository they name (the one alerts.repo replaced) once it is checked to be private", async () => {
    const t = setup();
    const scope = nock(API)
      .get(OLD)
      .reply(200, { private: true, visibility: "private" })
      .post(`${OLD}/issues`)
      .reply(201, { number: 5 });
    await t.dispatcher.reportNotice({ ...change, key: "config-change:abc:previous-repo", repo: "sec-alerts" });
    expect(scope.isDone()).toBe(true);
    expect(await t.storage.notices.configReport("acme", "config-change:abc:previous-repo")).toEqual({ issueNumber: 5 });
  });

  it("are never filed in a named repository that is not private, and dropped when it does not exist", async () => {
    const t = setup();
    const publicOld = nock(API).get(OLD).reply(200, { private: false, visibility: "public" });
    await t.dispatcher.reportNotice({ ...change, key: "k1", repo: "sec-alerts" });
    expect(publicOld.isDone()).toBe(true);
    expect((await t.storage.notices.pending()).map((n) => n.key)).toEqual(["k1"]);

    const gone = nock(API).get(OLD).reply(404, { message: "Not Found" });
    await t.dispatcher.flush();
    expect(gone.isDone()).toBe(true);
    expect(await t.storage.notices.pending()).toEqual([]);
    expect(t.logs.some((l) => l.level === "warn" && l.msg.includes("former alerts repository dropped"))).toBe(true);
  });
});
