// The SQLite backend against the storage contract, in memory and on a file, plus what only a file database
// shows: what survives a reopen, the background checkpointer keeping the WAL small, and a refusal to open a
// database written by a newer exfil-monitor.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../../src/events/types.js";
import { MIGRATIONS } from "../../../src/store/sqlite/migrations/index.js";
import { MEMORY } from "../../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../../src/store/sqlite/storage.js";
import { T0, makeEvent } from "../../helpers/engine.js";
import { storageContract } from "./suite.js";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-storage-contract-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

storageContract("sqlite in memory", async () => {
  const storage = openSqliteStorage(MEMORY);
  return { storage, cleanup: () => storage.close() };
});

storageContract("sqlite on a file", async () => {
  const dir = fs.mkdtempSync(path.join(tmp, "db-"));
  const storage = openSqliteStorage(path.join(dir, "exfil.db"));
  return {
    storage,
    cleanup: async () => {
      await storage.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Events about the size of real ones, so the WAL grows as it does in production. */
function clones(n: number): OrgEvent[] {
  return Array.from({ length: n }, () => makeEvent({ action: "git.clone", repo: "acme/api", details: { extra: { pad: "x".repeat(200) } } }));
}

describe("sqlite storage on a file", () => {
  const open: SqliteStorage[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  function openAt(file: string, opts?: Parameters<typeof openSqliteStorage>[1]): SqliteStorage {
    const s = openSqliteStorage(file, opts);
    open.push(s);
    return s;
  }

  it("keeps what was committed across a close and a reopen, and nothing of a unit that failed", async () => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, "reopen-")), "exfil.db");
    const first = openAt(file);
    const kept = clones(3);
    const lost = clones(1);
    await first.unitOfWork(async (tx) => {
      await tx.events.add(kept);
      await tx.sweeps.saveState("inventory:acme", { cursor: "c1" }, T0);
      await tx.deliveries.record({ id: "d-1", name: "fork", action: null, installationId: 42, receivedAt: T0, bodySha256: "f".repeat(64) });
    });
    await first.events.markProcessed([kept[0]!.id]);
    await expect(
      first.unitOfWork(async (tx) => {
        await tx.events.add(lost);
        throw new Error("fails");
      }),
    ).rejects.toThrow("fails");
    await first.close();

    const second = openAt(file);
    expect(await second.events.pending(10)).toEqual(kept.slice(1));
    expect(await second.events.has(kept[0]!.id)).toBe(true);
    expect(await second.events.has(lost[0]!.id)).toBe(false);
    expect(await second.sweeps.state("inventory:acme")).toEqual({ cursor: "c1" });
    expect(await second.deliveries.bodySha256("d-1")).toBe("f".repeat(64));
  });

  it("closes only once the unit of work it is running has committed", async () => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, "close-")), "exfil.db");
    const s = openAt(file);
    let begun!: () => void;
    const started = new Promise<void>((resolve) => (begun = resolve));
    const unit = s.unitOfWork(async (tx) => {
      begun();
      await sleep(20);
      await tx.sweeps.saveState("k", "committed", T0);
    });
    await started;
    await s.close();
    await unit;
    const reopened = openAt(file);
    expect(await reopened.sweeps.state("k")).toBe("committed");
  });

  it("keeps the WAL small with background checkpoints while units of work keep writing", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "wal-"));
    const file = path.join(dir, "exfil.db");
    const s = openAt(file, { checkpoints: "background", checkpointEveryMs: 50 });
    // The connection itself checkpoints only as a backstop at 10,000 pages (about 40 MB), far beyond what this
    // test writes: here only the worker can move pages to the database file.
    expect(s.store.db.pragma("wal_autocheckpoint", { simple: true })).toBe(10_000);
    // 20,000 events in 200 units, in bursts with pauses between them as webhook intake and polls have; without
    // checkpoints the WAL would end larger than the database file itself (about 20 MB here).
    let largestWal = 0;
    for (let burst = 0; burst < 10; burst++) {
      for (let u = 0; u < 20; u++) {
        await s.unitOfWork(async (tx) => {
          await tx.events.add(clones(100));
        });
        largestWal = Math.max(largestWal, fs.statSync(`${file}-wal`).size);
      }
      await sleep(200);
    }
    await sleep(300);
    expect(await s.events.count()).toBe(20_000);
    const dbSize = fs.statSync(file).size;
    expect(largestWal).toBeLessThan(dbSize / 3);
    // Everything was checkpointed while idle, so the next write starts the WAL over from its beginning.
    await s.unitOfWork(async (tx) => {
      await tx.events.add(clones(1));
    });
    const [progress] = s.store.db.pragma("wal_checkpoint(PASSIVE)") as { busy: number; log: number; checkpointed: number }[];
    expect(progress!.log).toBeLessThan(50);

    await s.close();
    // The last connection to close checkpoints and removes the WAL: the worker's connection is gone too.
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const reopened = openAt(file);
    expect(await reopened.events.count()).toBe(20_001);
  });

  it("refuses a database at a newer schema version than this exfil-monitor, leaving it as it was", () => {
    const file = path.join(fs.mkdtempSync(path.join(tmp, "newer-")), "exfil.db");
    const latest = MIGRATIONS.at(-1)!.version;
    const db = new Database(file);
    db.exec("CREATE TABLE from_the_future (x INTEGER)");
    db.pragma(`user_version = ${latest + 1}`);
    db.close();

    expect(() => openSqliteStorage(file)).toThrow(`schema version ${latest + 1}, newer than this exfil-monitor (${latest})`);

    const after = new Database(file, { readonly: true });
    expect(after.pragma("user_version", { simple: true })).toBe(latest + 1);
    expect(after.prepare("SELECT name FROM sqlite_master WHERE name = 'events'").get()).toBeUndefined();
    after.close();
  });
});

describe("sqlite event pruning", () => {
  it("stops at the first event that must stay, so one pass never scans the whole table", async () => {
    const s = openSqliteStorage(MEMORY);
    const DAY = 86_400_000;
    const before = clones(2).map((e) => ({ ...e, at: T0 - 3 * DAY }));
    const blocker = { ...clones(1)[0]!, at: T0 - 3 * DAY };
    const after = clones(2).map((e) => ({ ...e, at: T0 - 3 * DAY }));
    await s.events.add(before, { processed: true });
    await s.events.add([blocker]);
    await s.events.add(after, { processed: true });
    expect(await s.events.prune(T0 - DAY)).toEqual({ deleted: 2, more: false });
    expect(await s.events.count()).toBe(3);
    // A recent event stops it the same way.
    await s.events.markProcessed([blocker.id]);
    await s.events.add([{ ...clones(1)[0]!, at: T0 }], { processed: true });
    await s.events.add(clones(1).map((e) => ({ ...e, at: T0 - 3 * DAY })), { processed: true });
    expect(await s.events.prune(T0 - DAY)).toEqual({ deleted: 3, more: false });
    expect(await s.events.count()).toBe(2);
    await s.close();
  });
});
