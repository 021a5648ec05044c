// One instance watching several orgs: the same logins and the same repository names in two orgs must never add
// up, and nothing of one org may reach the other's issues or CLI lines. Each org's events are interleaved with
// the other's in several seeded random orders (each org keeps its own order, as its audit log would).
import nock from "nock";
import { beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../bench/generate-audit-log.js";
import { AlertDispatcher } from "../../src/alerts/dispatcher.js";
import { Engine } from "../../src/engine/engine.js";
import { scopeOf } from "../../src/engine/scope.js";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import type { OrgEvent } from "../../src/events/types.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import type { FindingRow, Storage } from "../../src/store/storage.js";
import { judgeBatch } from "../../src/pipeline/judge.js";
import type { Config } from "../../src/config/schema.js";
import { HOUR, MINUTE, T0, makeConfig, makeEvent } from "../helpers/engine.js";
import { silentLog, testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const ORGS = { acme: 1, globex: 2 } as const;
type OrgName = keyof typeof ORGS;

/**
 * What one org's log holds. Alone, each org crosses some thresholds and not others; the two together would
 * cross more: 4 + 4 clones by mallory (mass-clone needs more than 5), a token created in one org and used to
 * clone in the other (credential-added), the same login seen from a different country in each (multi-country),
 * and a travel that both orgs see (multi-country with the same subject in both).
 */
function orgEvents(org: OrgName): OrgEvent[] {
  const installationId = ORGS[org];
  const e = (over: Partial<OrgEvent> & { action: string }) => makeEvent({ org, installationId, source: "audit-log", ...over });
  const out: OrgEvent[] = [];
  for (let i = 0; i < 4; i++) {
    out.push(e({ action: "git.clone", actor: "mallory", repo: `${org}/r${i}`, visibility: "private", at: T0 + i * MINUTE, country: org === "acme" ? "US" : "KP" }));
  }
  if (org === "acme") {
    // bob creates a token here and clones with it in globex: only globex's clones are globex's business.
    out.push(e({ action: "personal_access_token.access_granted", actor: "bob", token: "tok-bob", at: T0 + 5 * MINUTE, country: "US" }));
    // eve copies 7 repos here: acme's own incident, whatever globex holds (the 7th comes after it is filed).
    for (let i = 0; i < 7; i++) {
      out.push(e({ action: "git.clone", actor: "eve", repo: `${org}/r${i}`, visibility: "private", at: T0 + (10 + i) * MINUTE, country: "US" }));
    }
  } else {
    for (let i = 0; i < 3; i++) {
      out.push(e({ action: "git.clone", actor: "bob", token: "tok-bob", repo: `${org}/r${i}`, visibility: "private", at: T0 + (20 + i) * MINUTE, country: "US" }));
    }
  }
  // carol is seen from two countries in both orgs: each org gets its own finding with the same fingerprint.
  out.push(e({ action: "repo.access", actor: "carol", repo: `${org}/r9`, visibility: "private", at: T0 + 30 * MINUTE, country: "DE" }));
  out.push(e({ action: "repo.access", actor: "carol", repo: `${org}/r9`, visibility: "private", at: T0 + 40 * MINUTE, country: "BR" }));
  // A fork of the same repo name in both orgs into the same personal account.
  out.push(
    e({
      action: "fork",
      source: "webhook",
      actor: "mallory",
      repo: `${org}/r0`,
      visibility: "private",
      at: T0 + HOUR,
      details: { forkFullName: "mallory/r0", forkOwner: "mallory", forkOwnerType: "User" },
    }),
  );
  return out;
}

/** Merges the lists at random, each keeping its own order. */
function interleave(lists: OrgEvent[][], random: () => number): OrgEvent[] {
  const rest = lists.map((l) => [...l]);
  const out: OrgEvent[] = [];
  for (;;) {
    const open = rest.filter((l) => l.length > 0);
    if (open.length === 0) return out;
    out.push(open[Math.floor(random() * open.length)]!.shift()!);
  }
}

/** Judges the events one at a time, as webhook intake does, and answers the storage they were judged into. */
async function run(events: OrgEvent[]): Promise<Storage> {
  const storage = openSqliteStorage(MEMORY);
  const engine = new Engine({ now: () => T0 });
  const config = makeConfig();
  for (const event of events) await judgeOne(storage, engine, config, event);
  return storage;
}

async function judgeOne(storage: Storage, engine: Engine, config: Config, event: OrgEvent): Promise<void> {
  await judgeBatch([{ event, config }], {
    storage,
    engine,
    record: "stored",
    onEventError: (_event, err) => {
      throw err;
    },
  });
}

/** Everything a finding shows, evidence included, in a form two runs can be compared by. */
async function shown(storage: Storage, f: FindingRow) {
  return {
    scope: f.scope,
    fingerprint: f.fingerprint,
    org: f.org,
    orgs: f.orgs,
    severity: f.severity,
    summary: f.summary,
    actor: f.actor,
    repos: f.repos,
    count: f.count,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    evidence: (await storage.findings.evidence(f.id)).map((e) => ({ eventId: e.eventId, data: e.data })),
  };
}

async function findingsOf(storage: Storage, org: OrgName) {
  const mine = (await storage.findings.list()).filter((f) => f.scope === `org:${org}`);
  const out = await Promise.all(mine.map((f) => shown(storage, f)));
  return out.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : 1));
}

