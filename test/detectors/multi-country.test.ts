import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { DAY, HOUR, MINUTE, T0, makeEngine, makeEvent } from "../helpers/engine.js";

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

  it("never reads neighbours as impossible travel, and ignores other countries closer than min_distance_km", async () => {
    // AT → CH: centroids ~484 km apart, an hour apart, outside a 15-minute window. The owner may live at the
    // border, so even with no minimum distance this is not impossible travel.
    const settings = { window_hours: 0.25, min_distance_km: 0 };
    const t = makeEngine({ detectors: { "multi-country": settings } });
    await t.run(seen("AT", T0), seen("CH", T0 + HOUR), seen("CH", T0 + 2 * HOUR), seen("AT", T0 + 2 * HOUR + 20 * MINUTE));
    expect(await t.findings("multi-country")).toHaveLength(0);
    // DK → NO is a ferry, not a border: centroids ~472 km apart are under the default 500 km...
    const sea = makeEngine({ detectors: { "multi-country": { window_hours: 0.25 } } });
    await sea.run(seen("DK", T0), seen("NO", T0 + 20 * MINUTE));
    expect(await sea.findings("multi-country")).toHaveLength(0);
    // ...and impossible in 20 minutes once the minimum allows it.
    const closer = makeEngine({ detectors: { "multi-country": { window_hours: 0.25, min_distance_km: 400 } } });
    await closer.run(seen("DK", T0), seen("NO", T0 + 20 * MINUTE));
    expect(await closer.findings("multi-country")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
    // A distant pair that is not a neighbour, an hour apart, is.
    const far = makeEngine({ detectors: { "multi-country": { window_hours: 0.25 } } });
    await far.run(seen("DE", T0), seen("PT", T0 + HOUR));
    const [f] = await far.findings("multi-country");
    expect(f?.summary).toContain("DE then PT 60 min apart (impossible travel)");
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

  describe("travel versus a VPN", () => {
    /** Midnight UTC of T0's day. */
    const D0 = T0 - 10 * HOUR;
    const at = (day: number, hour: number, minute = 0) => D0 + day * DAY + hour * HOUR + minute * MINUTE;
    const HOME_IP = "203.0.113.7";
    /** The corporate VPN's egress network, in the US. */
    const vpn = (host: number) => `198.51.100.${host}`;
    /** Five colleagues using the VPN from the US every few days, from two days before mallory's history starts. */
    const colleagues = () =>
      [-2, 1, 4, 7, 10, 13].flatMap((day) =>
        [1, 2, 3, 4, 5].map((n) => seen("US", at(day, 9), { actor: `colleague${n}`, ip: vpn(10 + n) })),
      );
    /** Home in Germany in the morning, the VPN's US exit through the working day, home again in the evening. */
    const workday = (day: number) => [
      seen("DE", at(day, 7), { ip: HOME_IP }),
      seen("US", at(day, 8, 30), { ip: vpn(50) }),
      seen("US", at(day, 12), { ip: vpn(50) }),
      seen("US", at(day, 16, 30), { ip: vpn(50) }),
      seen("DE", at(day, 18), { ip: HOME_IP }),
    ];
    const twoWeeks = () => Array.from({ length: 14 }, (_, d) => workday(d)).flat();
    const inOrder = (events: OrgEvent[]) => [...events].sort((a, b) => a.at - b.at);

    it("stays quiet for an account alternating home and a shared corporate VPN exit daily for two weeks", async () => {
      const t = makeEngine();
      await t.run(...inOrder([...colleagues(), ...twoWeeks()]));
      expect(await t.findings("multi-country")).toHaveLength(0);
      // Switching back and forth within the hour is still explained: both countries usual, one a shared exit.
      await t.run(
        seen("DE", at(14, 7), { ip: HOME_IP }),
        seen("US", at(14, 7, 20), { ip: vpn(50) }),
        seen("DE", at(14, 7, 40), { ip: HOME_IP }),
      );
      expect(await t.findings("multi-country")).toHaveLength(0);
    });

    it("reports the same account seen in a third country within the hour", async () => {
      const t = makeEngine();
      await t.run(...inOrder([...colleagues(), ...twoWeeks()]));
      await t.run(
        seen("DE", at(14, 7), { ip: HOME_IP }),
        seen("US", at(14, 7, 30), { ip: vpn(50) }),
        seen("UA", at(14, 8), { ip: "192.0.2.9" }),
      );
      const all = await t.findings("multi-country");
      expect(all).toMatchObject([{ fingerprint: "multi-country:mallory:2026-10-16T07", severity: "high" }]);
      expect(all[0]?.summary).toContain("UA new to the account");
      const [ev] = await t.storage.findings.evidence(all[0]!.id);
      expect(ev?.data).toMatchObject({
        "new to the account": "UA",
        "through a shared exit": "US",
        "usual countries (3+ days in 30)": "DE, US",
      });
    });

    it("takes the VPN's ranges from shared_exits from the first day, and without them learns the pair in three days", async () => {
      const listed = makeEngine({ detectors: { "multi-country": { shared_exits: ["198.51.100.0/24"] } } });
      await listed.run(...twoWeeks());
      expect(await listed.findings("multi-country")).toHaveLength(0);
      // No colleagues, no list: each switch is reported (two countries, impossible travel) until DE, US and
      // the DE–US pair have each been seen on three distinct days: the third day's morning switch is the last.
      const t = makeEngine();
      await t.run(...twoWeeks());
      expect((await t.findings("multi-country")).map((f) => f.fingerprint.slice("multi-country:mallory:".length))).toEqual([
        "2026-10-02T07",
        "2026-10-02T16",
        "2026-10-03T07",
        "2026-10-03T16",
        "2026-10-04T07",
      ]);
    });

    it("does not let a few accounts that appear together make their network a shared exit", async () => {
      const t = makeEngine();
      // Five accounts first seen on the network today: nothing vouches for it yet.
      await t.run(
        ...[1, 2, 3, 4, 5].map((n) => seen("US", at(0, 6), { actor: `newcomer${n}`, ip: vpn(10 + n) })),
        seen("DE", at(0, 7), { ip: HOME_IP }),
        seen("US", at(0, 7, 30), { ip: vpn(50) }),
      );
      expect(await t.findings("multi-country")).toMatchObject([{ severity: "high" }]);
    });

    /** A cross-border commuter: home in Germany, the office in France, every day for two weeks. */
    const commuter = (far = "FR") =>
      Array.from({ length: 14 }, (_, d) => [seen("DE", at(d, 8)), seen(far, at(d, 9)), seen(far, at(d, 16))]).flat();

    it("learns a usual pair of countries, and still reports a back-and-forth between them within the window", async () => {
      const t = makeEngine();
      await t.run(...commuter());
      // The first three days, before DE, FR and the pair are usual.
      expect((await t.findings("multi-country")).map((f) => f.fingerprint)).toEqual([
        "multi-country:mallory:2026-10-02T08",
        "multi-country:mallory:2026-10-03T08",
        "multi-country:mallory:2026-10-04T08",
      ]);
      await t.run(seen("DE", at(14, 8)), seen("FR", at(14, 8, 20)), seen("DE", at(14, 8, 40)));
      const last = (await t.findings("multi-country")).at(-1);
      expect(last).toMatchObject({ fingerprint: "multi-country:mallory:2026-10-16T08", severity: "critical" });
      expect(last?.summary).toContain("DE → FR → DE");
    });

    it("reports a country never seen for the account, even next door", async () => {
      const t = makeEngine();
      await t.run(...Array.from({ length: 14 }, (_, d) => seen("DE", at(d, 9))));
      await t.run(seen("DE", at(14, 9)), seen("PL", at(14, 9, 40)));
      const all = await t.findings("multi-country");
      expect(all).toMatchObject([{ fingerprint: "multi-country:mallory:2026-10-16T09", severity: "high" }]);
      expect(all[0]?.summary).toContain("PL new to the account");
    });

    it("keeps a switch to a high-risk country sharp, whatever the account's history, unless the list drops it", async () => {
      const t = makeEngine();
      await t.run(...commuter("CN"));
      // Every day is reported: learning never explains CN.
      expect(await t.findings("multi-country")).toHaveLength(14);
      expect((await t.findings("multi-country"))[13]?.summary).toContain("CN on the high-risk list");
      const allowed = makeEngine({ detectors: { "multi-country": { high_risk_countries: ["KP", "RU"] } } });
      await allowed.run(...commuter("CN"));
      expect(await allowed.findings("multi-country")).toHaveLength(3);
    });
  });
});
