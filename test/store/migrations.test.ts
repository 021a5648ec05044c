// Upgrading a database written before findings and detector state were scoped by org: nothing filed is lost,
// issue links stay, new evidence lands on the same finding (so the same issue), and detector state is kept
// only where it provably belonged to one org.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import { MIGRATIONS } from "../../src/store/sqlite/migrations/index.js";
import { schemaVersion } from "../../src/store/sqlite/open.js";
import { Store } from "../../src/store/sqlite/store.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import { judgeBatch } from "../../src/pipeline/judge.js";
import { MINUTE, T0, makeConfig, makeEvent } from "../helpers/engine.js";

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-migrate-test-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A database as version 4 of the schema left it, with one filed finding, its evidence and detector state. */
function version4(name: string, orgs: string[]): string {
  const file = path.join(tmp, name);
  const db = new Database(file);
  for (const m of MIGRATIONS.filter((x) => x.version <= 4)) db.exec(m.up);
  db.pragma("user_version = 4");
  const finding = db.prepare(
    `INSERT INTO findings (fingerprint, detector, subject, org, installation_id, severity, summary, actor, repos,
       first_seen, last_seen, count, raised_reason, actor_checked, issue_repo, issue_number, filed_seq, created_at)
     VALUES (?, 'personal-fork', ?, ?, 42, 'high', 'forked', 'mallory', ?, ?, ?, 1, NULL, 1, ?, 7, 1, ?)`,
  );
  orgs.forEach((org, i) => {
    const subject = `${org}/api->mallory/api`;
    const id = finding.run(`personal-fork:${subject}`, subject, org, JSON.stringify([`${org}/api`]), T0, T0, `${org}/security-alerts`, T0).lastInsertRowid;
    db.prepare(
      `INSERT INTO evidence (finding_id, event_id, at, source, severity, summary, data, digest)
       VALUES (?, ?, ?, 'webhook', 'high', 'forked', '{"fork":"mallory/api"}', ?)`,
    ).run(id, `webhook:d${i}`, T0, `digest-${i}`);
    db.prepare(`INSERT INTO members (org, login, is_member, joined_at, updated_at) VALUES (?, 'mallory', 1, NULL, ?)`).run(org, T0);
  });
  db.prepare(`INSERT INTO detector_state (detector, key, value, expires_at) VALUES ('mass-clone', 'a:mallory', '{"n":4}', ?)`).run(T0 + 60 * MINUTE);
  db.close();
  return file;
}

describe("migration 5 (org scope)", () => {
  it("keeps every finding, its evidence and its issue link, and gives it its org's scope", () => {
    const store = Store.open(version4("one-org.db", ["Acme"]));
    expect(schemaVersion(store.db)).toBe(MIGRATIONS.at(-1)!.version);
    const [f] = store.listFindings();
    expect(f).toMatchObject({
      scope: "org:acme",
      fingerprint: "personal-fork:Acme/api->mallory/api",
      org: "Acme",
      orgs: ["Acme"],
      issueRepo: "Acme/security-alerts",
      issueNumber: 7,
      filedSeq: 1,
      actorChecked: true,
    });
    expect(store.evidence(f!.id)).toHaveLength(1);
    expect(store.db.pragma("foreign_key_check")).toEqual([]);
    expect(store.db.pragma("integrity_check", { simple: true })).toBe("ok");
    store.close();
  });

  it("adds new evidence of the same incident to the migrated finding, so it goes to the same issue", async () => {
    const storage = openSqliteStorage(version4("continue.db", ["Acme"]));
    const engine = new Engine({ now: () => T0 });
    const fork = makeEvent({
      action: "fork",
      source: "sweep",
      org: "Acme",
      repo: "Acme/api",
      visibility: "private",
      installationId: 42,
      at: T0 + MINUTE,
      details: { forkFullName: "mallory/api", forkOwner: "mallory", forkOwnerType: "User" },
    });
    const { recorded } = await judgeBatch([{ event: fork, config: makeConfig() }], {
      storage,
      engine,
      record: "stored",
      onEventError: (_event, err) => {
        throw err;
      },
    });
    expect(recorded).toMatchObject([{ isNew: false, added: true, finding: { issueNumber: 7, count: 2 } }]);
    expect(await storage.findings.list()).toHaveLength(1);
    await storage.close();
  });

  it("keeps detector state of a database that only saw one org, under that org", () => {
    const store = Store.open(version4("state-one.db", ["Acme"]));
    expect(store.loadScopeState("org:acme")).toEqual([{ detector: "mass-clone", key: "a:mallory", value: { n: 4 }, expiresAt: T0 + 60 * MINUTE }]);
    expect(store.loadScopeState("org:globex")).toEqual([]);
    store.close();
  });

  it("drops detector state that several orgs shared, which cannot be split", () => {
    const store = Store.open(version4("state-two.db", ["acme", "globex"]));
    expect(store.db.prepare("SELECT count(*) AS n FROM detector_state").get()).toEqual({ n: 0 });
    const scopes = store.listFindings().map((f) => f.scope);
    expect(scopes).toEqual(["org:acme", "org:globex"]);
    store.close();
  });
});
