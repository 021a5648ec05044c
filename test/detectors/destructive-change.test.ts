import { describe, expect, it } from "vitest";
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

  it("stays quiet for audit entries without a repository", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "repo.destroy" }), makeEvent({ action: "protected_branch.destroy" }));
    expect(await t.findings(ID)).toHaveLength(0);
  });
});
