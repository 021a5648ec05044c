// Migration 6 and what it is for: each delivery id remembers the digest of the body it came with, so the same
// id with a different body is kept as evidence (even inside one group commit), while deliveries stored before
// the migration, whose body is unknown, stay ordinary redeliveries.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Runtime, type RawBody } from "../../src/app/runtime.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { MIGRATIONS } from "../../src/store/sqlite/migrations/index.js";
import { MEMORY, schemaVersion } from "../../src/store/sqlite/open.js";
import { openSqliteStorage, type SqliteStorage } from "../../src/store/sqlite/storage.js";
import { T0 } from "../helpers/engine.js";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-deliveries-test-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const push = { ref: "refs/heads/main", repository: { full_name: "acme/api", name: "api", default_branch: "main" }, organization: { login: "acme" }, installation: { id: 1 }, sender: { login: "bob", type: "User" } };

function raw(text: string): RawBody {
  return { sha256: createHash("sha256").update(text).digest("hex"), bytes: Buffer.byteLength(text), text };
}

function runtimeOn(storage: SqliteStorage, warnings: string[]): Runtime {
  const octokitFor = async (): Promise<OctokitLike> => {
    throw new Error("no GitHub in this test");
  };
  const log = { debug: () => {}, info: () => {}, warn: (_o: object | string, msg?: string) => void warnings.push(msg ?? ""), error: () => {} };
  return new Runtime({ storage, log, octokitFor, now: () => T0, alertWriteSpacingMs: 0 });
}

describe("migration 6 (webhook deliveries)", () => {
  it("keeps deliveries stored before it, and their redelivery stays quiet since their body is unknown", async () => {
    const file = path.join(tmp, "v5.db");
    const db = new Database(file);
    for (const m of MIGRATIONS.filter((x) => x.version <= 5)) db.exec(m.up);
    db.pragma("user_version = 5");
    db.prepare(`INSERT INTO deliveries (id, name, action, installation_id, received_at) VALUES ('old-1', 'push', NULL, 1, ?)`).run(T0);
    db.close();

    const storage = openSqliteStorage(file);
    expect(schemaVersion(storage.store.db)).toBeGreaterThanOrEqual(6);
    expect(await storage.deliveries.bodySha256("old-1")).toBeNull();
    const warnings: string[] = [];
    const runtime = runtimeOn(storage, warnings);
    expect(await runtime.acceptDelivery("push", "old-1", push, raw(JSON.stringify(push)))).toBe(false);
    expect(runtime.counters).toMatchObject({ duplicates: 1, conflicts: 0 });
    expect(await storage.deliveries.conflicts()).toEqual([]);
    expect(warnings).toEqual([]);
    await runtime.idle();
    await storage.close();
  });
});

describe("a delivery id with two bodies", () => {
  it("is caught inside one group commit: the first body is processed, the second kept as evidence", async () => {
    const storage = openSqliteStorage(MEMORY);
    const warnings: string[] = [];
    const runtime = runtimeOn(storage, warnings);
    const units = vi.spyOn(storage, "unitOfWork");
    const other = { ...push, ref: "refs/heads/other" };
    const results = await Promise.all([
      runtime.acceptDelivery("push", "twice-1", push, raw(JSON.stringify(push))),
      runtime.acceptDelivery("push", "twice-1", other, raw(JSON.stringify(other))),
    ]);
    expect(results).toEqual([true, false]);
    expect(units).toHaveBeenCalledTimes(1);
    expect(await storage.deliveries.bodySha256("twice-1")).toBe(raw(JSON.stringify(push)).sha256);
    expect(await storage.deliveries.conflicts()).toEqual([
      expect.objectContaining({ deliveryId: "twice-1", bodySha256: raw(JSON.stringify(other)).sha256, body: JSON.stringify(other), times: 1 }),
    ]);
    expect(warnings).toEqual([expect.stringContaining("different body")]);
    await runtime.idle();
    await storage.close();
  });

  it("keeps the evidence as long as the deliveries it contradicts, counted from its last sending", async () => {
    const storage = openSqliteStorage(MEMORY);
    await storage.deliveries.record({ id: "kept-1", name: "push", action: null, installationId: 1, receivedAt: T0, bodySha256: "a".repeat(64) });
    const conflict = { deliveryId: "kept-1", name: "push", action: null, installationId: 1, firstBodySha256: "a".repeat(64), bodySha256: "b".repeat(64), bodyBytes: 2, body: "{}" };
    await storage.deliveries.recordConflict({ ...conflict, receivedAt: T0 });
    await storage.deliveries.recordConflict({ ...conflict, receivedAt: T0 + 10 });
    expect(await storage.deliveries.conflicts()).toEqual([expect.objectContaining({ firstReceivedAt: T0, lastReceivedAt: T0 + 10, times: 2 })]);
    await storage.deliveries.prune(T0 + 5);
    expect(await storage.deliveries.conflicts()).toHaveLength(1);
    await storage.deliveries.prune(T0 + 11);
    expect(await storage.deliveries.conflicts()).toEqual([]);
    await storage.close();
  });
});
