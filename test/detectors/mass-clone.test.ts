import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { DAY, HOUR, MINUTE, T0, makeEngine, makeEvent } from "../helpers/engine.js";

type Over = Partial<OrgEvent>;

const clone = (n: number, at: number, over: Over = {}) =>
  makeEvent({ action: "git.clone", repo: `acme/repo-${n}`, visibility: "private", at, ...over });

/** `count` distinct repositories, one every `step` ms from `start`. */
const burst = (count: number, start: number, step: number, over: Over = {}) =>
  Array.from({ length: count }, (_, i) => clone(i + 1, start + i * step, over));

const FP = "mass-clone:mallory:2026-10-02T10";

const fetch = (repo: string, at: number, over: Over = {}) =>
  makeEvent({ action: "git.fetch", repo, visibility: "private", at, ...over });

/** An `api.request` entry as the audit log stream gives it: the repository often only in the path. */
const apiRequest = (urlPath: string | null, at: number, over: Over = {}, method = "GET") =>
  makeEvent({
    action: "api.request",
    at,
    details: { extra: { request_method: method, ...(urlPath ? { url_path: urlPath } : {}), route: "/repos/{owner}/{repo}/tarball/{ref}" } },
    ...over,
  });

/**
 * Ordinary work: `actor` fetches each of `repos` every day at 09:00 from `fromDay` to `toDay` (days from T0,
 * inclusive). Gives the account a history and the org a past, so that "new" means something.
 */
const routine = (actor: string, repos: string[], fromDay: number, toDay: number) =>
  Array.from({ length: toDay - fromDay + 1 }, (_, d) =>
    repos.map((r) => fetch(r, T0 + (fromDay + d) * DAY - HOUR, { actor, actorId: 2000 })),
  ).flat();

/** `perNight` repositories `actor` never had, cloned at 02:00, 02:20, ... on each of `nights` nights after T0. */
const nightly = (actor: string, perNight: number, nights: number, name = (n: number) => `acme/new-${n}`) =>
  Array.from({ length: nights }, (_, night) =>
    Array.from({ length: perNight }, (_, k) =>
      makeEvent({
        action: "git.clone",
        actor,
        repo: name(night * perNight + k + 1),
        visibility: "private",
        at: T0 + night * DAY + 16 * HOUR + k * 20 * MINUTE,
      }),
    ),
  ).flat();

