import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { OrgEvent } from "../../src/events/types.js";
import { Store } from "../../src/store/store.js";
import { HOUR, MINUTE, T0, makeConfig, makeEngine, makeEvent } from "../helpers/engine.js";

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

  it("reports more than 5 distinct private repositories within 30 min, high, named after the burst's first hour", () => {
    const t = makeEngine();
    t.run(...burst(6, T0 + 5 * MINUTE, 5 * MINUTE));
    const all = t.findings("mass-clone");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "high", actor: "mallory", count: 1 });
    expect(all[0]?.repos).toHaveLength(6);
  });

  it("counts clones and zip downloads of internal repositories together", () => {
    const t = makeEngine();
    const events = burst(6, T0, MINUTE, { visibility: "internal" }).map((e, i) =>
      i % 2 === 0 ? e : { ...e, action: "repo.download_zip" },
    );
    t.run(...events);
    expect(t.findings("mass-clone")[0]).toMatchObject({ fingerprint: FP, severity: "high" });
  });

  it("stays quiet at exactly the threshold: 5 distinct repositories in 30 min", () => {
    const t = makeEngine();
    t.run(...burst(5, T0, 5 * MINUTE));
    expect(t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet for one repository cloned many times", () => {
    const t = makeEngine();
    t.run(...Array.from({ length: 40 }, (_, i) => clone(1, T0 + i * MINUTE)));
    expect(t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet when the same repositories are spread over hours", () => {
    const t = makeEngine();
    // Two rounds over 12 repositories, one every 10 min: never more than 4 in any 30 min.
    const round = (start: number) => burst(12, start, 10 * MINUTE);
    t.run(...round(T0), ...round(T0 + 3 * HOUR));
    expect(t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet for bots, app tokens, public repositories and anonymous public clones", () => {
    const t = makeEngine();
    t.run(...burst(12, T0, MINUTE, { actor: "ci[bot]", actorIsBot: true }));
    t.run(...burst(12, T0, MINUTE, { actor: null, token: "app", tokenType: "GitHub App server-to-server token" }));
    t.run(...burst(12, T0, MINUTE, { visibility: "public" }));
    t.run(...burst(12, T0, MINUTE, { actor: null, actorId: null, visibility: "public" }));
    expect(t.findings("mass-clone")).toHaveLength(0);
  });

  it("stays quiet for actors on allow.actors", () => {
    const t = makeEngine({ allow: { actors: ["mallory"] } });
    t.run(...burst(12, T0, MINUTE));
    expect(t.findings("mass-clone")).toHaveLength(0);
  });

  it("raises the same finding to critical when the burst reaches 10 repositories in 10 min", () => {
    const t = makeEngine();
    const events = burst(10, T0 + 10 * MINUTE, MINUTE);
    t.run(...events.slice(0, 6));
    expect(t.findings("mass-clone")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    t.run(...events.slice(6));
    const all = t.findings("mass-clone");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "critical", count: 5 });
    expect(all[0]?.summary).toContain("at least 10");
    expect(all[0]?.repos).toHaveLength(10);
  });

  it("keeps a burst that crosses the hour on the hour of its first clone, and adds later copies as evidence", () => {
    const t = makeEngine();
    t.run(...burst(8, T0 + 50 * MINUTE, 3 * MINUTE));
    const all = t.findings("mass-clone");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, count: 3 });
    expect(t.store.evidence(all[0]!.id).map((e) => e.data.repo)).toEqual([
      "acme/repo-6",
      "acme/repo-7",
      "acme/repo-8",
    ]);
  });

  it("files a new finding for a new burst after a quiet window", () => {
    const t = makeEngine();
    t.run(...burst(6, T0, MINUTE), ...burst(6, T0 + 3 * HOUR, MINUTE));
    expect(t.findings("mass-clone").map((f) => f.fingerprint)).toEqual([FP, "mass-clone:mallory:2026-10-02T13"]);
  });

  it("names a burst without an actor after its hashed token", () => {
    const t = makeEngine();
    t.run(...burst(6, T0, MINUTE, { actor: null, actorId: null, token: "h4sh" }));
    expect(t.findings("mass-clone")[0]).toMatchObject({
      fingerprint: "mass-clone:token:h4sh:2026-10-02T10",
      severity: "high",
      actor: null,
    });
  });

  it("counts a slightly out-of-order stream the same way", () => {
    const t = makeEngine();
    const events = burst(6, T0, 2 * MINUTE);
    t.run(events[1]!, events[0]!, events[3]!, events[2]!, events[5]!, events[4]!);
    expect(t.findings("mass-clone")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
  });

  it("follows its thresholds from the config", () => {
    const t = makeEngine({ detectors: { "mass-clone": { high_more_than_repos: 2, high_window_minutes: 5 } } });
    t.run(...burst(3, T0, 2 * MINUTE));
    expect(t.findings("mass-clone")).toHaveLength(1);
    const quiet = makeEngine({ detectors: { "mass-clone": { high_more_than_repos: 2, high_window_minutes: 5 } } });
    quiet.run(...burst(3, T0, 3 * MINUTE));
    expect(quiet.findings("mass-clone")).toHaveLength(0);
  });

  it("continues the window across a restart on the same database", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mass-clone-"));
    dirs.push(dir);
    const file = path.join(dir, "db.sqlite");
    const config = makeConfig();
    const events = burst(10, T0, MINUTE);

    const first = Store.open(file);
    for (const e of events.slice(0, 4)) new Engine({ store: first, now: () => T0 }).process(e, config);
    expect(first.listFindings()).toHaveLength(0);
    first.close();

    const second = Store.open(file);
    const engine = new Engine({ store: second, now: () => T0 });
    for (const e of events.slice(4, 6)) engine.process(e, config);
    expect(second.listFindings()).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    second.close();

    const third = Store.open(file);
    const again = new Engine({ store: third, now: () => T0 });
    for (const e of events.slice(6)) again.process(e, config);
    expect(third.listFindings()).toMatchObject([{ fingerprint: FP, severity: "critical" }]);
    third.close();
  });

  it("ignores events it cannot use instead of throwing", () => {
    const t = makeEngine();
    t.run(
      makeEvent({ action: "git.clone", repo: null }),
      makeEvent({ action: "git.clone", repo: "acme/x", actor: null, actorId: null }),
    );
    // Not storable, so straight to the engine: a broken time must not reach Date#toISOString.
    t.engine.process(makeEvent({ action: "git.clone", repo: "acme/x", at: Number.NaN }), t.config);
    expect(t.errors).toEqual([]);
    expect(t.findings("mass-clone")).toHaveLength(0);
  });
});