describe("org isolation", () => {
  const acme = orgEvents("acme");
  const globex = orgEvents("globex");
  let alone: Record<OrgName, Awaited<ReturnType<typeof findingsOf>>>;
  beforeAll(async () => {
    alone = { acme: await findingsOf(await run(acme), "acme"), globex: await findingsOf(await run(globex), "globex") };
  });

  it("gives each org, alone, the incidents written into its log and none of the combined ones", () => {
    const detectors = (org: OrgName) => alone[org].map((f) => f.fingerprint.split(":")[0]);
    // eve's clones are acme's own; mallory's 4 per org stay below the threshold in each.
    expect(alone.acme.filter((f) => f.fingerprint.startsWith("mass-clone"))).toMatchObject([{ actor: "eve" }]);
    expect(detectors("globex")).not.toContain("mass-clone");
    // carol's travel is seen by both orgs: the same fingerprint in each.
    const carol = (org: OrgName) => alone[org].find((f) => f.fingerprint.startsWith("multi-country:carol"))?.fingerprint;
    expect(carol("acme")).toBeDefined();
    expect(carol("acme")).toBe(carol("globex"));
    // bob's token is low alone in acme; globex never saw it created.
    expect(alone.acme.find((f) => f.fingerprint.startsWith("credential-added"))).toMatchObject({ severity: "low" });
    expect(detectors("globex")).not.toContain("credential-added");
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`gives each org exactly its own findings when both orgs' events are interleaved (order ${seed})`, async () => {
      const storage = await run(interleave([acme, globex], mulberry32(seed)));
      expect(await findingsOf(storage, "acme")).toEqual(alone.acme);
      expect(await findingsOf(storage, "globex")).toEqual(alone.globex);
      expect((await storage.findings.list()).every((f) => f.scope === "org:acme" || f.scope === "org:globex")).toBe(true);
    });
  }

  it("stores two orgs' audit entries that share a document id, and takes the polled org over the one an entry names", async () => {
    const storage = openSqliteStorage(MEMORY);
    const entry = { _document_id: "same-id", action: "git.clone", actor: "mallory", created_at: T0, repo: "acme/r0", org: "acme" };
    const fromAcme = fromAuditLog(entry, { org: "acme", installationId: ORGS.acme })!;
    // globex's log cannot put an event into acme's scope by naming acme.
    const fromGlobex = fromAuditLog(entry, { org: "globex", installationId: ORGS.globex })!;
    expect(fromGlobex.org).toBe("globex");
    expect(await storage.events.add([fromAcme, fromGlobex, fromAuditLog(entry, { org: "globex", installationId: ORGS.globex })!])).toEqual([
      true,
      true,
      false,
    ]);
    expect(scopeOf(fromAcme)).toBe("org:acme");
    expect(scopeOf(fromGlobex)).toBe("org:globex");
  });

  it("keeps events that name no org apart by the installation they came through", () => {
    const none = { org: null, installationId: null };
    expect(scopeOf({ ...none, installationId: 1 })).not.toBe(scopeOf({ ...none, installationId: 2 }));
    expect(scopeOf(none)).toBe("org:");
  });

  it("files each org's issues and comments in its own alerts repository, naming nothing of the other org", async () => {
    const storage = openSqliteStorage(MEMORY);
    const engine = new Engine({ now: () => T0 });
    const config = makeConfig();
    const posts: Record<OrgName, string[]> = { acme: [], globex: [] };
    let issue = 0;
    for (const org of Object.keys(ORGS) as OrgName[]) {
      const repo = `/repos/${org}/security-alerts`;
      nock(API)
        .persist()
        .get(repo)
        .reply(200, { full_name: `${org}/security-alerts`, private: true, visibility: "private" })
        .post(new RegExp(`^${repo}/issues(/\\d+/comments)?$`))
        .reply(201, (uri, body) => {
          posts[org].push(`${uri} ${JSON.stringify(body)}`);
          issue += 1;
          return { number: issue, id: issue };
        });
    }
    nock(API).persist().get(/^\/users\/[a-z]+$/).reply(200, { login: "someone", created_at: "2015-03-01T00:00:00Z" });
    const octokits = new Map<number, OctokitLike>();
    const dispatcher = new AlertDispatcher({
      storage,
      log: silentLog,
      now: () => T0 + 2 * HOUR,
      writeSpacingMs: 0,
      octokitFor: async (id) => {
        if (!octokits.has(id)) octokits.set(id, testOctokit() as unknown as OctokitLike);
        return octokits.get(id)!;
      },
      configFor: async () => config,
      sleep: async () => {},
    });
    // Filing after every event, as the app does, sends later evidence out as comments.
    for (const event of interleave([acme, globex], mulberry32(7))) {
      await judgeOne(storage, engine, config, event);
      await dispatcher.flush();
    }
    await dispatcher.flush();
    nock.cleanAll();

    expect(posts.acme.length).toBeGreaterThan(0);
    expect(posts.globex.length).toBeGreaterThan(0);
    expect(posts.acme.some((p) => p.includes("/comments "))).toBe(true);
    for (const p of posts.acme) expect(p.toLowerCase()).not.toContain("globex");
    for (const p of posts.globex) expect(p.toLowerCase()).not.toContain("acme");
    for (const f of await storage.findings.list()) expect(f.issueRepo).toBe(`${f.org}/security-alerts`);
  });
});
