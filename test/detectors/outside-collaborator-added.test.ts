import { describe, expect, it } from "vitest";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import { fromWebhook } from "../../src/events/from-webhook.js";
import type { OrgEvent } from "../../src/events/types.js";
import { makeEngine, makeEvent, T0, MINUTE } from "../helpers/engine.js";
import { examplePayload, webhookFixture } from "../helpers/examples.js";

const ID = "outside-collaborator-added";

const REPO = "Octocoders/Hello-World";

/** A fixture through fromWebhook, with the membership enrichment would have added. */
function hook(file: string, userIsOrgMember?: boolean | null, id = file): OrgEvent {
  const { name, payload } = webhookFixture(file);
  const [event] = fromWebhook({ name, id, payload, receivedAt: T0 });
  if (!event) throw new Error(`${file} did not convert`);
  if (userIsOrgMember !== undefined) event.details.userIsOrgMember = userIsOrgMember;
  return event;
}

describe("outside-collaborator-added", () => {
  it("reports an outsider given write access to a repository, high", async () => {
    const t = makeEngine();
    await t.run(hook("member.added.outsider-write", false));
    const [f] = await t.findings("outside-collaborator-added");
    expect(f).toMatchObject({
      fingerprint: `outside-collaborator-added:${REPO}:hacktocat`,
      severity: "high",
      actor: "mallory",
      repos: [REPO],
    });
    expect((await t.storage.findings.evidence(f!.id))[0]?.data).toMatchObject({ permission: "write", "org membership": "not a member" });
  });

  it("reports an outsider given triage access as medium", async () => {
    const t = makeEngine();
    await t.run(hook("member.added.outsider-triage", false));
    expect(await t.findings(ID)).toMatchObject([{ severity: "medium" }]);
  });

  it("reports unknown membership as medium and says so in the evidence", async () => {
    const t = makeEngine();
    await t.run(hook("member.added.outsider-write", null));
    const [f] = await t.findings(ID);
    expect(f?.severity).toBe("medium");
    expect((await t.storage.findings.evidence(f!.id))[0]?.data["org membership"]).toBe("unknown (could not be checked)");
  });

  it("uses what the store knows when the event does not say", async () => {
    const t = makeEngine();
    (await t.storage.directory.setMember("Octocoders", "hacktocat", false, null, T0 - MINUTE));
    await t.run(hook("member.added.outsider-write"));
    expect(await t.findings(ID)).toMatchObject([{ severity: "high" }]);

    const member = makeEngine();
    (await member.storage.directory.setMember("Octocoders", "hacktocat", true, T0 - 90 * 24 * 60 * MINUTE, T0 - MINUTE));
    await member.run(hook("member.added.outsider-write"));
    expect(await member.findings(ID)).toHaveLength(0);
  });

  it("stays quiet for org members and for repositories outside any org", async () => {
    const t = makeEngine();
    await t.run(hook("member.added.outsider-write", true));
    // GitHub's own example: a user's repository, no org.
    const [userRepo] = fromWebhook({ name: "member", id: "g-user", payload: examplePayload("member", "added", 2), receivedAt: T0 });
    await t.run(userRepo!);
    expect(await t.findings(ID)).toHaveLength(0);
  });

  it("reports a collaborator raised to admin, but not one lowered or left without a new permission", async () => {
    const t = makeEngine();
    await t.run(hook("member.edited.raised-to-admin", false));
    expect(await t.findings(ID)).toMatchObject([
      { fingerprint: `outside-collaborator-added:${REPO}:octocat`, severity: "high" },
    ]);

    const quiet = makeEngine();
    const [noChange] = fromWebhook({ name: "member", id: "g-ex", payload: examplePayload("member", "edited"), receivedAt: T0 });
    await quiet.run(hook("member.edited.lowered-to-write", false), { ...noChange!, details: { ...noChange!.details, userIsOrgMember: false } });
    expect(await quiet.findings(ID)).toHaveLength(0);
  });

  it("handles the audit actions: repo.add_member by membership, org.add_outside_collaborator always", async () => {
    const t = makeEngine();
    (await t.storage.directory.setMember("acme", "bob", true, null, T0 - MINUTE));
    await t.run(
      makeEvent({ action: "repo.add_member", repo: "acme/api", details: { user: "Eve", permission: "admin" } }),
      makeEvent({ action: "repo.add_member", repo: "acme/api", details: { user: "bob", permission: "admin" } }),
      makeEvent({ action: "org.add_outside_collaborator", details: { user: "Trent" } }),
    );
    expect((await t.findings(ID)).map((f) => [f.fingerprint, f.severity])).toEqual([
      // Unknown membership: reported, but only medium even with admin.
      ["outside-collaborator-added:acme/api:eve", "medium"],
      ["outside-collaborator-added:acme:trent", "medium"],
    ]);
  });

  it("folds the webhook and the audit entry of the same grant into one finding", async () => {
    const t = makeEngine();
    await t.run(
      hook("member.added.outsider-write", false),
      makeEvent({ action: "repo.add_member", org: "Octocoders", repo: REPO, details: { user: "hacktocat", permission: "write" } }),
    );
    expect(await t.findings(ID)).toMatchObject([{ count: 2, severity: "high" }]);
  });

  it("reads the invitee of an org.add_outside_collaborator entry and states its permission in the summary", async () => {
    // GitHub names the person in `invitee` (and whoever invited them in `inviter`), not in `user`.
    const entry = fromAuditLog({
      "@timestamp": T0,
      _document_id: "oc-write",
      action: "org.add_outside_collaborator",
      actor: "mallory",
      actor_location: { country_code: "US" },
      invitee: "Contractor-X",
      inviter: "mallory",
      org: "acme",
      repo: "acme/payments",
      permission: "write",
    });
    const t = makeEngine();
    await t.run(entry!);
    const [f] = await t.findings(ID);
    expect(f).toMatchObject({
      fingerprint: "outside-collaborator-added:acme/payments:contractor-x",
      severity: "high",
      summary: "Outside collaborator Contractor-X given write access to acme/payments",
    });
  });

  it("says when the entry states no permission instead of calling it unknown access", async () => {
    const entry = fromAuditLog({ actor: "bob", action: "repo.add_member", created_at: 1621305118553, org: "my-org", repo: "my-org/my-repo", user: "cat" });
    const t = makeEngine();
    await t.run(entry!);
    expect((await t.findings(ID))[0]?.summary).toBe("User of unknown org membership cat given access (permission not in the entry) to my-org/my-repo");
  });
});
