// Migration 7: notices may name the repository they go to. A notice stored before it keeps going to the
// alerts.repo in force; one that names a repository keeps that name until it is filed or dropped.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../src/store/sqlite/migrations/index.js";
import { schemaVersion } from "../../src/store/sqlite/open.js";
import { Store } from "../../src/store/sqlite/store.js";
import { T0 } from "../helpers/engine.js";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-notice-repo-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("migration 7 (notice repository)", () => {
  it("keeps a notice stored before it pending, for the alerts.repo in force", () => {
    const file = path.join(tmp, "v6.db");
    const db = new Database(file);
    for (const m of MIGRATIONS.filter((x) => x.version <= 6)) db.exec(m.up);
    db.pragma("user_version = 6");
    db.prepare(
      `INSERT INTO config_reports (org, problem_hash, issue_number, reported_at, installation_id, title, body)
       VALUES ('acme', 'audit-log:gap', NULL, ?, 42, 'gap', 'the audit log was not read for 6 days')`,
    ).run(T0);
    db.close();

    const store = Store.open(file);
    expect(schemaVersion(store.db)).toBe(MIGRATIONS.at(-1)!.version);
    expect(store.pendingNotices()).toEqual([
      { org: "acme", key: "audit-log:gap", installationId: 42, title: "gap", body: "the audit log was not read for 6 days", repo: null },
    ]);
    store.close();
  });

  it("keeps the repository a notice names, and stops offering a dropped notice", () => {
    const store = Store.open(path.join(tmp, "new.db"));
    store.saveNotice({ org: "acme", key: "config-change:x:previous-repo", installationId: 42, title: "t", body: "b", repo: "sec-alerts" }, T0);
    expect(store.pendingNotices().map((n) => n.repo)).toEqual(["sec-alerts"]);
    store.dropNotice("acme", "config-change:x:previous-repo");
    expect(store.pendingNotices()).toEqual([]);
    expect(store.configReport("acme", "config-change:x:previous-repo")).toEqual({ issueNumber: null });
    store.close();
  });
});
