// The engine's own promises: a detector that throws is isolated, allowlists silence findings without hiding
// events from detector bookkeeping, findings of new members and of young GitHub accounts are raised one step,
// and detector state kept in memory between batches is always what the storage holds.
import { afterEach, describe, expect, it, vi } from "vitest";
import { DETECTORS } from "../../src/detectors/index.js";
import { Engine } from "../../src/engine/engine.js";
import type { OrgEvent } from "../../src/events/types.js";
import { judgeBatch } from "../../src/pipeline/judge.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import type { Storage } from "../../src/store/storage.js";
import { DAY, HOUR, MINUTE, T0, makeConfig, makeEngine, makeEvent } from "../helpers/engine.js";

afterEach(() => {
  vi.restoreAllMocks();
});

const fork = (at: number, actor = "mallory") =>
  makeEvent({
    action: "fork",
    source: "webhook",
    at,
    actor,
    repo: "acme/api",
    visibility: "private",
    details: { forkFullName: `${actor}/api`, forkOwner: actor, forkOwnerType: "User" },
  });

describe("Engine", () => {
  it("logs and counts a detector that throws, and still runs the others", async () => {
    const deployKey = DETECTORS.find((d) => d.id === "deploy-key-added")!;
    vi.spyOn(deployKey, "detect").mockImplementation(() => {
      throw new Error("boom");
    });
    const t = makeEngine();
    // A user's SSH key: deploy-key-added reads the action too, credential-added reports it.
    await t.run(makeEvent({ action: "public_key.create", details: { keyFingerprint: "SHA256:abc", keyTitle: "laptop" } }));
    expect(t.engine.failures.get("deploy-key-added")).toBe(1);
    expect(t.errors).toHaveLength(1);
    expect((await t.findings()).map((f) => f.detector)).toEqual(["credential-added"]);
  });

  it("silences allowlisted actors, while their events still count for detector bookkeeping", async () => {
    const t = makeEngine({ allow: { actors: ["admin-*"] } });
    await t.run(
      makeEvent({ action: "repo.destroy", actor: "admin-jo", repo: "acme/old", at: T0 }),
      makeEvent({ action: "sweep.repo_missing", source: "sweep", actor: null, repo: "acme/old", visibility: "private", at: T0 + HOUR, details: { extra: { repo_id: 7 } } }),
    );
    // Neither the deletion (destructive-change) nor the hole it explains (repo-transferred) is reported.
    expect(await t.findings()).toEqual([]);
    await t.run(fork(T0, "admin-jo"));
    expect(await t.findings()).toEqual([]);
  });

  it("raises findings about someone who joined the org less than 30 days before, once", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "org.add_member", actor: "owner", at: T0, details: { user: "mallory" } }));
    await t.run(fork(T0 + 10 * DAY));
    const [f] = await t.findings("personal-fork");
    expect(f).toMatchObject({ severity: "critical" });
    expect(f!.raisedReason).toContain("joined acme");

    const old = makeEngine();
    await old.run(makeEvent({ action: "org.add_member", actor: "owner", at: T0, details: { user: "mallory" } }));
    await old.run(fork(T0 + 31 * DAY));
    expect((await old.findings("personal-fork"))[0]).toMatchObject({ severity: "high", raisedReason: null });
  });

  it("raises findings about a GitHub account created less than 30 days before, from what the directory knows", async () => {
    const t = makeEngine();
    await t.storage.directory.setAccount("mallory", T0 - 3 * DAY, T0);
    await t.storage.directory.setAccount("trent", T0 - 400 * DAY, T0);
    await t.run(fork(T0), fork(T0, "trent"), fork(T0, "oscar"));
    const severities = Object.fromEntries((await t.findings("personal-fork")).map((f) => [f.actor, [f.severity, f.raisedReason]]));
    expect(severities).toEqual({
      mallory: ["critical", "mallory's GitHub account was created on 2026-09-29, 3 days before"],
      trent: ["high", null],
      // Unknown to the directory (the CLI never looks accounts up): judged as it is.
      oscar: ["high", null],
    });
  });
});

/** Wraps a storage to count scope loads and to fail state writes on demand. */
function instrumented(inner: Storage) {
  const counts = { loads: 0 };
  let failWrites = false;
  const wrap = (tx: Storage): Storage => ({
    ...tx,
    state: {
      loadScope: (scope) => {
        counts.loads++;
        return tx.state.loadScope(scope);
      },
      write: (changes, expireBefore) => (failWrites ? Promise.reject(new Error("disk full")) : tx.state.write(changes, expireBefore)),
    },
    unitOfWork: (fn, opts) => tx.unitOfWork((inner2) => fn(wrap(inner2)), opts),
  });
  return { storage: wrap(inner), counts, failNextWrites: (on: boolean) => (failWrites = on) };
}

const clone = (n: number, at: number, org = "acme"): OrgEvent =>
  makeEvent({ action: "git.clone", org, repo: `${org}/repo-${n}`, visibility: "private", at });

async function judge(storage: Storage, engine: Engine, events: OrgEvent[]) {
  return judgeBatch(
    events.map((event) => ({ event, config: makeConfig() })),
    {
      storage,
      engine,
      record: "seen",
      onEventError: (_e, err) => {
        throw err;
      },
    },
  );
}

