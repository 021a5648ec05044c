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
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import { MEMORY, schemaVersion } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
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

function runtimeOn(store: Store, warnings: string[]): Runtime {
  const octokitFor = async (): Promise<OctokitLike> => {
    throw new Error("no GitHub in this test");
  };
  const log = { debug: () => {}, info: () => {}, warn: (_o: object | string, msg?: string) => void warnings.push(msg ?? ""), error: () => {} };
  return new Runtime({ store, log, octokitFor, now: () => T0, alertWriteSpacingMs: 0 });
}

describe("migration 6 (webhook deliveries)", () => {
  it("keeps deliveries stored before it, and their redelivery stays quiet since their body is unknown", async () => {
    const file = path.join(tmp, "v5.db");
    const db = new Database(file);
    for (const m of MIGRATIONS.filter((x) => x.version <= 5)) db.exec(m.up);
    db.pragma("user_version = 5");
    db.prepare(`INSERT INTO deliveries (id, name, action, installation_id, received_at) VALUES ('old-1', 'push', NULL, 1, ?)`).run(T0);
    db.close();

    const store = Store.open(file);
    expect(schemaVersion(store.db)).toBeGreaterThanOrEqual(6);
    expect(store.deliveryBodySha256("old-1")).toBeNull();
    const warnings: string[] = [];
    const runtime = runtimeOn(store, warnings);
    expect(await runtime.acceptDelivery("push", "old-1", push, raw(JSON.stringify(push)))).toBe(false);
    expect(runtime.counters).toMatchObject({ duplicates: 1, conflicts: 0 });
    expect(store.deliveryConflicts()).toEqual([]);
    expect(warnings).toEqual([]);
    await runtime.idle();
    store.close();
  });
});

describe("a delivery id with two bodies", () => {
  it("is caught inside one group commit: the first body is processed, the second kept as evidence", async () => {
    const store = Store.open(MEMORY);
    const warnings: string[] = [];
    const runtime = runtimeOn(store, warnings);
    const transactions = vi.spyOn(store, "transaction");
    const other = { ...push, ref: "refs/heads/other" };
    const results = await Promise.all([
      runtime.acceptDelivery("push", "twice-1", push, raw(JSON.stringify(push))),
      runtime.acceptDelivery("push", "twice-1", other, raw(JSON.stringify(other))),
    ]);
    expect(results).toEqual([true, false]);
    expect(transactions).toHaveBeenCalledTimes(1);
    expect(store.deliveryBodySha256("twice-1")).toBe(raw(JSON.stringify(push)).sha256);
    expect(store.deliveryConflicts()).toEqual([
      expect.objectContaining({ deliveryId: "twice-1", bodySha256: raw(JSON.stringify(other)).sha256, body: JSON.stringify(other), times: 1 }),
    ]);
    expect(warnings).toEqual([expect.stringContaining("different body")]);
    await runtime.idle();
    store.close();
  });

  it("keeps the evidence as long as the deliveries it contradicts, counted from its last sending", () => {
    const store = Store.open(MEMORY);
    store.recordDelivery({ id: "kept-1", name: "push", action: null, installationId: 1, receivedAt: T0, bodySha256: "a".repeat(64) });
    const conflict = { deliveryId: "kept-1", name: "push", action: null, installationId: 1, firstBodySha256: "a".repeat(64), bodySha256: "b".repeat(64), bodyBytes: 2, body: "{}" };
    store.recordDeliveryConflict({ ...conflict, receivedAt: T0 });
    store.recordDeliveryConflict({ ...conflict, receivedAt: T0 + 10 });
    expect(store.deliveryConflicts()).toEqual([expect.objectContaining({ firstReceivedAt: T0, lastReceivedAt: T0 + 10, times: 2 })]);
    store.pruneDeliveries(T0 + 5);
    expect(store.deliveryConflicts()).toHaveLength(1);
    store.pruneDeliveries(T0 + 11);
    expect(store.deliveryConflicts()).toEqual([]);
    store.close();
  });
});
