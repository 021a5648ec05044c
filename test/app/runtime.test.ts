// The runtime's background processing when things go wrong or run for a long time: a store failure must not
// end the process, and detector state that expired long ago must not pile up in the database.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HISTORY_DAYS, Runtime, STATE_EXPIRY_GRACE_MS } from "../../src/app/runtime.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { MEMORY } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
import { DAY, T0, makeConfig, makeEvent } from "../helpers/engine.js";
import { silentLog } from "../helpers/github.js";
import { webhookFixture } from "../helpers/examples.js";

let store: Store;
let runtime: Runtime;
let errors: string[];

beforeEach(() => {
  errors = [];
  store = Store.open(MEMORY);
  const log = { debug: () => {}, info: () => {}, warn: () => {}, error: (_obj: object, msg: string) => void errors.push(msg) };
  const octokitFor = async (): Promise<OctokitLike> => {
    throw new Error("no GitHub in this test");
  };
  runtime = new Runtime({ store, log, octokitFor, now: () => T0, alertWriteSpacingMs: 0 });
});

afterEach(async () => {
  await runtime.idle();
  store.close();
});

function stateRows(): number {
  return (store.db.prepare("SELECT count(*) AS n FROM detector_state").get() as { n: number }).n;
}

describe("Runtime background processing", () => {
  it("logs a store failure instead of rejecting, and processes the events on the next kick", async () => {
    const original = store.pendingEvents.bind(store);
    let fail = true;
    store.pendingEvents = (limit?: number) => {
      if (fail) {
        fail = false;
        throw new Error("SQLITE_FULL: database or disk is full");
      }
      return original(limit);
    };
    expect(runtime.acceptEvents([makeEvent({ action: "push", at: T0 })])).toBe(1);
    // Before the fix the drain's rejection was never handled: vitest reports it, Node ends the process.
    await runtime.idle();
    expect(errors.some((m) => m.includes("stay pending"))).toBe(true);
    expect(runtime.counters.processingErrors).toBe(1);
    expect(store.pendingEvents()).toHaveLength(1);

    runtime.kick();
    await runtime.idle();
    expect(store.pendingEvents()).toHaveLength(0);
  });

  it("deletes detector state that expired long before, and keeps state late audit-log events may still need", async () => {
    store.stateSet("org:acme", "mass-clone", "old", { n: 1 }, T0 - STATE_EXPIRY_GRACE_MS - DAY);
    store.stateSet("org:acme", "mass-clone", "recent", { n: 2 }, T0 - DAY);
    store.stateSet("org:acme", "mass-clone", "live", { n: 3 }, T0 + DAY);
    store.flushState();
    expect(stateRows()).toBe(3);

    runtime.acceptEvents([makeEvent({ action: "push", at: T0 })]);
    await runtime.idle();

    const keys = (store.db.prepare("SELECT key FROM detector_state ORDER BY key").all() as { key: string }[]).map((r) => r.key);
    expect(keys).toEqual(["live", "recent"]);
  });

  it("keeps the state an old event in the batch may need", async () => {
    store.stateSet("org:acme", "mass-clone", "window", { n: 1 }, T0 - 20 * DAY);
    store.flushState();
    // A poll resuming after a long outage: the batch reaches back 25 days.
    runtime.acceptEvents([makeEvent({ action: "push", at: T0 - 25 * DAY })]);
    await runtime.idle();
    expect(stateRows()).toBe(1);
  });
});

describe("Runtime.pruneHistory", () => {
  it("drops judged events and deliveries older than HISTORY_DAYS, keeping recent, unjudged and evidence", async () => {
    const later = T0 + (HISTORY_DAYS + 5) * DAY;
    const aged = new Runtime({
      store,
      log: silentLog,
      octokitFor: async () => {
        throw new Error("no GitHub in this test");
      },
      now: () => later,
    });
    // 2,500 old judged events (several pruning steps), one old unjudged one after them, then recent ones.
    store.transaction(() => {
      for (let i = 0; i < 2500; i++) store.addEvent(makeEvent({ id: `old-${i}`, action: "git.clone", at: T0 + i }), true);
      store.addEvent(makeEvent({ id: "old-pending", action: "git.clone", at: T0 }), false);
      store.addEvent(makeEvent({ id: "recent", action: "git.clone", at: later - DAY }), true);
      store.recordDelivery({ id: "d-old", name: "push", action: null, installationId: 1, receivedAt: T0 });
      store.recordDelivery({ id: "d-new", name: "push", action: null, installationId: 1, receivedAt: later - DAY });
    });
    const fork = makeEvent({ id: "old-fork", action: "fork", at: T0, repo: "acme/api", visibility: "private", details: { forkFullName: "mallory/api", forkOwner: "mallory", forkOwnerType: "User" } });
    store.addEvent(fork, true);
    aged.engine.process(fork, makeConfig());

    const result = await aged.pruneHistory();

    expect(result).toEqual({ events: 2500, deliveries: 1 });
    const ids = (store.db.prepare("SELECT id FROM events ORDER BY seq").all() as { id: string }[]).map((r) => r.id);
    // The scan stops at the first event that must stay; what follows it waits for the next run.
    expect(ids).toEqual(["old-pending", "recent", "old-fork"]);
    expect(store.recordDelivery({ id: "d-new", name: "push", action: null, installationId: 1, receivedAt: later })).toBe(false);
    const [finding] = store.listFindings();
    expect(store.evidence(finding!.id)).toHaveLength(1);
  });
});

