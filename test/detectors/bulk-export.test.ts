import { describe, expect, it } from "vitest";
import { HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

describe("bulk-export", () => {
  it("reports a migration archive created and downloaded, high, one finding each per migration id", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "migration.create", details: { extra: { migration_id: 79 } } }),
      makeEvent({ action: "migration.download", at: T0 + HOUR, details: { extra: { migration_id: 79 } } }),
      makeEvent({ action: "migration.download", at: T0 + 2 * HOUR, details: { extra: { migration_id: 79 } } }),
    );
    const all = await t.findings("bulk-export");
    expect(all.map((f) => [f.subject, f.severity, f.count])).toEqual([
      ["acme:migration.create:79", "high", 1],
      ["acme:migration.download:79", "high", 2],
    ]);
  });

  it("keys by day when the entry carries no migration id", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "migration.create" }));
    expect((await t.findings())[0]?.subject).toBe("acme:migration.create:2026-10-02");
  });

  it("folds both sides of an org transfer into one finding", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "org.transfer_outgoing" }), makeEvent({ action: "org.transfer" }));
    const all = await t.findings();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ subject: "acme:org.transfer:2026-10-02", severity: "high" });
  });

  it("a bot's export (a backup service) is medium by default, and silent with bots_severity: ignore", async () => {
    const bot = { action: "migration.create", actor: "backup[bot]", actorIsBot: true } as const;
    const t = makeEngine();
    await t.run(makeEvent(bot));
    expect((await t.findings())[0]?.severity).toBe("medium");
    expect(await makeEngine({ detectors: { "bulk-export": { bots_severity: "ignore" } } }).run(makeEvent(bot))).toHaveLength(0);
  });

  it("stays quiet for allowlisted actors, unrelated migration actions and entries without an org", async () => {
    expect(await makeEngine({ allow: { actors: ["backup-svc"] } }).run(makeEvent({ action: "migration.create", actor: "backup-svc" }))).toHaveLength(0);
    expect(await makeEngine().run(makeEvent({ action: "migration.destroy_file" }))).toHaveLength(0);
    expect(await makeEngine().run(makeEvent({ action: "migration.create", org: null }))).toHaveLength(0);
  });

  it("does not trust an odd migration id in the subject", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "migration.download", details: { extra: { migration_id: "../../x y" } } }));
    expect((await t.findings())[0]?.subject).toBe("acme:migration.download:2026-10-02");
  });
});
