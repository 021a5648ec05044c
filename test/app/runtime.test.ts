// The runtime's background processing when things go wrong or run for a long time: a store failure must not
// end the process, and detector state that expired long ago must not pile up in the database.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HISTORY_DAYS, Runtime, STATE_EXPIRY_GRACE_MS } from "../../src/app/runtime.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { judgeBatch } from "../../src/pipeline/judge.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import type { Storage } from "../../src/store/storage.js";
import { DAY, T0, makeConfig, makeEvent } from "../helpers/engine.js";
import { silentLog } from "../helpers/github.js";
import { webhookFixture } from "../helpers/examples.js";

let storage: SqliteStorage;
let runtime: Runtime;
let errors: string[];

beforeEach(() => {
  errors = [];
  storage = openSqliteStorage(MEMORY);
  const log = { debug: () => {}, info: () => {}, warn: () => {}, error: (_obj: object, msg: string) => void errors.push(msg) };
  const octokitFor = async (): Promise<OctokitLike> => {
    throw new Error("no GitHub in this test");
  };
  runtime = new Runtime({ storage, log, octokitFor, now: () => T0, alertWriteSpacingMs: 0 });
});

afterEach(async () => {
  await runtime.idle();
  await storage.close();
});

/** Hands every unit of work of `s`, and every step nested in one, a changed `tx` (a repository that fails, say). */
function alterUnits(s: Storage, alter: (tx: Storage) => Storage) {
  const wrap = (tx: Storage): Storage => ({ ...alter(tx), unitOfWork: (fn, opts) => tx.unitOfWork((inner) => fn(wrap(inner)), opts) });
  const original = s.unitOfWork.bind(s);
  return vi.spyOn(s, "unitOfWork").mockImplementation((fn, opts) => original((tx) => fn(wrap(tx)), opts));
}

const diskFull = () => new Error("SQLITE_FULL: database or disk is full");

async function stateKeys(scope: string): Promise<string[]> {
  return (await storage.state.loadScope(scope)).map((e) => e.key).sort();
}

describe("Runtime background processing", () => {
  it("logs a store failure instead of rejecting, and processes the events on the next kick", async () => {
    vi.spyOn(storage.events, "pending").mockRejectedValueOnce(diskFull());
    expect(await runtime.acceptEvents([makeEvent({ action: "push", at: T0 })])).toBe(1);
    // Before the fix the drain's rejection was never handled: vitest reports it, Node ends the process.
    await runtime.idle();
    expect(errors.some((m) => m.includes("stay pending"))).toBe(true);
    expect(runtime.counters.processingErrors).toBe(1);
    expect(await storage.events.pending(200)).toHaveLength(1);

    runtime.kick();
    await runtime.idle();
    expect(await storage.events.pending(200)).toHaveLength(0);
  });

  it("deletes detector state that expired long before, and keeps state late audit-log events may still need", async () => {
    const entry = (key: string, n: number, expiresAt: number) => ({ scope: "org:acme", detector: "mass-clone", key, value: { n }, expiresAt });
    await storage.state.write([entry("old", 1, T0 - STATE_EXPIRY_GRACE_MS - DAY), entry("recent", 2, T0 - DAY), entry("live", 3, T0 + DAY)]);
    expect(await stateKeys("org:acme")).toHaveLength(3);

    await runtime.acceptEvents([makeEvent({ action: "push", at: T0 })]);
    await runtime.idle();

    expect(await stateKeys("org:acme")).toEqual(["live", "recent"]);
  });

  it("keeps the state an old event in the batch may need", async () => {
    await storage.state.write([{ scope: "org:acme", detector: "mass-clone", key: "window", value: { n: 1 }, expiresAt: T0 - 20 * DAY }]);
    // A poll resuming after a long outage: the batch reaches back 25 days.
    await runtime.acceptEvents([makeEvent({ action: "push", at: T0 - 25 * DAY })]);
    await runtime.idle();
    expect(await stateKeys("org:acme")).toEqual(["window"]);
  });
});

