import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { HOUR, MINUTE, T0, makeEngine, makeEvent } from "../helpers/engine.js";

/** Any located audit entry will do; the action is irrelevant to this detector. */
const seen = (country: string | null, at: number, over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "repo.access", repo: "acme/api", visibility: "private", country, at, ...over });

const FP = "multi-country:mallory:2026-10-02T10";

describe("multi-country", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("reports two countries within 2 h, high, even when the travel itself is plausible", async () => {
    const t = makeEngine();
    // FR → DE is ~800 km in an hour: possible by plane, but two countries in one window is the warning's sign.
    await t.run(seen("FR", T0), seen("FR", T0 + 30 * MINUTE), seen("DE", T0 + 90 * MINUTE));
    const all = await t.findings("multi-country");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "high", actor: "mallory" });
    expect(all[0]?.summary).toContain("FR, DE");
  });

  it("raises the same finding to critical when the account goes back and forth", async () => {
    const t = makeEngine();
    await t.run(seen("FR", T0), seen("DE", T0 + 30 * MINUTE));
    expect(await t.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    await t.run(seen("FR", T0 + 60 * MINUTE));
    const all = await t.findings("multi-country");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "critical", count: 2 });
    expect(all[0]?.summary).toContain("FR → DE → FR");
  });

  it("reports impossible travel beyond the window, high", async () => {
    const t = makeEngine();
    // ~10,000 km in 3 h.
    await t.run(seen("US", T0), seen("JP", T0 + 3 * HOUR));
    const all = await t.findings("multi-country");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "high" });
    expect(all[0]?.summary).toContain("impossible travel");
    const [ev] = await t.storage.findings.evidence(all[0]!.id);
    expect(String(ev?.data["impossible travel"])).toMatch(/^US → JP: ~10151 km in 180 min \(3384 km\/h\)$/);
  });

  it("folds the account's impossible journey home, hours after the incident, into the same finding", async () => {
    const t = makeEngine();
    await t.run(seen("US", T0), seen("KP", T0 + 10 * MINUTE), seen("US", T0 + 20 * MINUTE), seen("KP", T0 + 30 * MINUTE));
    await t.run(seen("US", T0 + 5 * HOUR));
    expect(await t.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "critical", count: 4 }]);
    // Days later the same pattern is a new incident.
    await t.run(seen("KP", T0 + 3 * 24 * HOUR), seen("US", T0 + 3 * 24 * HOUR + 30 * MINUTE));
    expect((await t.findings("multi-country")).map((f) => f.fingerprint)).toEqual([FP, "multi-country:mallory:2026-10-05T10"]);
  });

  it("stays quiet for plausible travel with hours in between", async () => {
    const t = makeEngine();
    // ~6,800 km in 10 h is an ordinary flight.
    await t.run(seen("US", T0), seen("US", T0 + HOUR), seen("GB", T0 + 11 * HOUR), seen("GB", T0 + 12 * HOUR));
    expect(await t.findings("multi-country")).toHaveLength(0);
  });

  it("ignores neighbours closer than min_distance_km for impossible travel", async () => {
    // AT → CH is ~484 km: 20 min apart is "faster than 1000 km/h", but centroids of neighbours are too rough.
    const settings = { window_hours: 0.25 };
    const t = makeEngine({ detectors: { "multi-country": settings } });
    await t.run(seen("AT", T0), seen("CH", T0 + 20 * MINUTE));
    expect(await t.findings("multi-country")).toHaveLength(0);
    const closer = makeEngine({ detectors: { "multi-country": { ...settings, min_distance_km: 400 } } });
    await closer.run(seen("AT", T0), seen("CH", T0 + 20 * MINUTE));
    expect(await closer.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
  });

  it("stays quiet for the same country again and again, for bots, and for events without a country", async () => {
    const t = makeEngine();
    await t.run(...Array.from({ length: 50 }, (_, i) => seen("DE", T0 + i * 10 * MINUTE)));
    await t.run(seen("US", T0, { actor: "ci[bot]", actorIsBot: true }), seen("KP", T0 + MINUTE, { actor: "ci[bot]", actorIsBot: true }));
    await t.run(seen(null, T0 + 2 * MINUTE), seen("ZZ", T0 + 3 * MINUTE));
    expect(await t.findings("multi-country")).toHaveLength(0);
  });

  it("adds evidence on each change of country, not on every repeat", async () => {
    const t = makeEngine();
    await t.run(
      seen("FR", T0),
      seen("DE", T0 + 10 * MINUTE),
      seen("DE", T0 + 20 * MINUTE),
      seen("DE", T0 + 30 * MINUTE),
      seen("PL", T0 + 40 * MINUTE),
    );
    expect(await t.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "high", count: 2 }]);
  });

  it("sees a late event inside another country's run as a back-and-forth", async () => {
    const t = makeEngine();
    await t.run(seen("fr", T0), seen("FR", T0 + 40 * MINUTE), seen("US", T0 + 20 * MINUTE));
    expect(await t.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "critical" }]);
  });

  it("does not read two countries at the same millisecond as a back-and-forth", async () => {
    const t = makeEngine();
    // Two entries stamped with the same time: FR then DE, nothing from FR after DE.
    await t.run(seen("FR", T0), seen("DE", T0));
    const first = await t.findings("multi-country");
    expect(first).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    expect(first[0]?.summary).toContain("FR, DE");
    // The same at the end of a longer run.
    const u = makeEngine();
    await u.run(seen("FR", T0), seen("FR", T0 + 10 * MINUTE), seen("DE", T0 + 10 * MINUTE));
    expect(await u.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
  });

  it("tracks a token seen without an actor", async () => {
    const t = makeEngine();
    await t.run(seen("US", T0, { actor: null, token: "h4sh" }), seen("KP", T0 + 20 * MINUTE, { actor: null, token: "h4sh" }));
    expect(await t.findings("multi-country")).toMatchObject([
      { fingerprint: "multi-country:token:h4sh:2026-10-02T10", severity: "high", actor: null },
    ]);
  });

  it("continues the window across a restart on the same database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "multi-country-"));
    dirs.push(dir);
    const file = path.join(dir, "db.sqlite");
    const first = makeEngine({}, { file });
    await first.run(seen("FR", T0));
    await first.close();
    const second = makeEngine({}, { file });
    await second.run(seen("DE", T0 + HOUR));
    expect(await second.findings()).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    await second.close();
  });
});