describe("mass-clone", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("reports more than 5 distinct private repositories within 30 min, high, named after the burst's first hour", async () => {
    const t = makeEngine();
    await t.run(...burst(6, T0 + 5 * MINUTE, 5 * MINUTE));
    const all = await t.findings("mass-clone");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "high", actor: "mallory", count: 1 });
    expect(all[0]?.repos).toHaveLength(6);
  });

  it("counts clones and zip downloads of internal repositories together", async () => {
    const t = makeEngine();
    const events = burst(6, T0, MINUTE, { visibility: "internal" }).map((e, i) =>
      i % 2 === 0 ? e : { ...e, action: "repo.download_zip" },
    );
    await t.run(...events);
    expect((await t.findings("mass-clone"))[0]).toMatchObject({ fingerprint: FP, severity: "high" });
  });

  it("stays quiet at exactly the threshold: 5 distinct repositories in 30 min", async () => {
    const t = makeEngine();
    await t.run(...burst(5, T0, 5 * MINUTE));
    expect(await t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet for one repository cloned many times", async () => {
    const t = makeEngine();
    await t.run(...Array.from({ length: 40 }, (_, i) => clone(1, T0 + i * MINUTE)));
    expect(await t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet when the same repositories are spread over hours", async () => {
    const t = makeEngine();
    // Two rounds over 12 repositories, one every 10 min: never more than 4 in any 30 min.
    const round = (start: number) => burst(12, start, 10 * MINUTE);
    await t.run(...round(T0), ...round(T0 + 3 * HOUR));
    expect(await t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet for bots, app tokens, public repositories and anonymous public clones", async () => {
    const t = makeEngine();
    await t.run(...burst(12, T0, MINUTE, { actor: "ci[bot]", actorIsBot: true }));
    await t.run(...burst(12, T0, MINUTE, { actor: null, token: "app", tokenType: "GitHub App server-to-server token" }));
    await t.run(...burst(12, T0, MINUTE, { visibility: "public" }));
    await t.run(...burst(12, T0, MINUTE, { actor: null, actorId: null, visibility: "public" }));
    expect(await t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet for actors on allow.actors", async () => {
    const t = makeEngine({ allow: { actors: ["mallory"] } });
    await t.run(...burst(12, T0, MINUTE));
    expect(await t.findings("mass-clone")).toHaveLength(0);
  });

  it("raises the same finding to critical when the burst reaches 10 repositories in 10 min", async () => {
    const t = makeEngine();
    const events = burst(10, T0 + 10 * MINUTE, MINUTE);
    await t.run(...events.slice(0, 6));
    expect(await t.findings("mass-clone")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    await t.run(...events.slice(6));
    const all = await t.findings("mass-clone");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "critical", count: 5 });
    expect(all[0]?.summary).toContain("at least 10");
    expect(all[0]?.repos).toHaveLength(10);
  });

  it("keeps a burst that crosses the hour on the hour of its first clone, and adds later copies as evidence", async () => {
    const t = makeEngine();
    await t.run(...burst(8, T0 + 50 * MINUTE, 3 * MINUTE));
    const all = await t.findings("mass-clone");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, count: 3 });
    expect((await t.storage.findings.evidence(all[0]!.id)).map((e) => e.data.repo)).toEqual([
      "acme/repo-6",
      "acme/repo-7",
      "acme/repo-8",
    ]);
  });

  it("files a new finding for a new burst after a quiet window", async () => {
    const t = makeEngine();
    await t.run(...burst(6, T0, MINUTE), ...burst(6, T0 + 3 * HOUR, MINUTE));
    expect((await t.findings("mass-clone")).map((f) => f.fingerprint)).toEqual([FP, "mass-clone:mallory:2026-10-02T13"]);
  });

  it("names a burst without an actor after its hashed token", async () => {
    const t = makeEngine();
    await t.run(...burst(6, T0, MINUTE, { actor: null, actorId: null, token: "h4sh" }));
    expect((await t.findings("mass-clone"))[0]).toMatchObject({
      fingerprint: "mass-clone:token:h4sh:2026-10-02T10",
      severity: "high",
      actor: null,
    });
  });

  it("counts a slightly out-of-order stream the same way", async () => {
    const t = makeEngine();
    const events = burst(6, T0, 2 * MINUTE);
    await t.run(events[1]!, events[0]!, events[3]!, events[2]!, events[5]!, events[4]!);
    expect(await t.findings("mass-clone")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
  });

  it("follows its thresholds from the config", async () => {
    const t = makeEngine({ detectors: { "mass-clone": { high_more_than_repos: 2, high_window_minutes: 5 } } });
    await t.run(...burst(3, T0, 2 * MINUTE));
    expect(await t.findings("mass-clone")).toHaveLength(1);
    const quiet = makeEngine({ detectors: { "mass-clone": { high_more_than_repos: 2, high_window_minutes: 5 } } });
    await quiet.run(...burst(3, T0, 3 * MINUTE));
    expect(await quiet.findings("mass-clone")).toHaveLength(0);
  });

  it("continues the window across a restart on the same database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mass-clone-"));
    dirs.push(dir);
    const file = path.join(dir, "db.sqlite");
    const events = burst(10, T0, MINUTE);

    const first = makeEngine({}, { file });
    await first.run(...events.slice(0, 4));
    expect(await first.findings()).toHaveLength(0);
    await first.close();

    const second = makeEngine({}, { file });
    await second.run(...events.slice(4, 6));
    expect(await second.findings()).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    await second.close();

    const third = makeEngine({}, { file });
    await third.run(...events.slice(6));
    expect(await third.findings()).toMatchObject([{ fingerprint: FP, severity: "critical" }]);
    await third.close();
  });

  describe("fetches and archive downloads", () => {
    it("counts nine new repositories copied through one clone and eight first fetches as a burst", async () => {
      const t = makeEngine();
      await t.run(clone(1, T0 + 5 * MINUTE), ...Array.from({ length: 8 }, (_, i) => fetch(`acme/repo-${i + 2}`, T0 + (7 + 2 * i) * MINUTE)));
      const all = await t.findings("mass-clone");
      expect(all).toMatchObject([{ fingerprint: FP, severity: "high", actor: "mallory" }]);
      expect(all[0]?.repos).toHaveLength(9);
      expect(all[0]?.summary).toContain("first fetches");
      expect((await t.storage.findings.evidence(all[0]!.id)).map((e) => e.data.copy)).toEqual(["first fetch", "first fetch", "first fetch", "first fetch"]);
    });

    it("stays quiet for repeated fetches of repositories the account already cloned or fetched", async () => {
      const t = makeEngine();
      // Day one: six repositories cloned and six fetched for the first time, one an hour (no burst).
      const repos = Array.from({ length: 12 }, (_, i) => `acme/repo-${i + 1}`);
      await t.run(
        ...repos.map((r, i) => (i < 6 ? clone(i + 1, T0 + i * 2 * HOUR) : fetch(r, T0 + i * 2 * HOUR - HOUR))),
      );
      expect(await t.findings("mass-clone")).toHaveLength(0);
      // The next mornings all twelve are fetched within twelve minutes: ordinary work, however fast.
      for (const day of [1, 2, 3]) await t.run(...repos.map((r, i) => fetch(r, T0 + day * DAY + i * MINUTE)));
      expect(await t.findings("mass-clone")).toHaveLength(0);
    });

    it("counts first fetches without an actor against the token's own history", async () => {
      const t = makeEngine();
      const tokenOnly = { actor: null, actorId: null, token: "h4sh" };
      const sweep = (start: number) => Array.from({ length: 6 }, (_, i) => fetch(`acme/repo-${i + 1}`, start + i * MINUTE, tokenOnly));
      await t.run(...sweep(T0));
      await t.run(...sweep(T0 + DAY));
      const all = await t.findings("mass-clone");
      expect(all).toMatchObject([{ fingerprint: "mass-clone:token:h4sh:2026-10-02T10", severity: "high", actor: null, count: 1 }]);
    });

    it("forgets a repository 30 days after the account last touched it, and then counts its fetch again", async () => {
      const t = makeEngine();
      await t.run(...burst(6, T0, HOUR));
      const fetchAll = (day: number) => Array.from({ length: 6 }, (_, i) => fetch(`acme/repo-${i + 1}`, T0 + day * DAY + i * MINUTE));
      await t.run(...fetchAll(20));
      expect(await t.findings("mass-clone")).toHaveLength(0);
      // 32 days after the last fetch: the history no longer holds them, so this is a copy again.
      await t.run(...fetchAll(52));
      expect(await t.findings("mass-clone")).toMatchObject([{ severity: "high", fingerprint: "mass-clone:mallory:2026-11-23T10" }]);
    });

    it("counts tarball and zipball downloads through the API, reading the repository from the path", async () => {
      const t = makeEngine();
      await t.run(
        apiRequest("/repos/acme/repo-1/tarball/main", T0),
        apiRequest("/repos/acme/repo-2/zipball/v1.2", T0 + MINUTE),
        // Not archive downloads of the org's repositories: another call, a HEAD, another owner's code.
        apiRequest("/repos/acme/repo-9/contents/README.md", T0 + 2 * MINUTE),
        apiRequest("/repos/acme/repo-8/tarball/main", T0 + 3 * MINUTE, {}, "HEAD"),
        apiRequest("/repos/nodejs/node/tarball/v20.0.0", T0 + 4 * MINUTE),
        apiRequest("/repos/acme/repo-3/tarball", T0 + 5 * MINUTE),
        apiRequest("https://api.github.com/repos/acme/repo-4/zipball/main?download=1", T0 + 6 * MINUTE),
        // The entry names the repository itself; only the route says it was an archive.
        apiRequest(null, T0 + 7 * MINUTE, { repo: "acme/repo-5", visibility: "internal" }),
        clone(6, T0 + 8 * MINUTE),
      );
      const all = await t.findings("mass-clone");
      expect(all).toMatchObject([{ fingerprint: FP, severity: "high" }]);
      expect(all[0]?.repos).toEqual(["acme/repo-1", "acme/repo-2", "acme/repo-3", "acme/repo-4", "acme/repo-5", "acme/repo-6"]);
    });

    it("stays quiet for archive downloads of public repositories and by app tokens", async () => {
      const t = makeEngine();
      const paths = Array.from({ length: 8 }, (_, i) => `/repos/acme/repo-${i + 1}/tarball/main`);
      await t.run(...paths.map((p, i) => apiRequest(p, T0 + i * MINUTE, { visibility: "public" })));
      await t.run(...paths.map((p, i) => apiRequest(p, T0 + i * MINUTE, { actor: null, token: "app", tokenType: "GitHub App server-to-server token" })));
      expect(await t.findings("mass-clone")).toHaveLength(0);
    });
  });

  describe("slow copying", () => {
    it("reports 236 distinct repositories in 24 h, one every six minutes, from the daily tier", async () => {
      const t = makeEngine();
      // Six minutes and one second apart: at exactly six, a 30-minute window holds six copies at its two
      // edges and the burst tier would report it; this pace stays under every short window.
      await t.run(...burst(236, T0, 6 * MINUTE + 1000));
      const all = await t.findings("mass-clone");
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ fingerprint: "mass-clone:mallory:day:2026-10-02", severity: "high", count: 236 - 50 });
      expect(all[0]?.summary).toContain("more than 50");
      expect(all[0]?.repos).toHaveLength(236);
    });

    it("counts the daily tier per token too, and follows its threshold from the config", async () => {
      const t = makeEngine({ detectors: { "mass-clone": { daily_more_than_repos: 10 } } });
      await t.run(...burst(11, T0, 2 * HOUR, { actor: null, actorId: null, token: "h4sh" }));
      expect(await t.findings("mass-clone")).toMatchObject([{ fingerprint: "mass-clone:token:h4sh:day:2026-10-02", count: 1 }]);
      const quiet = makeEngine({ detectors: { "mass-clone": { daily_more_than_repos: 10 } } });
      await quiet.run(...burst(10, T0, 2 * HOUR, { actor: null, actorId: null, token: "h4sh" }));
      expect(await quiet.findings("mass-clone")).toHaveLength(0);
    });

    it("reports an account copying 4 repositories it never had every night for 7 nights, from its own history", async () => {
      const t = makeEngine();
      await t.run(...routine("mallory", ["acme/web", "acme/api", "acme/docs"], -14, 0));
      await t.run(...nightly("mallory", 4, 7));
      const all = await t.findings("mass-clone");
      // Fires with the 20th new repository (the fifth night), and each later one adds evidence.
      expect(all).toMatchObject([{ fingerprint: "mass-clone:mallory:new-repos:2026-10-03", severity: "medium", count: 9 }]);
      expect(all[0]?.repos).toHaveLength(28);
      expect(all[0]?.repos).not.toContain("acme/web");
      expect(all[0]?.summary).toContain("new to the account within 7 days");
    });

    it("stays quiet for 2 new repositories a night for 7 nights", async () => {
      const t = makeEngine();
      await t.run(...routine("mallory", ["acme/web", "acme/api", "acme/docs"], -14, 0));
      await t.run(...nightly("mallory", 2, 7));
      expect(await t.findings("mass-clone")).toHaveLength(0);
    });

    it("waits until it has watched the org for the window before calling repositories new", async () => {
      // Nothing seen before: every repository is new to everyone during the first week, so nothing is judged.
      const t = makeEngine();
      await t.run(...nightly("mallory", 4, 7));
      expect(await t.findings("mass-clone")).toHaveLength(0);
    });

    it("stays quiet for a new member cloning five team repositories on day one and fetching them every day", async () => {
      const t = makeEngine();
      await t.run(...routine("alice", ["acme/web", "acme/api"], -14, 0));
      const team = ["acme/team-api", "acme/team-web", "acme/team-infra", "acme/team-docs", "acme/team-tools"];
      await t.run(...team.map((repo, i) => makeEvent({ action: "git.clone", actor: "newbie", repo, visibility: "private", at: T0 + i * 4 * MINUTE })));
      await t.run(...routine("newbie", team, 1, 14));
      expect(await t.findings("mass-clone")).toHaveLength(0);
    });

    it("reports a nightly scanner's first night of 50 repositories once, then nothing for two weeks of the same 50", async () => {
      const t = makeEngine();
      await t.run(...routine("alice", ["acme/web", "acme/api"], -14, 0));
      const scanner = { actor: "acme-scanner", actorId: 3000, token: "scan", tokenType: "Fine-grained personal access token" };
      // 50 repositories from 01:00, one every 10 minutes: no burst, and 50 a day is not more than 50.
      const night = (n: number) =>
        Array.from({ length: 50 }, (_, i) => clone(i + 1, T0 + n * DAY + 15 * HOUR + i * 10 * MINUTE, scanner));
      for (let n = 0; n < 14; n++) await t.run(...night(n));
      const all = await t.findings("mass-clone");
      expect(all).toHaveLength(1);
      // 50 repositories it never had, in one night: worth one look (then allow.actors), from the 20th on.
      expect(all[0]).toMatchObject({ fingerprint: "mass-clone:acme-scanner:new-repos:2026-10-03", severity: "medium", count: 31 });
      expect(all[0]?.lastSeen).toBeLessThan(T0 + DAY);
    });
  });

  it("ignores events it cannot use instead of throwing", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "git.clone", repo: null }),
      makeEvent({ action: "git.clone", repo: "acme/x", actor: null, actorId: null }),
    );
    // Not storable, so straight to the engine: a broken time must not reach Date#toISOString.
    t.engine.process(makeEvent({ action: "git.clone", repo: "acme/x", at: Number.NaN }), t.config);
    expect(t.errors).toEqual([]);
    expect(await t.findings("mass-clone")).toHaveLength(0);
  });
});
