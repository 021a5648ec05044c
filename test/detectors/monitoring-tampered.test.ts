import { describe, expect, it } from "vitest";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import { HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

describe("monitoring-tampered", () => {
  it.each([
    "audit_log_streaming.destroy",
    "ip_allow_list.disable",
    "ip_allow_list.disable_for_installed_apps",
    "org.disable_saml",
    "org.disable_two_factor_requirement",
    "org.disable_source_ip_disclosure",
    "org.disable_oauth_app_restrictions",
  ])("reports %s as high, one finding per org, switch and day", async (action) => {
    const t = makeEngine();
    await t.run(makeEvent({ action }), makeEvent({ action, at: T0 + HOUR }));
    const all = await t.findings("monitoring-tampered");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: `monitoring-tampered:acme:${action}:2026-10-02`, severity: "high" });
  });

  it("stays quiet when the same switches are turned on", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "ip_allow_list.enable" }),
      makeEvent({ action: "org.enable_saml" }),
      makeEvent({ action: "audit_log_streaming.create" }),
    );
    expect(await t.findings()).toHaveLength(0);
  });

  it("a streaming update that pauses the stream is high; any other update is a medium change", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "audit_log_streaming.update", details: { extra: { audit_log_stream_enabled: false } } }));
    expect((await t.findings())[0]).toMatchObject({ severity: "high", summary: "audit-log streaming paused or disabled (acme)" });

    const s = makeEngine();
    await s.run(makeEvent({ action: "audit_log_streaming.update", details: { extra: { audit_log_stream_enabled: "false" } } }));
    expect((await s.findings())[0]?.severity).toBe("high");

    const c = makeEngine();
    await c.run(makeEvent({ action: "audit_log_streaming.update", details: { extra: { new_s3_bucket: "elsewhere" } } }));
    expect((await c.findings())[0]).toMatchObject({ severity: "medium", summary: "audit-log streaming configuration changed (acme)" });
  });

  it("names the enterprise when a streaming entry has no org", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "audit_log_streaming.destroy", org: null, details: { extra: { business: "acme-ent" } } }));
    expect((await t.findings())[0]?.subject).toBe("acme-ent:audit_log_streaming.destroy:2026-10-02");
  });

  it("reports a webhook to a host outside allow.webhook_hosts as high, under its repository", async () => {
    const t = makeEngine({ allow: { webhook_hosts: ["*.acme.example"] } });
    await t.run(makeEvent({ action: "hook.create", repo: "acme/api", details: { hookUrl: "https://collector.evil.example/x" } }));
    expect((await t.findings())[0]).toMatchObject({
      fingerprint: "monitoring-tampered:acme/api:hook.create:2026-10-02",
      severity: "high",
      repos: ["acme/api"],
    });
  });

  it("stays quiet for webhooks to approved hosts, created or changed", async () => {
    const t = makeEngine({ allow: { webhook_hosts: ["*.acme.example", "hooks.slack.com"] } });
    await t.run(
      makeEvent({ action: "hook.create", details: { hookUrl: "https://ci.acme.example/hook" } }),
      makeEvent({ action: "hook.config_changed", details: { hookUrl: "https://hooks.slack.com/services/x" } }),
    );
    expect(await t.findings()).toHaveLength(0);
  });

  it("reports a webhook redirected to an unapproved host, and an unparsable URL", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "hook.config_changed", details: { hookUrl: "https://collector.evil.example/" } }),
      makeEvent({ action: "hook.create", repo: "acme/web", details: { hookUrl: "not a url" } }),
    );
    expect((await t.findings()).map((f) => f.severity)).toEqual(["high", "high"]);
  });

  it("a new webhook whose entry names no URL is low, and silent with unknown_hook_urls off", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "hook.create", details: { extra: { hook_id: 7 } } }));
    expect((await t.findings())[0]?.severity).toBe("low");
    const quiet = makeEngine({ detectors: { "monitoring-tampered": { unknown_hook_urls: false } } });
    expect(await quiet.run(makeEvent({ action: "hook.create" }))).toHaveLength(0);
    // A configuration change without a URL says nothing about where it points.
    expect(await makeEngine().run(makeEvent({ action: "hook.config_changed" }))).toHaveLength(0);
  });

  it("ignores entries with neither org nor repository", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "org.disable_saml", org: null }));
    expect(await t.findings()).toHaveLength(0);
    expect(t.errors).toHaveLength(0);
  });

  it("a streaming update that leaves the stream enabled (a rotated credential) is low", async () => {
    // An enterprise stream's own entry: it names the business, no org.
    const rotated = fromAuditLog({
      "@timestamp": T0,
      _document_id: "s-1",
      action: "audit_log_streaming.update",
      actor: "ent-admin",
      business: "acme-corp",
      enabled: true,
      audit_log_stream_sink: "splunk",
    });
    const t = makeEngine();
    await t.run(rotated!);
    expect(await t.findings()).toMatchObject([
      {
        fingerprint: "monitoring-tampered:acme-corp:audit_log_streaming.update:2026-10-02",
        severity: "low",
        summary: "audit-log streaming endpoint updated, stream left enabled (acme-corp)",
      },
    ]);
    const paused = makeEngine();
    await paused.run(fromAuditLog({ "@timestamp": T0, action: "audit_log_streaming.update", org: "acme", enabled: false })!);
    expect((await paused.findings())[0]?.severity).toBe("high");
  });

  it.each([
    ["business.disable_saml", "SAML single sign-on disabled for the enterprise"],
    ["business.disable_oidc", "OIDC single sign-on disabled for the enterprise"],
    ["business.disable_two_factor_requirement", "two-factor authentication requirement disabled for the enterprise"],
    ["business.disable_source_ip_disclosure", "source IP addresses hidden from the enterprise audit log"],
  ])("reports the enterprise-level %s like its org-level twin, high", async (action, what) => {
    const entry = fromAuditLog({ "@timestamp": T0, _document_id: action, action, actor: "ent-admin", business: "acme-corp", actor_location: { country_code: "US" } });
    const t = makeEngine();
    await t.run(entry!);
    expect(await t.findings()).toMatchObject([{ fingerprint: `monitoring-tampered:acme-corp:${action}:2026-10-02`, severity: "high", summary: `${what} (acme-corp)` }]);
  });

  it("reports the SAML identity provider repointed as medium, with the new SSO URL as evidence", async () => {
    // The fields GitHub documents for this action (values invented): the new SSO URL and issuer, not the old.
    const entry = fromAuditLog({
      "@timestamp": T0,
      _document_id: "saml-1",
      action: "org.update_saml_provider_settings",
      actor: "mallory",
      actor_id: 5001,
      org: "acme",
      org_id: 9001,
      sso_url: "https://login.idp-elsewhere.example/saml2",
      issuer: "https://idp-elsewhere.example/entity",
      operation_type: "modify",
      user_agent: "Mozilla/5.0",
    });
    const t = makeEngine();
    await t.run(entry!);
    const [f] = await t.findings("monitoring-tampered");
    expect(f).toMatchObject({
      fingerprint: "monitoring-tampered:acme:org.update_saml_provider_settings:2026-10-02",
      severity: "medium",
      summary: "SAML identity provider settings changed (acme)",
    });
    const [ev] = await t.storage.findings.evidence(f!.id);
    expect(ev?.data).toMatchObject({ "SSO URL": "https://login.idp-elsewhere.example/saml2" });
  });

  it("reports addresses added to the IP allow list as medium, one finding per org and day with a count", async () => {
    const added = (range: string, at = T0) =>
      fromAuditLog({
        "@timestamp": at,
        action: "ip_allow_list_entry.create",
        actor: "mallory",
        org: "acme",
        business: "acme-corp",
        ip_allow_list_entry: range,
        active: true,
        operation_type: "create",
      })!;
    const t = makeEngine();
    await t.run(added("203.0.113.0/24"), added("198.51.100.7", T0 + HOUR));
    const [f, ...rest] = await t.findings("monitoring-tampered");
    expect(rest).toHaveLength(0);
    expect(f).toMatchObject({ subject: "acme:ip_allow_list_entry.create:2026-10-02", severity: "medium", count: 2 });
    const evidence = (await t.storage.findings.evidence(f!.id)).map((e) => e.data.entry);
    expect(evidence).toEqual(expect.arrayContaining(["203.0.113.0/24", "198.51.100.7"]));
  });

  it("stays quiet for allow-list entries removed or edited and for the allow list turned on", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "ip_allow_list_entry.destroy", details: { extra: { ip_allow_list_entry: "203.0.113.0/24" } } }),
      makeEvent({ action: "ip_allow_list_entry.update", details: { extra: { ip_allow_list_entry: "203.0.113.0/24" } } }),
      makeEvent({ action: "ip_allow_list.enable" }),
      makeEvent({ action: "org.sso_response" }),
    );
    expect(await t.findings()).toHaveLength(0);
  });

  it("reads an enterprise's IP allow list turned off, named by the business only", async () => {
    const t = makeEngine();
    await t.run(fromAuditLog({ "@timestamp": T0, action: "ip_allow_list.disable", actor: "ent-admin", business: "acme-corp" })!);
    expect(await t.findings()).toMatchObject([{ subject: "acme-corp:ip_allow_list.disable:2026-10-02", severity: "high" }]);
  });
});
