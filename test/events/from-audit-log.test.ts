import { describe, expect, it } from "vitest";
import { fromAuditLog, timeProblem } from "../../src/events/from-audit-log.js";
import { T0 } from "../helpers/engine.js";

/** A REST API entry as GitHub documents it (values invented). */
const apiEntry = {
  "@timestamp": T0,
  _document_id: "q3Rk9vXbTm2Lp8YwZc1aHg",
  action: "repo.access",
  actor: "mallory",
  actor_id: 5001,
  actor_location: { country_code: "us" },
  actor_ip: "198.51.100.23",
  business: "acme-corp",
  created_at: T0,
  org: "acme",
  repo: "acme/payments",
  repository: "acme/payments",
  previous_visibility: "private",
  visibility: "public",
  hashed_token: "eZALYM4obf1VzKsNlLARMmDAOzkWunCZPkjcfecmkwo=",
  programmatic_access_type: "OAuth access token",
  user_agent: "Mozilla/5.0",
  operation_type: "modify",
};

describe("fromAuditLog", () => {
  it("normalizes a REST API entry", () => {
    expect(fromAuditLog(apiEntry, { installationId: 42 })).toEqual({
      id: "audit:acme:q3Rk9vXbTm2Lp8YwZc1aHg",
      source: "audit-log",
      action: "repo.access",
      at: T0,
      org: "acme",
      business: "acme-corp",
      actor: "mallory",
      actorId: 5001,
      actorIsBot: false,
      repo: "acme/payments",
      visibility: "public",
      country: "US",
      ip: "198.51.100.23",
      token: "eZALYM4obf1VzKsNlLARMmDAOzkWunCZPkjcfecmkwo=",
      tokenType: "OAuth access token",
      installationId: 42,
      details: {
        previousVisibility: "private",
        extra: { user_agent: "Mozilla/5.0", operation_type: "modify", business: "acme-corp" },
      },
    });
  });

  it.each([
    ["a number", 42],
    ["a string", "repo.access"],
    ["null", null],
    ["an array", [apiEntry]],
    ["an object without action", { "@timestamp": T0 }],
    ["an object with a non-string action", { action: 7, "@timestamp": T0 }],
    ["an entry with no usable time", { action: "git.clone", created_at: "yesterday" }],
  ])("returns null for %s", (_what, value) => {
    expect(fromAuditLog(value)).toBeNull();
  });

  it("never throws, even on hostile objects", () => {
    const trap = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
        ownKeys() {
          throw new Error("boom");
        },
      },
    );
    expect(fromAuditLog(trap)).toBeNull();
    expect(fromAuditLog({ action: "git.clone", "@timestamp": T0, actor_location: trap })).toBeNull();
  });

  describe("time", () => {
    // Every form is covered by test/events/time.test.ts; these check the converter goes through it.
    it.each([
      ["epoch milliseconds", T0],
      ["epoch seconds as CSV text", String(T0 / 1000)],
      ["exponent form from a spreadsheet", "1.7909352E+12"],
      ["a US spreadsheet time, read as UTC", "10/02/2026 10:00:00 AM"],
      ["Ruby's UTC form", "2026-10-02 10:00:00 UTC"],
    ])("reads %s", (_what, value) => {
      expect(fromAuditLog({ action: "x", "@timestamp": value })?.at).toBe(T0);
    });

    it("says why a time is not usable, for the line-numbered report", () => {
      expect(timeProblem({ action: "x", "@timestamp": "13/10/2026 10:00" })).toMatch(/^no usable time: `@timestamp` "13\/10\/2026 10:00" is day\/month\/year/);
      expect(timeProblem({ action: "x", data: { created_at: "soon" } })).toMatch(/^no usable time: `created_at` "soon" is in none of the forms read/);
      expect(timeProblem({ action: "x" })).toBe("no usable time (`@timestamp` or `created_at`)");
      expect(timeProblem({ action: "x", created_at: T0 })).toBeUndefined();
    });

    it("prefers @timestamp, falls back to created_at", () => {
      expect(fromAuditLog({ action: "x", created_at: T0 })?.at).toBe(T0);
      expect(fromAuditLog({ action: "x", "@timestamp": T0, created_at: T0 + 5 })?.at).toBe(T0);
    });
  });

  it("keeps a `__proto__` key of a pre-2022 entry a plain key, not what the fields are inherited from", () => {
    const entry = JSON.parse(`{"action":"x","created_at":${T0},"data":{},"__proto__":{"actor":"eve"}}`) as unknown;
    expect(fromAuditLog(entry)?.actor).toBeNull();
    expect(({} as Record<string, unknown>).actor).toBeUndefined();
  });

  it("merges pre-2022 fields nested under data, top level first", () => {
    const e = fromAuditLog({
      action: "hook.create",
      actor: "mallory",
      org: "acme",
      created_at: T0,
      data: {
        hook_id: 90210,
        config: { url: "https://paste.example.net/collect" },
        repo: "acme/billing",
        actor: "someone-else",
        actor_location: { country_name: "Korea, Democratic People's Republic of" },
      },
    });
    expect(e).toMatchObject({
      actor: "mallory",
      repo: "acme/billing",
      country: "KP",
      details: { hookUrl: "https://paste.example.net/collect", extra: { hook_id: 90210 } },
    });
  });

  it("reads data given as JSON text (some CSV exports)", () => {
    const e = fromAuditLog({ action: "repo.create", created_at: T0, org: "acme", data: '{"repo":"acme/new","visibility":"public"}' });
    expect(e).toMatchObject({ repo: "acme/new", visibility: "public" });
    expect(fromAuditLog({ action: "repo.create", created_at: T0, data: "{not json" })?.repo).toBeNull();
  });

  describe("repository", () => {
    it("takes repository when repo is missing", () => {
      expect(fromAuditLog({ action: "git.clone", created_at: T0, repository: "acme/api" })?.repo).toBe("acme/api");
    });

    it("joins a bare name with the org", () => {
      expect(fromAuditLog({ action: "git.clone", created_at: T0, org: "acme", repo: "api" })?.repo).toBe("acme/api");
      expect(fromAuditLog({ action: "git.clone", created_at: T0, repo: "api" }, { orgFallback: "acme" })?.repo).toBe("acme/api");
      // A bare name with no org to join is not a full name: better unknown than wrong.
      expect(fromAuditLog({ action: "git.clone", created_at: T0, repo: "api" })?.repo).toBeNull();
    });

    it("uses orgFallback only when the entry names no org", () => {
      expect(fromAuditLog({ action: "x", created_at: T0 }, { orgFallback: "acme" })?.org).toBe("acme");
      expect(fromAuditLog({ action: "x", created_at: T0, org: "other" }, { orgFallback: "acme" })?.org).toBe("other");
    });
  });

  describe("visibility", () => {
    it.each([
      [{ visibility: "internal" }, "internal"],
      [{ repository_public: true }, "public"],
      [{ repository_public: false }, "private"],
      [{ repository_public: "false" }, "private"],
      [{ public_repo: true }, "public"],
      [{ visibility: "private", repository_public: true }, "private"],
      [{}, null],
      [{ visibility: "secret" }, null],
    ])("%j → %s", (fields, expected) => {
      expect(fromAuditLog({ action: "git.clone", created_at: T0, ...fields })?.visibility).toBe(expected);
    });

    it("ignores an unknown previous visibility", () => {
      expect(fromAuditLog({ action: "repo.access", created_at: T0, previous_visibility: "weird" })?.details.previousVisibility).toBeUndefined();
    });
  });

  describe("actor", () => {
    it("leaves an anonymous clone without an actor", () => {
      const e = fromAuditLog({ action: "git.clone", created_at: T0, user_id: 0, repo: "acme/docs", repository_public: true });
      expect(e).toMatchObject({ actor: null, actorId: null, actorIsBot: false, visibility: "public" });
    });

    it.each([
      ["actor_is_bot", { actor: "ci", actor_is_bot: true }],
      ["actor_is_bot as CSV text", { actor: "ci", actor_is_bot: "true" }],
      ["an app token", { actor: "ci", programmatic_access_type: "GitHub App server-to-server token" }],
      ["a [bot] login", { actor: "dependabot[bot]" }],
    ])("marks bots by %s", (_what, fields) => {
      expect(fromAuditLog({ action: "git.clone", created_at: T0, ...fields })?.actorIsBot).toBe(true);
    });

    it("does not call a person with a classic token a bot", () => {
      expect(fromAuditLog({ action: "git.clone", created_at: T0, actor: "alice", actor_is_bot: false, programmatic_access_type: "OAuth access token" })?.actorIsBot).toBe(false);
    });
  });

  describe("country", () => {
    it.each([
      [{ actor_location: { country_code: "DE" } }, "DE"],
      [{ actor_location: { country_name: "Russia" } }, "RU"],
      [{ actor_location: { country_name: "Korea, Republic of" } }, "KR"],
      [{ "actor_location.country_code": "fr" }, "FR"],
      [{ country_name: "United States of America" }, "US"],
      [{ actor_location: { country_code: "ZZ" } }, null],
      [{}, null],
    ])("%j → %s", (fields, expected) => {
      expect(fromAuditLog({ action: "git.clone", created_at: T0, ...fields })?.country).toBe(expected);
    });
  });

  it("keeps the member and the permission", () => {
    const e = fromAuditLog({ action: "repo.add_member", created_at: T0, org: "acme", repo: "acme/api", user: "eve", permission: "admin", old_permission: "read" });
    expect(e?.details).toMatchObject({ user: "eve", permission: "admin", extra: { old_permission: "read" } });
  });

  it("reads deploy-key facts of public_key.create", () => {
    const e = fromAuditLog({
      action: "public_key.create",
      created_at: T0,
      actor: "bob",
      repo: "acme/infra",
      title: "mirror-sync",
      fingerprint: "SHA256:Zz1Xy2Ww3Vv4Uu5Tt6Ss7Rr8Qq9Pp0Oo1Nn2Mm3Ll4",
      read_only: "false",
    });
    expect(e?.details).toMatchObject({ keyTitle: "mirror-sync", keyFingerprint: "SHA256:Zz1Xy2Ww3Vv4Uu5Tt6Ss7Rr8Qq9Pp0Oo1Nn2Mm3Ll4", keyReadOnly: false });
    // A title on another action is not a key title.
    expect(fromAuditLog({ action: "issue.create", created_at: T0, title: "x" })?.details.keyTitle).toBeUndefined();
  });

  it("reads where a transferred repository went", () => {
    const e = fromAuditLog({ action: "repo.transfer_outgoing", created_at: T0, org: "acme", repo: "acme/legacy", new_nwo: "mallory-personal/legacy", old_user: "acme" });
    expect(e?.details).toMatchObject({ newOwner: "mallory-personal", extra: { new_nwo: "mallory-personal/legacy", old_user: "acme" } });
    const typed = fromAuditLog({ action: "repo.transfer_start", created_at: T0, new_owner: "Mallory", new_owner_type: "user" });
    expect(typed?.details).toMatchObject({ newOwner: "Mallory", newOwnerType: "User" });
  });

  it.each([
    [{ config: { url: "https://a.example/x" } }, "https://a.example/x"],
    [{ hook_url: "https://b.example/x" }, "https://b.example/x"],
    [{ url: "https://c.example/x" }, "https://c.example/x"],
  ])("finds the hook URL in %j", (fields, url) => {
    expect(fromAuditLog({ action: "hook.create", created_at: T0, ...fields })?.details.hookUrl).toBe(url);
  });

  it("keeps extras inert-sized and typed the same from JSON and CSV", () => {
    const fromJson = fromAuditLog({ action: "git.clone", created_at: T0, token_id: 88001, user_agent: "x".repeat(2000) });
    const fromCsv = fromAuditLog({ action: "git.clone", created_at: String(T0), token_id: "88001", user_agent: "x".repeat(2000) });
    expect(fromJson?.details.extra?.token_id).toBe(88001);
    expect(fromCsv?.details.extra).toEqual(fromJson?.details.extra);
    expect(String(fromJson?.details.extra?.user_agent).length).toBe(500);
  });

  describe("id", () => {
    it("is audit:<org>:<_document_id>, so one org's entry never makes another org's look already seen", () => {
      expect(fromAuditLog(apiEntry)?.id).toBe("audit:acme:q3Rk9vXbTm2Lp8YwZc1aHg");
      expect(fromAuditLog({ ...apiEntry, org: "globex" })?.id).toBe("audit:globex:q3Rk9vXbTm2Lp8YwZc1aHg");
      expect(fromAuditLog({ ...apiEntry, org: undefined })?.id).toBe("audit:q3Rk9vXbTm2Lp8YwZc1aHg");
    });

    it("takes the polled org over the org an entry names, keeping the named one as evidence", () => {
      const event = fromAuditLog({ ...apiEntry, org: "globex", repo: "globex/payments" }, { org: "acme", installationId: 42 });
      expect(event).toMatchObject({ org: "acme", id: "audit:acme:q3Rk9vXbTm2Lp8YwZc1aHg", installationId: 42 });
      expect(event?.details.extra?.org_named_in_entry).toBe("globex");
      expect(fromAuditLog(apiEntry, { org: "ACME" })?.details.extra?.org_named_in_entry).toBeUndefined();
    });

    it("falls back to a hash that ignores key order, types and empty fields", () => {
      const a = fromAuditLog({ action: "git.clone", created_at: T0, actor: "alice", actor_location: { country_code: "DE" }, repo: "acme/api" });
      const b = fromAuditLog({ repo: "acme/api", actor_location: { country_code: "DE" }, actor: "alice", created_at: String(T0), action: "git.clone", user: "" });
      const c = fromAuditLog({ action: "git.clone", created_at: T0 + 1, actor: "alice", actor_location: { country_code: "DE" }, repo: "acme/api" });
      expect(a?.id).toMatch(/^audit:sha1:[0-9a-f]{40}$/);
      expect(b?.id).toBe(a?.id);
      expect(c?.id).not.toBe(a?.id);
    });
  });

  it("keeps GitHub's action string unchanged", () => {
    expect(fromAuditLog({ action: "org.disable_two_factor_requirement", created_at: T0 })?.action).toBe("org.disable_two_factor_requirement");
  });

  describe("the audit log's own field names", () => {
    // Shaped like GitHub's entries for these actions: the person is named in `invitee`, the one who invited
    // in `inviter`, and `user` is absent or names someone else.
    const outsideCollaborator = {
      "@timestamp": T0,
      _document_id: "oc-1",
      action: "org.add_outside_collaborator",
      actor: "mallory",
      actor_id: 5001,
      invitee: "contractor-x",
      inviter: "mallory",
      org: "acme",
      repo: "acme/payments",
      permission: "write",
    };

    it("names the invitee as the person an invitation or outside-collaborator grant is about", () => {
      expect(fromAuditLog(outsideCollaborator)?.details).toMatchObject({
        user: "contractor-x",
        permission: "write",
        extra: { inviter: "mallory" },
      });
      expect(fromAuditLog({ ...outsideCollaborator, user: "mallory" })?.details.user).toBe("contractor-x");
      const invite = fromAuditLog({ action: "org.invite_member", created_at: T0, org: "acme", actor: "mallory", user: "mallory", invitee: "newhire" });
      expect(invite?.details.user).toBe("newhire");
    });

    it("keeps `user` for other actions, and takes the invitee only when there is no user", () => {
      const add = { action: "repo.add_member", created_at: T0, org: "acme", repo: "acme/api", actor: "bob" };
      expect(fromAuditLog({ ...add, user: "cat", invitee: "dog" })?.details.user).toBe("cat");
      expect(fromAuditLog({ ...add, invitee: "dog" })?.details.user).toBe("dog");
    });

    it("reads a git event's empty user and zero user id as nobody, keeping the actor", () => {
      const e = fromAuditLog({
        "@timestamp": T0,
        action: "git.clone",
        actor: "alice",
        actor_id: 77,
        user: "",
        user_id: 0,
        org: "acme",
        repo: "acme/api",
        repository_public: false,
        transport_protocol_name: "ssh",
      });
      expect(e).toMatchObject({ actor: "alice", actorId: 77, repo: "acme/api", visibility: "private" });
      expect(e?.details.user).toBeUndefined();
    });

    it.each([
      ["epoch milliseconds", 1621305118553, 1621305118553],
      ["the space-separated text of streamed entries", "2022-12-14 19:16:31.299", Date.UTC(2022, 11, 14, 19, 16, 31, 299)],
    ])("reads an entry that has only created_at, as %s", (_what, created, at) => {
      expect(fromAuditLog({ action: "repo.destroy", created_at: created, org: "acme", repo: "acme/api" })?.at).toBe(at);
    });

    it("reads a repo.access entry that carries only the new visibility", () => {
      const e = fromAuditLog({ action: "repo.access", created_at: T0, org: "acme", repo: "acme/api", visibility: "public" });
      expect(e).toMatchObject({ visibility: "public", repo: "acme/api", org: "acme" });
      expect(e?.details.previousVisibility).toBeUndefined();
    });

    it("takes a transfer's org from the repository it left when the entry names no org", () => {
      const outgoing = { action: "repo.transfer_outgoing", created_at: T0, actor: "mallory", repo: "acme/api", visibility: "private" };
      expect(fromAuditLog(outgoing)).toMatchObject({ org: "acme", repo: "acme/api" });
      // The accepting side is logged under the new name; GitHub's repo_was keeps the one it left.
      const accepted = fromAuditLog({ action: "repo.transfer", created_at: T0, repo: "mallory/api", repo_was: "acme/api" });
      expect(accepted).toMatchObject({ org: "acme", repo: "mallory/api" });
      // Polled through an org's installation, that org wins; a bare name gives no org to guess from.
      expect(fromAuditLog(outgoing, { org: "Acme" })?.org).toBe("Acme");
      expect(fromAuditLog({ ...outgoing, repo: "api" })?.org).toBeNull();
      // Only a repository's transfers: any other entry without an org stays without one.
      expect(fromAuditLog({ action: "repo.destroy", created_at: T0, repo: "acme/api" })?.org).toBeNull();
      expect(fromAuditLog({ action: "issue.transfer", created_at: T0, repo: "acme/api" })?.org).toBeNull();
    });

    it("keeps whether an audit-log stream stays enabled, for streaming entries only", () => {
      const update = { action: "audit_log_streaming.update", created_at: T0, business: "acme-corp", enabled: true };
      expect(fromAuditLog(update)?.details.extra).toMatchObject({ business: "acme-corp", enabled: true });
      expect(fromAuditLog({ ...update, action: "repo.create" })?.details.extra?.enabled).toBeUndefined();
    });

    it("keeps what rulesets, overrides, app installations, allow-list entries and SAML changes name", () => {
      const ruleset = fromAuditLog({
        action: "repository_ruleset.update",
        created_at: T0,
        org: "acme",
        ruleset_id: "1082915",
        ruleset_name: "protect-default",
        ruleset_source_type: "Organization",
        ruleset_enforcement: "disabled",
        ruleset_old_enforcement: "active",
        ruleset_rules_updated: [{ id: 7, type: "deletion", parameters: {} }],
      });
      expect(ruleset?.details.extra).toEqual({
        ruleset_name: "protect-default",
        ruleset_source_type: "Organization",
        ruleset_enforcement: "disabled",
        ruleset_old_enforcement: "active",
      });
      // GitHub documents `name` for a deleted ruleset and an installed app: kept for those, not for a webhook.
      expect(fromAuditLog({ action: "repository_ruleset.destroy", created_at: T0, org: "acme", repo: "acme/api", name: "main" })?.details.extra).toEqual({ name: "main" });
      const app = { action: "integration_installation.create", created_at: T0, name: "Octo Backup", integration: "octo-backup", repository_selection: "all", user: "mallory" };
      expect(fromAuditLog(app)?.details.extra).toEqual({ integration: "octo-backup", repository_selection: "all", name: "Octo Backup" });
      expect(fromAuditLog({ ...app, action: "hook.create" })?.details.extra?.name).toBeUndefined();
      const override = fromAuditLog({
        action: "protected_branch.policy_override",
        created_at: T0,
        org: "acme",
        repo: "acme/api",
        branch: "refs/heads/main",
        before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        after: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      });
      expect(override?.details.extra).toMatchObject({ branch: "refs/heads/main", before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" });
      const entry = fromAuditLog({ action: "ip_allow_list_entry.create", created_at: T0, org: "acme", ip_allow_list_entry: "203.0.113.0/24", active: true });
      expect(entry?.details.extra).toEqual({ ip_allow_list_entry: "203.0.113.0/24" });
      const saml = fromAuditLog({ action: "org.update_saml_provider_settings", created_at: T0, org: "acme", sso_url: "https://idp.example.net/sso", issuer: "https://idp.example.net" });
      expect(saml?.details.extra).toEqual({ sso_url: "https://idp.example.net/sso" });
    });
  });
});
