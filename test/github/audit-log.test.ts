// The audit-log poller against a mocked GitHub: cursors, the position saved per page, restarts that neither
// miss nor repeat entries, orgs without the API, rate limits, 5xx backoff and the retention-gap notice.
import Bottleneck from "bottleneck";
import nock from "nock";
import { describe, expect, it } from "vitest";
import { AuditLogPoller, nextCursor, type AuditLogNotice } from "../../src/github/audit-log.js";
import { rateLimitWaitMs } from "../../src/github/limiter.js";
import type { OrgEvent } from "../../src/events/types.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import type { Storage } from "../../src/store/storage.js";
import { DAY, T0 } from "../helpers/engine.js";
import { testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const ROUTE = "/orgs/acme/audit-log";
const INSTALLATION = 42;

/** A git.clone entry in the REST API's shape, at T0 plus `ms`. */
function entry(doc: string, ms: number) {
  return {
    "@timestamp": T0 + ms,
    _document_id: doc,
    action: "git.clone",
    actor: "alice",
    actor_id: 7,
    actor_is_bot: false,
    actor_location: { country_code: "DE" },
    created_at: T0 + ms,
    org: "acme",
    repo: "acme/api",
    repository: "acme/api",
    repository_public: false,
    transport_protocol_name: "http",
  };
}

function query(phrase: string, after?: string) {
  return { include: "all", order: "asc", per_page: "100", phrase, ...(after ? { after } : {}) };
}

function nextLink(after: string) {
  return `<${API}/organizations/1/audit-log?include=all&order=asc&per_page=100&after=${after}>; rel="next"`;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");

function setup(opts: { storage?: Storage; now?: number } = {}) {
  const storage = opts.storage ?? openSqliteStorage(MEMORY);
  let now = opts.now ?? T0 + 60_000;
  const waits: number[] = [];
  const delivered: OrgEvent[][] = [];
  const notices: AuditLogNotice[] = [];
  const logs: string[] = [];
  const log = {
    debug: () => 0,
    info: (_o: object, msg: string) => logs.push(msg),
    warn: (_o: object, msg: string) => logs.push(msg),
    error: (_o: object, msg: string) => logs.push(msg),
  };
  let failOnEvents = false;
  const poller = new AuditLogPoller({
    storage,
    log,
    now: () => now,
    // No spacing in tests; the production limiter is built by createAuditLogLimiter.
    limiter: new Bottleneck(),
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
    onEvents: (events) => {
      delivered.push(events);
      if (failOnEvents) throw new Error("process died");
    },
    notice: (n) => {
      notices.push(n);
    },
  });
  const octokit = testOctokit();
  return {
    storage,
    poller,
    octokit,
    waits,
    delivered,
    notices,
    logs,
    ids: () => delivered.flat().map((e) => e.id),
    setNow: (t: number) => {
      now = t;
    },
    crashAfterDelivery: () => {
      failOnEvents = true;
    },
    poll: () => poller.poll("acme", INSTALLATION, octokit),
  };
}

describe("AuditLogPoller", () => {
  it("starts 7 days back, follows the after cursors and stores the position after each page", async () => {
    const t = setup();
    const phrase = `created:>=${iso(T0 + 60_000 - 7 * DAY)}`;
    const positions: (number | null | undefined)[] = [];
    const scope = nock(API)
      .get(ROUTE)
      .query(query(phrase))
      .reply(200, [entry("d1", 1000), entry("d2", 2000)], { link: nextLink("c1") })
      .get(ROUTE)
      .query(query(phrase, "c1"))
      .reply(async () => {
        // The first page's position is on disk before the second page is asked for.
        positions.push((await t.storage.cursors.auditLog("acme"))?.createdAt);
        return [200, [entry("d3", 3000)], { link: `<${API}/organizations/1/audit-log?before=x>; rel="prev"` }];
      });

    const result = await t.poll();

    expect(result).toEqual({ status: "ok", events: 3, pages: 2 });
    expect(t.ids()).toEqual(["audit:acme:d1", "audit:acme:d2", "audit:acme:d3"]);
    expect(t.delivered.flat().every((e) => e.installationId === INSTALLATION)).toBe(true);
    expect(positions).toEqual([T0 + 2000]);
    const pos = await t.storage.cursors.auditLog("acme");
    expect(pos?.createdAt).toBe(T0 + 3000);
    expect(pos?.boundaryIds).toEqual(["d3"]);
    expect(pos?.lastSuccessAt).toBe(T0 + 60_000);
    expect(scope.isDone()).toBe(true);
  });

  it("resumes after a crash from the stored position without missing or repeating an entry", async () => {
    const first = setup();
    first.crashAfterDelivery();
    const phrase1 = `created:>=${iso(T0 + 60_000 - 7 * DAY)}`;
    // Page 1 ends at 5.2 s; the rest of that second (5.7 s) is on page 2.
    const page1 = [entry("a", 1000), entry("b", 5100), entry("c", 5200)];
    const s1 = nock(API).get(ROUTE).query(query(phrase1)).reply(200, page1, { link: nextLink("c1") });

    expect((await first.poll()).status).toBe("error");
    expect(first.ids()).toEqual(["audit:acme:a", "audit:acme:b", "audit:acme:c"]);
    expect(s1.isDone()).toBe(true);

    // A new poller on the same database: `created:>=` repeats the boundary second, which holds b and c.
    const second = setup({ storage: first.storage, now: T0 + 120_000 });
    const phrase2 = `created:>=${iso(T0 + 5000)}`;
    const s2 = nock(API)
      .get(ROUTE)
      .query(query(phrase2))
      .reply(200, [entry("b", 5100), entry("c", 5200), entry("d", 5700)], { link: nextLink("c2") })
      .get(ROUTE)
      .query(query(phrase2, "c2"))
      .reply(200, [entry("e", 6000)]);

    expect(await second.poll()).toEqual({ status: "ok", events: 2, pages: 2 });
    expect(second.ids()).toEqual(["audit:acme:d", "audit:acme:e"]);
    expect(new Set([...first.ids(), ...second.ids()]).size).toBe(5);
    expect(s2.isDone()).toBe(true);
  });

  it("skips boundary entries by _document_id even when the storage no longer has them", async () => {
    const storage = openSqliteStorage(MEMORY);
    await storage.cursors.saveAuditLog(
      {
        org: "acme",
        installationId: INSTALLATION,
        createdAt: T0 + 5200,
        boundaryIds: ["b", "c"],
        lastSuccessAt: T0,
        unavailableAt: null,
        unavailableReason: null,
        gapNotice: null,
      },
      T0,
    );
    const t = setup({ storage });
    const scope = nock(API)
      .get(ROUTE)
      .query(query(`created:>=${iso(T0 + 5000)}`))
      .reply(200, [entry("b", 5100), entry("c", 5200), entry("d", 5900)]);

    expect(await t.poll()).toEqual({ status: "ok", events: 1, pages: 1 });
    expect(t.ids()).toEqual(["audit:acme:d"]);
    expect(await storage.events.count()).toBe(1);
    expect(scope.isDone()).toBe(true);
  });

  it("marks an org without the API unavailable, tells once, and asks again only after a day", async () => {
    const t = setup();
    const scope = nock(API)
      .get(ROUTE)
      .query(true)
      .reply(404, { message: "Not Found" })
      .get(ROUTE)
      .query(true)
      .reply(403, { message: "Resource not accessible by integration" });

    expect(await t.poll()).toEqual({ status: "unavailable", events: 0, pages: 0 });
    expect(t.notices).toHaveLength(1);
    expect(t.notices[0]).toMatchObject({ org: "acme", installationId: INSTALLATION, key: "audit-log:unavailable" });
    expect(t.notices[0]!.body).toMatch(/Enterprise Cloud/);
    expect(t.notices[0]!.body).toMatch(/Administration: read/);
    expect(t.notices[0]!.body).toMatch(/webhook detectors keep running/);

    // Same day: no request at all (an unmatched request would fail the poll with "error").
    t.setNow(T0 + 60_000 + 23 * 60 * 60 * 1000);
    expect(await t.poll()).toEqual({ status: "skipped", events: 0, pages: 0 });

    // The daily recheck asks again; still unavailable, and no second notice.
    t.setNow(T0 + 60_000 + DAY + 1);
    expect(await t.poll()).toEqual({ status: "unavailable", events: 0, pages: 0 });
    expect(t.notices).toHaveLength(1);
    expect((await t.storage.cursors.auditLog("acme"))?.unavailableReason).toMatch(/^403 /);
    expect(scope.isDone()).toBe(true);
  });

  it("waits out a 429 with retry-after, then succeeds", async () => {
    const t = setup();
    const scope = nock(API)
      .get(ROUTE)
      .query(true)
      .reply(429, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "30" })
      .get(ROUTE)
      .query(true)
      .reply(200, [entry("x", 1000)]);

    expect(await t.poll()).toEqual({ status: "ok", events: 1, pages: 1 });
    expect(t.waits).toEqual([30_000]);
    expect(t.notices).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("waits until x-ratelimit-reset on a 403 with no budget left, and does not call it unavailable", async () => {
    const t = setup();
    const reset = Math.floor((T0 + 60_000) / 1000) + 120;
    const scope = nock(API)
      .get(ROUTE)
      .query(true)
      .reply(403, { message: "API rate limit exceeded" }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) })
      .get(ROUTE)
      .query(true)
      .reply(200, []);

    expect(await t.poll()).toEqual({ status: "ok", events: 0, pages: 1 });
    expect(t.waits).toEqual([121_000]);
    expect(t.notices).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("backs off exponentially on 5xx and succeeds", async () => {
    const t = setup();
    const scope = nock(API)
      .get(ROUTE)
      .query(true)
      .reply(502, "bad gateway")
      .get(ROUTE)
      .query(true)
      .reply(503, "unavailable")
      .get(ROUTE)
      .query(true)
      .reply(200, [entry("x", 1000)]);

    expect(await t.poll()).toEqual({ status: "ok", events: 1, pages: 1 });
    expect(t.waits).toEqual([2000, 4000]);
    expect(scope.isDone()).toBe(true);
  });

  it("gives up after bounded 5xx retries with status error and keeps the position", async () => {
    const t = setup();
    const ok = nock(API).get(ROUTE).query(true).reply(200, [entry("x", 1000)]);
    await t.poll();
    const before = await t.storage.cursors.auditLog("acme");
    expect(ok.isDone()).toBe(true);

    t.setNow(T0 + 10 * 60_000);
    const failing = nock(API).get(ROUTE).query(true).times(5).reply(500, "oops");
    expect(await t.poll()).toEqual({ status: "error", events: 0, pages: 0 });
    expect(t.waits).toEqual([2000, 4000, 8000, 16000]);
    const after = await t.storage.cursors.auditLog("acme");
    expect(after?.createdAt).toBe(before?.createdAt);
    expect(after?.boundaryIds).toEqual(before?.boundaryIds);
    expect(after?.lastSuccessAt).toBe(before?.lastSuccessAt);
    expect(failing.isDone()).toBe(true);
  });

  it("reports once that git events are about to be lost when the last success is over 5 days old", async () => {
    const storage = openSqliteStorage(MEMORY);
    const lastSuccess = T0 - 6 * DAY;
    await storage.cursors.saveAuditLog(
      {
        org: "acme",
        installationId: INSTALLATION,
        createdAt: lastSuccess - 1000,
        boundaryIds: [],
        lastSuccessAt: lastSuccess,
        unavailableAt: null,
        unavailableReason: null,
        gapNotice: null,
      },
      lastSuccess,
    );
    const t = setup({ storage, now: T0 });
    const failing = nock(API).get(ROUTE).query(true).times(5).reply(500, "oops");
    expect((await t.poll()).status).toBe("error");
    expect(t.notices.map((n) => n.key)).toEqual(["audit-log:gap:2026-09-26"]);
    expect(t.notices[0]!.body).toMatch(/7 days/);

    // The next poll in the same gap does not repeat it, and a successful one closes the gap.
    t.setNow(T0 + 60_000);
    const ok = nock(API).get(ROUTE).query(true).reply(200, []);
    expect((await t.poll()).status).toBe("ok");
    expect(t.notices).toHaveLength(1);
    expect((await storage.cursors.auditLog("acme"))?.lastSuccessAt).toBe(T0 + 60_000);
    expect(failing.isDone() && ok.isDone()).toBe(true);
  });

  it("stays quiet about a gap shorter than 5 days", async () => {
    const storage = openSqliteStorage(MEMORY);
    await storage.cursors.saveAuditLog(
      {
        org: "acme",
        installationId: INSTALLATION,
        createdAt: T0 - 4 * DAY,
        boundaryIds: [],
        lastSuccessAt: T0 - 4 * DAY,
        unavailableAt: null,
        unavailableReason: null,
        gapNotice: null,
      },
      T0 - 4 * DAY,
    );
    const t = setup({ storage, now: T0 });
    const scope = nock(API)
      .get(ROUTE)
      .query(query(`created:>=${iso(T0 - 4 * DAY)}`))
      .reply(200, []);
    expect((await t.poll()).status).toBe("ok");
    expect(t.notices).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });
});

describe("helpers", () => {
  it("reads the after cursor of the next link only", () => {
    expect(nextCursor(`<${API}/x?after=abc%3D&before=>; rel="next", <${API}/x?before=zz>; rel="prev"`)).toBe("abc=");
    expect(nextCursor(`<${API}/x?before=zz>; rel="prev"`)).toBeNull();
    expect(nextCursor(undefined)).toBeNull();
  });

  it("prefers retry-after, then the reset time, then a doubling minute", () => {
    const now = 1_000_000;
    expect(rateLimitWaitMs({ status: 429, headers: { "retry-after": "5" }, message: "" }, now, 0)).toBe(5000);
    expect(
      rateLimitWaitMs({ status: 403, headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010" }, message: "" }, now, 0),
    ).toBe(11_000);
    expect(rateLimitWaitMs({ status: 403, headers: {}, message: "secondary rate limit" }, now, 2)).toBe(240_000);
  });
});
