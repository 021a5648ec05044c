import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { DAY, HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

const seen = (country: string | null, at: number, over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "git.fetch", repo: "acme/api", visibility: "private", country, at, ...over });

/** One located event a day from `country`, for `days` days ending the day before T0. */
const history = (country: string, days: number, over: Partial<OrgEvent> = {}) =>
  Array.from({ length: days }, (_, i) => seen(country, T0 - (days - i) * DAY, over));

describe("new-country", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("reports a country not seen for the actor in 14 days, low, once per day", async () => {
    const t = makeEngine();
    await t.run(...history("DE", 10), seen("BR", T0), seen("BR", T0 + HOUR));
    const all = await t.findings("new-country");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: "new-country:mallory:BR:2026-10-02", severity: "low", count: 1 });
    const [ev] = await t.storage.findings.evidence(all[0]!.id);
    expect(ev?.data).toMatchObject({ country: "BR", "other countries in 14 days": "DE", "last seen in this country": "never" });
  });

  it("stays silent during the learning period of a new actor", async () => {
    const t = makeEngine();
    await t.run(...history("DE", 3), seen("BR", T0));
    expect(await t.findings("new-country")).toHaveLength(0);
  });

  it("stays quiet for a country seen within the lookback, and reports one last seen before it", async () => {
    const recent = makeEngine();
    await recent.run(seen("BR", T0 - 10 * DAY), ...history("DE", 9), seen("BR", T0));
    expect(await recent.findings("new-country")).toHaveLength(0);

    const old = makeEngine();
    await old.run(seen("BR", T0 - 20 * DAY), ...history("DE", 9), seen("BR", T0));
    // DE itself was new once the learning period had passed; BR is new again after 20 days away.
    expect((await old.findings("new-country")).map((f) => f.fingerprint)).toEqual([
      "new-country:mallory:DE:2026-09-23",
      "new-country:mallory:BR:2026-10-02",
    ]);
  });

  it("stays quiet for bots and for the actor's usual country", async () => {
    const t = makeEngine();
    await t.run(...history("DE", 10, { actor: "ci[bot]", actorIsBot: true }), seen("BR", T0, { actor: "ci[bot]", actorIsBot: true }));
    await t.run(...history("DE", 10), seen("DE", T0), seen("de", T0 + HOUR), seen("ZZ", T0 + 2 * HOUR));
    expect(await t.findings("new-country")).toHaveLength(0);
  });

  it("follows lookback_days and learning_days from the config", async () => {
    const t = makeEngine({ detectors: { "new-country": { learning_days: 0, lookback_days: 3 } } });
    await t.run(seen("DE", T0 - 5 * DAY), seen("BR", T0 - 5 * DAY + HOUR), seen("DE", T0));
    expect((await t.findings("new-country")).map((f) => f.fingerprint)).toEqual([
      "new-country:mallory:BR:2026-09-27",
      "new-country:mallory:DE:2026-10-02",
    ]);
  });

  it("continues the history across a restart on the same database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "new-country-"));
    dirs.push(dir);
    const file = path.join(dir, "db.sqlite");
    const first = makeEngine({}, { file });
    await first.run(...history("DE", 10));
    await first.close();
    const second = makeEngine({}, { file });
    await second.run(seen("BR", T0));
    // A third engine on the same database: what the second one learned was written back, not only cached.
    const third = makeEngine({}, { file });
    await second.close();
    await third.run(seen("DE", T0 + HOUR));
    const mine = await third.findings("new-country");
    expect(mine.map((f) => f.fingerprint)).toEqual(["new-country:mallory:BR:2026-10-02"]);
    await third.close();
  });
});
