import { describe, expect, it } from "vitest";
import type { ConfigInput } from "../../src/config/schema.js";
import { fromWebhook } from "../../src/events/from-webhook.js";
import type { OrgEvent } from "../../src/events/types.js";
import { makeEngine, makeEvent, T0 } from "../helpers/engine.js";
import { examplePayload, webhookFixture } from "../helpers/examples.js";

const ID = "deploy-key-added";

const REPO = "Octocoders/Hello-World";
const FINGERPRINT = "SHA256:ZF9ESg9Zp+csPUMfEJWxIqZrnQpc7MioetmNOpdiXQU";

function hook(name: string, payload: unknown, id: string): OrgEvent {
  const [event] = fromWebhook({ name, id, payload, receivedAt: T0 });
  if (!event) throw new Error(`${name} payload did not convert`);
  return event;
}

const hostile = () => {
  const { name, payload } = webhookFixture("deploy_key.created.hostile-title-write");
  return hook(name, payload, "g-hostile");
};

const auditKey = (details: OrgEvent["details"], repo: string | null = REPO) =>
  makeEvent({ action: "public_key.create", org: "Octocoders", repo, details });

describe("deploy-key-added", () => {
  it("reports a deploy key with write access, high, keeping the hostile title as evidence only", async () => {
    const t = makeEngine();
    await t.run(hostile());
    const [f] = await t.findings("deploy-key-added");
    expect(f).toMatchObject({
      fingerprint: `deploy-key-added:${REPO}:${FINGERPRINT}`,
      severity: "high",
      actor: "mallory",
      repos: [REPO],
    });
    expect(f?.summary).not.toContain("@everyone");
    const [ev] = await t.storage.findings.evidence(f!.id);
    expect(ev?.data).toMatchObject({
      "key title": "@everyone <img src=x onerror=alert(1)> [x](https://evil)",
      "key fingerprint": FINGERPRINT,
      access: "read and write",
    });
  });

  it("reports a read-only deploy key as medium, and not at all when read_only is off", async () => {
    const readOnly = () => hook("deploy_key", examplePayload("deploy_key", "created", 1), "g-ro");
    const t = makeEngine();
    await t.run(readOnly());
    expect(await t.findings("deploy-key-added")).toMatchObject([
      { fingerprint: `deploy-key-added:Codertocat/Hello-World:${FINGERPRINT}`, severity: "medium" },
    ]);
    const off = makeEngine({ detectors: { "deploy-key-added": { read_only: false } } } as ConfigInput);
    await off.run(readOnly());
    expect(await off.findings(ID)).toHaveLength(0);
  });

  it("folds the webhook and the audit entry of the same key into one finding", async () => {
    const t = makeEngine();
    await t.run(hostile(), auditKey({ keyFingerprint: FINGERPRINT, keyTitle: "whatever", keyReadOnly: false }));
    expect(await t.findings(ID)).toMatchObject([{ count: 2, severity: "high" }]);
  });

  it("judges an audit deploy key of unknown access as write, and names it by title or id without a fingerprint", async () => {
    const t = makeEngine();
    await t.run(auditKey({ keyTitle: "ci" }), auditKey({ keyId: 7, keyReadOnly: true }));
    expect((await t.findings(ID)).map((f) => [f.fingerprint, f.severity])).toEqual([
      [`deploy-key-added:${REPO}:ci`, "high"],
      [`deploy-key-added:${REPO}:7`, "medium"],
    ]);
  });

  it("stays quiet for a user's own SSH key (no repository) and for a deleted deploy key", async () => {
    const t = makeEngine();
    const deleted = examplePayload("deploy_key", "created", 1);
    deleted.action = "deleted";
    await t.run(auditKey({ keyFingerprint: FINGERPRINT, keyTitle: "laptop" }, null), hook("deploy_key", deleted, "g-del"));
    expect(await t.findings(ID)).toHaveLength(0);
  });
});
