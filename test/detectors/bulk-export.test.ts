import { describe, expect, it } from "vitest";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import type { OrgEvent } from "../../src/events/types.js";
import { DAY, HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

/**
 * An installation entry with the fields GitHub documents for `integration_installation.create` (values
 * invented): the app's name and slug, all or selected repositories, the user; no org (the polled org is
 * given) and no permissions.
 */
function installed(fields: Record<string, unknown> = {}, at = T0): OrgEvent {
  const e = fromAuditLog(
    {
      "@timestamp": at,
      _document_id: `install-${at}-${JSON.stringify(fields)}`,
      action: "integration_installation.create",
      actor: "mallory",
      actor_id: 5001,
      name: "Octo Backup",
      integration: "octo-backup",
      repository_selection: "all",
      user: "mallory",
      user_id: 5001,
      operation_type: "create",
      user_agent: "Mozilla/5.0",
      ...fields,
    },
    { org: "acme" },
  );
  if (!e) throw new Error("the installation did not convert");
  return e;
}

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

  it("reports a GitHub App installed on all repositories as medium, and again installed as the same finding", async () => {
    const t = makeEngine();
    await t.run(installed(), installed({}, T0 + DAY));
    const [f, ...rest] = await t.findings("bulk-export");
    expect(rest).toHaveLength(0);
    expect(f).toMatchObject({
      subject: "acme:app-installed:octo-backup",
      severity: "medium",
      summary: "acme: GitHub App Octo Backup installed (all repositories)",
      count: 2,
    });
    const [ev] = await t.storage.findings.evidence(f!.id);
    expect(ev?.data).toMatchObject({ app: "Octo Backup", repositories: "all", permissions: "not in the audit entry", "installed by": "mallory" });
  });

  it("an app given selected repositories, or an entry that does not say which (an older shape, name only), is low", async () => {
    const t = makeEngine();
    await t.run(
      installed({ name: "Chat Notifier", integration: "chat-notifier", repository_selection: "selected" }),
      installed({ name: "Datadog CI", integration: undefined, repository_selection: undefined }),
    );
    expect((await t.findings("bulk-export")).map((f) => [f.subject, f.severity, f.summary]).sort()).toEqual([
      ["acme:app-installed:chat-notifier", "low", "acme: GitHub App Chat Notifier installed (selected repositories)"],
      ["acme:app-installed:datadog-ci", "low", "acme: GitHub App Datadog CI installed (repositories not named)"],
    ]);
  });

  it("stays quiet for apps on known_apps (by slug or name, any case), for other installation actions and without an org", async () => {
    const vetted = makeEngine({ detectors: { "bulk-export": { known_apps: ["OCTO-BACKUP", "chat notifier"] } } });
    expect(await vetted.run(installed(), installed({ integration: "chat-notifier", name: "Chat Notifier" }))).toHaveLength(0);
    expect(await vetted.run(installed({ integration: "octo-restore", name: "Octo Restore" }))).toHaveLength(1);
    const t = makeEngine();
    expect(await t.run(makeEvent({ action: "integration_installation.destroy", details: { extra: { integration: "octo-backup" } } }))).toHaveLength(0);
    expect(await t.run(makeEvent({ action: "integration_installation.repositories_added", details: { extra: { repository_selection: "selected" } } }))).toHaveLength(0);
    expect(await t.run(makeEvent({ action: "integration_installation.create", org: null }))).toHaveLength(0);
  });
});
