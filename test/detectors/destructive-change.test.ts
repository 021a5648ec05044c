import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import { fromWebhook } from "../../src/events/from-webhook.js";
import type { OrgEvent } from "../../src/events/types.js";
import { makeEngine, makeEvent, T0, HOUR, DAY } from "../helpers/engine.js";
import { examplePayload, webhookFixture } from "../helpers/examples.js";

const ID = "destructive-change";

const REPO = "Octocoders/Hello-World";

function hook(file: string, id: string, at = T0, edit?: (p: Record<string, unknown>) => void): OrgEvent {
  const { name, payload } = webhookFixture(file);
  edit?.(payload);
  const [event] = fromWebhook({ name, id, payload, receivedAt: at });
  if (!event) throw new Error(`${file} did not convert`);
  return event;
}

describe("destructive-change", () => {
  it("reports a force-push to the default branch, high, one incident per UTC day with a count", async () => {
    const t = makeEngine();
    await t.run(
      hook("push.forced-default-branch", "g-1"),
      hook("push.forced-default-branch", "g-2", T0 + HOUR, (p) => {
        p.before = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
        p.after = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
      }),
      hook("push.forced-default-branch", "g-3", T0 + DAY),
    );
    expect((await t.findings("destructive-change")).map((f) => [f.fingerprint, f.severity, f.count])).toEqual([
      [`destructive-change:${REPO}:master:force-push:2026-10-02`, "high", 2],
      [`destructive-change:${REPO}:master:force-push:2026-10-03`, "high", 1],
    ]);
  });

  it("reports a deletion of the default branch", async () => {
    const t = makeEngine();
    await t.run(hook("push.deleted-default-branch", "g-1"));
    expect(await t.findings(ID)).toMatchObject([
      { fingerprint: `destructive-change:${REPO}:master:deleted:2026-10-02`, severity: "high", actor: "mallory" },
    ]);
  });

  it("stays quiet for force-pushes to other branches, ordinary pushes and deleted tags", async () => {
    const t = makeEngine();
    const ordinary = fromWebhook({ name: "push", id: "g-ex4", payload: examplePayload("push", undefined, 4), receivedAt: T0 });
    const tagDeleted = fromWebhook({ name: "push", id: "g-ex3", payload: examplePayload("push", undefined, 3), receivedAt: T0 });
    await t.run(
      hook("push.forced-feature-branch", "g-1"),
      hook("push.forced-default-branch", "g-2", T0, (p) => (p.forced = false)),
      ...ordinary,
      ...tagDeleted,
    );
    expect(ordinary).toHaveLength(1);
    expect(tagDeleted[0]?.details.deleted).toBe(true);
    expect(await t.findings(ID)).toHaveLength(0);
  });

  it("stays quiet when the default branch is unknown", async () => {
    const t = makeEngine();
    await t.run(
      hook("push.forced-default-branch", "g-1", T0, (p) => {
        const repo = p.repository as Record<string, unknown>;
        delete repo.default_branch;
        delete repo.master_branch;
      }),
    );
    expect(await t.findings(ID)).toHaveLength(0);
  });

  it("reports an audit repo.destroy and a removed branch protection", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "repo.destroy", repo: "acme/api" }),
      makeEvent({ action: "protected_branch.destroy", repo: "acme/api", details: { extra: { name: "main" } } }),
      makeEvent({ action: "protected_branch.destroy", repo: "acme/web" }),
    );
    expect((await t.findings(ID)).map((f) => [f.fingerprint, f.severity])).toEqual([
      ["destructive-change:acme/api:destroyed", "high"],
      ["destructive-change:acme/api:protection-removed:main", "high"],
      ["destructive-change:acme/web:protection-removed:*", "high"],
    ]);
  });

  /** A ruleset entry with the fields GitHub's audit log gives rulesets (values invented). */
  function ruleset(action: string, fields: Record<string, unknown>, at = T0): OrgEvent {
    const e = fromAuditLog({
      "@timestamp": at,
      action,
      actor: "mallory",
      actor_id: 5001,
      actor_location: { country_code: "US" },
      business: "acme-corp",
      org: "acme",
      org_id: 9001,
      operation_type: action.endsWith(".destroy") ? "remove" : "modify",
      ruleset_id: "4242",
      ruleset_name: "protect-default",
      ruleset_conditions: [{ id: 1, target: "ref_name", parameters: { include: ["~DEFAULT_BRANCH"], exclude: [] } }],
      ...fields,
    });
    if (!e) throw new Error(`${action} did not convert`);
    return e;
  }

  it("reports a repository's ruleset deleted, and an org-wide one switched from active to disabled, high", async () => {
    const t = makeEngine();
    await t.run(
      ruleset("repository_ruleset.destroy", { repo: "acme/api", repo_id: 77, public_repo: false, ruleset_enforcement: "enabled", ruleset_source_type: "Repository" }),
      ruleset("repository_ruleset.update", { ruleset_name: "org-baseline", ruleset_source_type: "Organization", ruleset_enforcement: "disabled", ruleset_old_enforcement: "active" }),
    );
    expect((await t.findings(ID)).map((f) => [f.fingerprint, f.severity, f.repos, f.summary])).toEqual([
      ["destructive-change:acme/api:ruleset-removed:protect-default", "high", ["acme/api"], "Ruleset protect-default of acme/api deleted"],
      ["destructive-change:acme:ruleset-removed:org-baseline", "high", [], "Ruleset org-baseline of acme no longer enforced"],
    ]);
  });

  it("reports a ruleset moved from active to evaluate (it then only reports), and one left disabled whose old state is unknown as medium", async () => {
    const t = makeEngine();
    await t.run(
      ruleset("repository_ruleset.update", { repo: "acme/api", ruleset_enforcement: "evaluate", ruleset_old_enforcement: "enabled" }),
      ruleset("repository_ruleset.update", { repo: "acme/web", ruleset_enforcement: "disabled" }),
    );
    expect((await t.findings(ID)).map((f) => [f.subject, f.severity])).toEqual([
      ["acme/api:ruleset-removed:protect-default", "high"],
      ["acme/web:ruleset-removed:protect-default", "medium"],
    ]);
  });

  it("stays quiet for rulesets created, edited while still enforced, switched off when they only evaluated, or deleted while disabled", async () => {
    const t = makeEngine();
    await t.run(
      ruleset("repository_ruleset.create", { repo: "acme/api", ruleset_enforcement: "active" }),
      ruleset("repository_ruleset.update", { repo: "acme/api", ruleset_enforcement: "active", ruleset_old_enforcement: "active" }),
      ruleset("repository_ruleset.update", { repo: "acme/api", ruleset_enforcement: "enabled" }),
      ruleset("repository_ruleset.update", { ruleset_source_type: "Organization", ruleset_enforcement: "disabled", ruleset_old_enforcement: "evaluate" }),
      ruleset("repository_ruleset.destroy", { repo: "acme/api", ruleset_enforcement: "disabled" }),
      ruleset("repository_ruleset.destroy", { org: null }),
    );
    expect(await t.findings(ID)).toHaveLength(0);
  });

  it("names a deleted ruleset from `name` when the entry has only the fields GitHub documents for it", async () => {
    const t = makeEngine();
    const e = fromAuditLog({ created_at: T0, action: "repository_ruleset.destroy", actor: "mallory", org: "acme", repo: "acme/api", name: "release-branches" });
    await t.run(e!);
    expect(await t.findings(ID)).toMatchObject([{ subject: "acme/api:ruleset-removed:release-branches", severity: "high" }]);
  });

  it("reports branch protection bypassed as medium, one finding per branch and UTC day with a count", async () => {
    // Each override lets a different push through, so each names other commits.
    const override = (at: number, branch = "refs/heads/main") =>
      fromAuditLog({
        "@timestamp": at,
        action: "protected_branch.policy_override",
        actor: "mallory",
        org: "acme",
        repo: "acme/api",
        branch,
        before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        after: createHash("sha1").update(`${branch}@${at}`).digest("hex"),
        reasons: [{ code: "non_fast_forward", message: "Cannot force-push to this branch" }],
      })!;
    const t = makeEngine();
    await t.run(override(T0), override(T0 + HOUR), override(T0 + DAY), override(T0, "refs/heads/release"));
    const found = await t.findings(ID);
    expect(found.map((f) => [f.subject, f.severity, f.count]).sort()).toEqual([
      ["acme/api:protection-bypassed:main:2026-10-02", "medium", 2],
      ["acme/api:protection-bypassed:main:2026-10-03", "medium", 1],
      ["acme/api:protection-bypassed:release:2026-10-02", "medium", 1],
    ]);
    const release = found.find((f) => f.subject.includes(":release:"));
    const [ev] = await t.storage.findings.evidence(release!.id);
    expect(ev?.data).toMatchObject({
      branch: "release",
      before: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      change: "branch protection bypassed",
    });
    // A renamed protection rule neither removes nor bypasses anything.
    expect(await makeEngine().run(makeEvent({ action: "protected_branch.update_name", repo: "acme/api" }))).toHaveLength(0);
  });

  it("stays quiet for audit entries without a repository", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "repo.destroy" }),
      makeEvent({ action: "protected_branch.destroy" }),
      makeEvent({ action: "protected_branch.policy_override", details: { extra: { branch: "refs/heads/main" } } }),
    );
    expect(await t.findings(ID)).toHaveLength(0);
  });
});
