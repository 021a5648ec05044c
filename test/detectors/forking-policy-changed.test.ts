import { describe, expect, it } from "vitest";
import { DAY, HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

const sweep = (value: unknown, at = T0) =>
  makeEvent({
    action: "sweep.org_settings",
    source: "sweep",
    actor: null,
    actorId: null,
    at,
    details: { extra: { members_can_fork_private_repositories: value as boolean, two_factor_requirement_enabled: true } },
  });

const enable = (over: Partial<Parameters<typeof makeEvent>[0]> = {}) =>
  makeEvent({ action: "private_repository_forking.enable", ...over });

describe("forking-policy-changed", () => {
  it("reports the org policy turned on through the audit log, medium, subject dated by the opening", async () => {
    const t = makeEngine();
    await t.run(enable());
    expect((await t.findings("forking-policy-changed"))[0]).toMatchObject({
      fingerprint: "forking-policy-changed:acme:2026-10-02",
      severity: "medium",
      actor: "mallory",
    });
  });

  it("reports a repository-level enable under the repository", async () => {
    const t = makeEngine();
    await t.run(enable({ repo: "acme/api" }));
    expect((await t.findings())[0]).toMatchObject({ subject: "acme/api:2026-10-02", repos: ["acme/api"] });
  });

  it("reports a cleared policy unless report_clear is off", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "private_repository_forking.clear" }));
    expect((await t.findings())[0]?.summary).toContain("repositories now decide");
    const quiet = makeEngine({ detectors: { "forking-policy-changed": { report_clear: false } } });
    expect(await quiet.run(makeEvent({ action: "private_repository_forking.clear" }))).toHaveLength(0);
  });

  it("the sweep fires when the setting becomes true, and not again while it stays true", async () => {
    const t = makeEngine();
    await t.run(sweep(false), sweep(true, T0 + HOUR), sweep(true, T0 + 2 * HOUR));
    const all = await t.findings("forking-policy-changed");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ subject: "acme:2026-10-02", count: 1, actor: null });
  });

  it("the first sweep of an org that already allows forking reports it once", async () => {
    const t = makeEngine();
    await t.run(sweep(true), sweep(true, T0 + DAY));
    expect(await t.findings()).toHaveLength(1);
    const quiet = makeEngine({ detectors: { "forking-policy-changed": { report_first_sweep: false } } });
    expect(await quiet.run(sweep(true), sweep(true, T0 + DAY))).toHaveLength(0);
  });

  it("the sweep that reads what the audit log already told adds nothing, even past midnight", async () => {
    const t = makeEngine();
    // Enabled at 23:50, swept at 00:10 the next day.
    await t.run(sweep(false), enable({ at: T0 + 13 * HOUR + 50 * 60_000 }), sweep(true, T0 + 14 * HOUR + 10 * 60_000));
    const all = await t.findings();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ subject: "acme:2026-10-02", count: 1 });
  });

  it("an audit enable that arrives after the sweep folds into the sweep's finding", async () => {
    const t = makeEngine();
    await t.run(sweep(false), sweep(true, T0 + DAY), enable({ at: T0 + DAY - HOUR }));
    const all = await t.findings();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ subject: "acme:2026-10-03", count: 2 });
  });

  it("turned off and on again is a new finding", async () => {
    const t = makeEngine();
    await t.run(sweep(true), sweep(false, T0 + DAY), sweep(true, T0 + 3 * DAY));
    expect((await t.findings()).map((f) => f.subject)).toEqual(["acme:2026-10-02", "acme:2026-10-05"]);
    const a = makeEngine();
    await a.run(enable(), makeEvent({ action: "private_repository_forking.disable", at: T0 + HOUR }), enable({ at: T0 + DAY }));
    expect(await a.findings()).toHaveLength(2);
  });

  it("stays quiet when the setting stays false or the sweep does not carry it", async () => {
    const t = makeEngine();
    await t.run(sweep(false), sweep(false, T0 + DAY), sweep("yes", T0 + 2 * DAY), sweep(undefined, T0 + 3 * DAY));
    expect(await t.findings()).toHaveLength(0);
    expect(t.errors).toHaveLength(0);
  });
});