describe("Runtime.pruneHistory", () => {
  it("drops judged events and deliveries older than HISTORY_DAYS, keeping recent, unjudged and evidence", async () => {
    const later = T0 + (HISTORY_DAYS + 5) * DAY;
    const aged = new Runtime({
      storage,
      log: silentLog,
      octokitFor: async () => {
        throw new Error("no GitHub in this test");
      },
      now: () => later,
    });
    // 2,500 old judged events (several pruning steps), one old unjudged one after them, then recent ones.
    await storage.unitOfWork(async (tx) => {
      await tx.events.add(
        Array.from({ length: 2500 }, (_, i) => makeEvent({ id: `old-${i}`, action: "git.clone", at: T0 + i })),
        { processed: true },
      );
      await tx.events.add([makeEvent({ id: "old-pending", action: "git.clone", at: T0 })]);
      await tx.events.add([makeEvent({ id: "recent", action: "git.clone", at: later - DAY })], { processed: true });
      await tx.deliveries.record({ id: "d-old", name: "push", action: null, installationId: 1, receivedAt: T0 });
      await tx.deliveries.record({ id: "d-new", name: "push", action: null, installationId: 1, receivedAt: later - DAY });
    });
    const fork = makeEvent({ id: "old-fork", action: "fork", at: T0, repo: "acme/api", visibility: "private", details: { forkFullName: "mallory/api", forkOwner: "mallory", forkOwnerType: "User" } });
    const judged = await judgeBatch([{ event: fork, config: makeConfig() }], {
      storage,
      engine: aged.engine,
      record: "stored",
      onEventError: (_event, err) => {
        throw err;
      },
    });
    expect(judged.recorded).toHaveLength(1);

    const result = await aged.pruneHistory();

    expect(result).toEqual({ events: 2500, deliveries: 1 });
    // The scan stops at the first event that must stay; what follows it waits for the next run.
    expect(await storage.events.count()).toBe(3);
    for (const id of ["old-pending", "recent", "old-fork"]) expect(await storage.events.has(id)).toBe(true);
    expect((await storage.events.pending(10)).map((e) => e.id)).toEqual(["old-pending"]);
    expect(await storage.deliveries.bodySha256("d-old")).toBeUndefined();
    expect(await storage.deliveries.record({ id: "d-new", name: "push", action: null, installationId: 1, receivedAt: later })).toBe(false);
    const [finding] = await storage.findings.list();
    expect(await storage.findings.evidence(finding!.id)).toHaveLength(1);
  });
});

describe("Runtime.acceptDelivery", () => {
  const push = { action: undefined, ref: "refs/heads/main", repository: { full_name: "acme/api", name: "api", default_branch: "main" }, organization: { login: "acme" }, installation: { id: 1 }, sender: { login: "bob", type: "User" } };

  it("stores deliveries of one event-loop turn in one unit of work, and tells a redelivery apart", async () => {
    const units = vi.spyOn(storage, "unitOfWork");
    const results = await Promise.all([
      runtime.acceptDelivery("push", "d-1", push),
      runtime.acceptDelivery("push", "d-2", push),
      runtime.acceptDelivery("push", "d-1", push),
    ]);
    expect(results).toEqual([true, true, false]);
    expect(units).toHaveBeenCalledTimes(1);
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
    alterUnits(storage, (tx) => ({ ...tx, deliveries: { ...tx.deliveries, record: () => Promise.reject(diskFull()) } }));
    await expect(runtime.acceptDelivery("push", "d-3", push)).rejects.toThrow("SQLITE_FULL");
    vi.restoreAllMocks();
    expect(await runtime.acceptDelivery("push", "d-3", push)).toBe(true);
  });

  it("on close, commits the deliveries already taken in, then closes the storage", async () => {
    const pending = runtime.acceptDelivery("push", "d-close", push);
    await runtime.close();
    expect(await pending).toBe(true);
    await expect(storage.events.count()).rejects.toThrow();
  });
});

