import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { HOUR, MINUTE, T0, makeEngine, makeEvent } from "../helpers/engine.js";

type Over = Partial<OrgEvent>;

const clone = (n: number, at: number, over: Over = {}) =>
  makeEvent({ action: "git.clone", repo: `acme/repo-${n}`, visibility: "private", at, ...over });

/** `count` distinct repositories, one every `step` ms from `start`. */
const burst = (count: number, start: number, step: number, over: Over = {}) =>
  Array.from({ length: count }, (_, i) => clone(i + 1, start + i * step, over));

const FP = "mass-clone:mallory:2026-10-02T10";

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