describe("Runtime.acceptDelivery", () => {
  const push = { action: undefined, ref: "refs/heads/main", repository: { full_name: "acme/api", name: "api", default_branch: "main" }, organization: { login: "acme" }, installation: { id: 1 }, sender: { login: "bob", type: "User" } };

  it("stores deliveries of one event-loop turn in one transaction, and tells a redelivery apart", async () => {
    const transactions = vi.spyOn(store, "transaction");
    const results = await Promise.all([
      runtime.acceptDelivery("push", "d-1", push),
      runtime.acceptDelivery("push", "d-2", push),
      runtime.acceptDelivery("push", "d-1", push),
    ]);
    expect(results).toEqual([true, true, false]);
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(runtime.counters).toMatchObject({ deliveries: 2, duplicates: 1 });
    expect(await runtime.acceptDelivery("push", "d-2", push)).toBe(false);
  });

  it("reloads the org's config after a push to its .github repository, and only then", async () => {
    const invalidate = vi.spyOn(runtime.configs, "invalidate");
    await runtime.acceptDelivery("push", "d-api", push);
    expect(invalidate).not.toHaveBeenCalled();
    await runtime.acceptDelivery("push", "d-config", { ...push, repository: { ...push.repository, full_name: "acme/.github", name: ".github" } });
    expect(invalidate).toHaveBeenCalledWith("acme");
  });

  it("rejects (the webhook answers 5xx, GitHub can redeliver) when the delivery cannot be stored", async () => {
    vi.spyOn(store, "recordDelivery").mockImplementation(() => {
      throw new Error("SQLITE_FULL: database or disk is full");
    });
    await expect(runtime.acceptDelivery("push", "d-3", push)).rejects.toThrow("SQLITE_FULL");
    vi.restoreAllMocks();
    expect(await runtime.acceptDelivery("push", "d-3", push)).toBe(true);
  });
});

describe("judging at intake", () => {
  const fork = (delivery: string) => {
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    return [name, delivery, payload] as const;
  };

  it("judges a delivery in its own commit when the org's config is cached and nothing waits in the queue", async () => {
    // The first drain after a start empties the queue (a crash may have left events in it).
    await runtime.acceptDelivery(...fork("intake-1"));
    await runtime.idle();
    expect(store.listFindings()).toHaveLength(1);
    // The config is now cached (the defaults, GitHub being out of reach here).
    await runtime.configs.get("Octocoders", 1);

    const { payload } = webhookFixture("fork.private-org-to-user");
    const other = structuredClone(payload) as { forkee: { full_name: string; owner: { login: string } } };
    other.forkee.full_name = "eve/Hello-World";
    other.forkee.owner.login = "eve";
    expect(await runtime.acceptDelivery("fork", "intake-2", other)).toBe(true);
    // Answered: the finding is already recorded and nothing was queued, before any drain ran.
    expect(store.pendingEvents()).toHaveLength(0);
    expect(store.listFindings().map((f) => f.subject)).toContain("Octocoders/Hello-World->eve/Hello-World");
  });

  it("queues a delivery behind events already waiting, so an org's events are judged in order", async () => {
    await runtime.acceptDelivery(...fork("order-1"));
    await runtime.idle();
    await runtime.configs.get("Octocoders", 1);
    runtime.acceptEvents([makeEvent({ action: "push", org: "Octocoders", installationId: 1, at: T0 })]);
    await runtime.acceptDelivery(...fork("order-2"));
    expect(store.pendingEvents().map((e) => e.id)).toContain("webhook:order-2");
    await runtime.idle();
    expect(store.pendingEvents()).toHaveLength(0);
  });
});