describe("judging at intake", () => {
  const fork = (delivery: string) => {
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    return [name, delivery, payload] as const;
  };
  /** The fork fixture into another personal account: a second incident of the same org. */
  const forkInto = (owner: string) => {
    const other = structuredClone(webhookFixture("fork.private-org-to-user").payload) as { forkee: { full_name: string; owner: { login: string } } };
    other.forkee.full_name = `${owner}/Hello-World`;
    other.forkee.owner.login = owner;
    return other;
  };
  /** Empties the queue (the first drain after a start) and caches the org's config: intake may judge now. */
  const warmUp = async () => {
    await runtime.acceptDelivery(...fork("warm-up"));
    await runtime.idle();
    // The config is now cached (the defaults, GitHub being out of reach here).
    await runtime.configs.get("Octocoders", 1);
  };

  it("judges a delivery in its own commit when the org's config is cached and nothing waits in the queue", async () => {
    await warmUp();
    expect(await storage.findings.list()).toHaveLength(1);

    expect(await runtime.acceptDelivery("fork", "intake-2", forkInto("eve"))).toBe(true);
    // Answered: the finding is already recorded and nothing was queued, before any drain ran.
    expect(await storage.events.pending(200)).toHaveLength(0);
    expect((await storage.findings.list()).map((f) => f.subject)).toContain("Octocoders/Hello-World->eve/Hello-World");
  });

  it("commits the delivery and what judging it found together: when judging cannot be stored, neither is", async () => {
    await warmUp();
    const failedWrites: unknown[] = [];
    alterUnits(storage, (tx) => ({
      ...tx,
      state: {
        ...tx.state,
        write: (changes) => {
          failedWrites.push(changes);
          return Promise.reject(diskFull());
        },
      },
    }));
    await expect(runtime.acceptDelivery("fork", "intake-fail", forkInto("eve"))).rejects.toThrow("SQLITE_FULL");
    vi.restoreAllMocks();
    // The failure came from judging inside the intake unit, not from a later drain.
    expect(failedWrites).toHaveLength(1);
    expect(await storage.deliveries.bodySha256("intake-fail")).toBeUndefined();
    expect(await storage.events.has("webhook:intake-fail")).toBe(false);
    expect((await storage.findings.list()).map((f) => f.subject)).not.toContain("Octocoders/Hello-World->eve/Hello-World");

    // GitHub redelivers: now new, judged and recorded.
    expect(await runtime.acceptDelivery("fork", "intake-fail", forkInto("eve"))).toBe(true);
    await runtime.idle();
    expect((await storage.findings.list()).map((f) => f.subject)).toContain("Octocoders/Hello-World->eve/Hello-World");
  });

  it("queues a delivery behind events already waiting, so an org's events are judged in order", async () => {
    await warmUp();
    await runtime.acceptEvents([makeEvent({ action: "push", org: "Octocoders", installationId: 1, at: T0 })]);
    await runtime.acceptDelivery(...fork("order-2"));
    expect((await storage.events.pending(200)).map((e) => e.id)).toContain("webhook:order-2");
    await runtime.idle();
    expect(await storage.events.pending(200)).toHaveLength(0);
  });

  it("queues a delivery behind a page the audit-log poller stored through the runtime's queue writer", async () => {
    await warmUp();
    const older = makeEvent({ action: "push", org: "Octocoders", installationId: 1, at: T0 });
    // As the poller stores a page: its events and its position in one unit of work.
    const page = runtime.queueEvents(async (tx) => tx.events.add([older]));
    const delivery = runtime.acceptDelivery(...fork("after-page"));
    expect(await page).toEqual([true]);
    await delivery;
    // Queued behind the page's event, not judged ahead of it at intake.
    expect((await storage.events.pending(200)).map((e) => e.id)).toEqual([older.id, "webhook:after-page"]);
    await runtime.idle();
    expect(await storage.events.pending(200)).toHaveLength(0);
  });
});