describe("Engine state between batches", () => {
  it("loads a scope's state once while it keeps judging that scope", async () => {
    const base = openSqliteStorage(MEMORY);
    const { storage, counts } = instrumented(base);
    const engine = new Engine({ now: () => T0 });
    for (let i = 0; i < 5; i++) await judge(storage, engine, [clone(i, T0 + i * MINUTE)]);
    expect(counts.loads).toBe(1);
    await judge(storage, engine, [clone(9, T0 + 9 * MINUTE, "globex")]);
    expect(counts.loads).toBe(2);
    await base.close();
  });

  it("forgets what a rolled-back batch changed, so the next batch reads what is stored", async () => {
    const base = openSqliteStorage(MEMORY);
    const { storage, failNextWrites } = instrumented(base);
    const engine = new Engine({ now: () => T0 });
    // Five clones: below the threshold of 6 distinct repositories in 30 minutes.
    await judge(storage, engine, [0, 1, 2, 3, 4].map((i) => clone(i, T0 + i * MINUTE)));
    failNextWrites(true);
    // This batch's clones would cross the threshold, but the batch is not stored.
    await expect(judge(storage, engine, [clone(5, T0 + 5 * MINUTE), clone(6, T0 + 6 * MINUTE)])).rejects.toThrow("disk full");
    failNextWrites(false);
    expect(await base.findings.list()).toEqual([]);
    // Had the engine kept the lost batch's window, one more repository would already make a finding with 8.
    const r = await judge(storage, engine, [clone(5, T0 + 7 * MINUTE)]);
    expect(r.recorded).toHaveLength(1);
    expect(r.recorded[0]!.finding.repos).toEqual([0, 1, 2, 3, 4, 5].map((n) => `acme/repo-${n}`));
    await base.close();
  });

  it("gives the same findings when its memory bound forces scopes out between batches", async () => {
    const orgs = ["acme", "globex", "initech"];
    const events = Array.from({ length: 60 }, (_, i) => clone(i % 8, T0 + i * MINUTE, orgs[i % 3]));
    const results: string[][] = [];
    for (const maxCachedState of [200_000, 1]) {
      const storage = openSqliteStorage(MEMORY);
      const engine = new Engine({ now: () => T0, maxCachedState });
      for (const e of events) await judge(storage, engine, [e]);
      results.push((await storage.findings.list()).map((f) => `${f.scope} ${f.fingerprint} ${f.severity} ${f.count}`));
      await storage.close();
    }
    expect(results[0]!.length).toBe(3);
    expect(results[1]).toEqual(results[0]);
  });
});

describe("Engine batches give the results of one event at a time", () => {
  const judgeIn = async (storage: Storage, engine: Engine, batches: OrgEvent[][]) => {
    for (const b of batches) await judge(storage, engine, b);
    return (await storage.findings.list()).map((f) => `${f.scope} ${f.fingerprint} ${f.severity} ${f.raisedReason ?? "-"}`);
  };

  it("counts an org's entries before the first one naming its enterprise with the org, wherever the batches end", async () => {
    // Six clones, only the sixth naming the enterprise: five count with the org, the sixth with the enterprise.
    const events = [0, 1, 2, 3, 4, 5].map((i) => ({ ...clone(i, T0 + i * MINUTE), ...(i === 5 ? { business: "globex-ent" } : {}) }));
    const results: string[][] = [];
    for (const size of [1, 6]) {
      const storage = openSqliteStorage(MEMORY);
      const engine = new Engine({ now: () => T0, scope: "business" });
      const batches = Array.from({ length: Math.ceil(events.length / size) }, (_, i) => events.slice(i * size, (i + 1) * size));
      results.push(await judgeIn(storage, engine, batches));
      await storage.close();
    }
    expect(results[0]).toEqual([]);
    expect(results[1]).toEqual(results[0]);
  });

  it("raises a new member's finding when the join and the copy come in one batch, whatever the letter case", async () => {
    const joined = makeEvent({ action: "org.add_member", actor: "owner", org: "Acme", at: T0 - DAY, details: { user: "Mallory" } });
    const results: string[][] = [];
    for (const batches of [[[joined], [fork(T0)]], [[joined, fork(T0)]]]) {
      const storage = openSqliteStorage(MEMORY);
      results.push(await judgeIn(storage, new Engine({ now: () => T0 }), batches));
      await storage.close();
    }
    expect(results[0]).toEqual([expect.stringMatching(/^org:acme personal-fork:.* critical mallory joined acme on 2026-10-01/)]);
    expect(results[1]).toEqual(results[0]);
  });

  it("drops a batch's state before the next batch starts when its commit fails", async () => {
    const base = openSqliteStorage(MEMORY);
    const engine = new Engine({ now: () => T0, log: { error: (obj) => errors.push(obj) } });
    const errors: unknown[] = [];
    await judge(base, engine, [clone(0, T0)]);
    // The next commit fails (a full disk), after everything in the batch succeeded.
    const db = base.store.db;
    const exec = db.exec.bind(db);
    let failCommit = true;
    db.exec = ((sql: string) => {
      if (sql === "COMMIT" && failCommit) {
        failCommit = false;
        throw new Error("SQLITE_FULL: database or disk is full");
      }
      return exec(sql);
    }) as typeof db.exec;
    const lost = judge(base, engine, [1, 2, 3, 4].map((i) => clone(i, T0 + i * MINUTE)));
    // Queued behind it: judged with what is stored (one repository), not with the lost batch's window.
    const next = judge(base, engine, [5, 6, 7].map((i) => clone(i, T0 + (4 + i) * MINUTE)));
    await expect(lost).rejects.toThrow("SQLITE_FULL");
    const r = await next;
    expect(errors).toEqual([]);
    expect(r.recorded).toEqual([]);
    const state = await base.state.loadScope("org:acme");
    const repos = JSON.stringify(state.filter((e) => e.detector === "mass-clone").map((e) => e.value));
    for (const n of [0, 5, 6, 7]) expect(repos).toContain(`acme/repo-${n}`);
    for (const n of [1, 2, 3, 4]) expect(repos).not.toContain(`acme/repo-${n}`);
    await base.close();
  });
});
