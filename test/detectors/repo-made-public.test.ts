import { describe, expect, it } from "vitest";
import type { ConfigInput } from "../../src/config/schema.js";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import { fromWebhook } from "../../src/events/from-webhook.js";
import type { OrgEvent } from "../../src/events/types.js";
import { makeEngine, makeEvent, T0, MINUTE } from "../helpers/engine.js";
import { examplePayload, webhookFixture } from "../helpers/examples.js";

const ID = "repo-made-public";

const REPO = "Octocoders/Hello-World";
const withNewPublic = { detectors: { "repo-made-public": { new_public_repos: true } } } as ConfigInput;

function hook(name: string, payload: unknown, id: string, at = T0): OrgEvent {
  const [event] = fromWebhook({ name, id, payload, receivedAt: at });
  if (!event) throw new Error(`${name} payload did not convert`);
  return event;
}

const access = (over: Partial<OrgEvent> = {}, previousVisibility?: OrgEvent["details"]["previousVisibility"]) =>
  makeEvent({
    action: "repo.access",
    org: "Octocoders",
    repo: REPO,
    visibility: "public",
    at: T0 + MINUTE,
    details: previousVisibility === undefined ? {} : { previousVisibility },
    ...over,
  });

describe("repo-made-public", () => {
  it("reports the public webhook on an org repository, high", async () => {
    const t = makeEngine();
    const { name, payload } = webhookFixture("public.org-repo");
    await t.run(hook(name, payload, "g-1"));
    expect(await t.findings("repo-made-public")).toMatchObject([
      { fingerprint: `repo-made-public:${REPO}`, severity: "high", actor: "mallory", repos: [REPO] },
    ]);
  });

  it("folds the repository webhook, the public webhook and the audit entry of one change into one finding", async () => {
    const t = makeEngine();
    const publicized = examplePayload("repository", "publicized", 2);
    (publicized.repository as Record<string, unknown>).full_name = REPO;
    const { name, payload } = webhookFixture("public.org-repo");
    await t.run(hook("repository", publicized, "g-1"), hook(name, payload, "g-2"), access({}, "private"));
    const all = await t.findings(ID);
    expect(all).toHaveLength(1);
    // GitHub sends both webhooks for one change: the same facts count once; the audit entry adds the
    // previous visibility.
    expect(all[0]).toMatchObject({ fingerprint: `repo-made-public:${REPO}`, count: 2, severity: "high" });
  });

  it("reports an audit change from private or internal to public, and from an unknown previous visibility", async () => {
    for (const previous of ["private", "internal", null, undefined] as const) {
      const t = makeEngine();
      await t.run(access({}, previous));
      expect((await t.findings("repo-made-public"))[0]?.severity, `previous ${previous}`).toBe("high");
    }
  });

  it("stays quiet for audit entries that do not make a repository public", async () => {
    const t = makeEngine();
    await t.run(
      access({}, "public"),
      access({ visibility: "private" }, "public"),
      access({ visibility: "internal" }, "private"),
      // Old entries without visibility fields say nothing about publication.
      access({ visibility: null }),
      access({ repo: null }, "private"),
    );
    expect(await t.findings(ID)).toHaveLength(0);
  });

  it("stays quiet for other repository webhooks", async () => {
    const t = makeEngine(withNewPublic);
    await t.run(hook("repository", examplePayload("repository", "privatized", 1), "g-1"));
    await t.run(hook("repository", examplePayload("repository", "edited", 0), "g-2"));
    expect(await t.findings(ID)).toHaveLength(0);
  });

  it("reports repositories created public only when new_public_repos is on, medium", async () => {
    const created = () => hook("repository", examplePayload("repository", "created", 1), "g-created");
    const auditCreate = makeEvent({ action: "repo.create", org: "Octocoders", repo: "Octocoders/Hello-World", visibility: "public" });
    const quiet = makeEngine();
    await quiet.run(created(), auditCreate);
    expect(await quiet.findings(ID)).toHaveLength(0);

    const t = makeEngine(withNewPublic);
    await t.run(created(), auditCreate);
    expect(await t.findings("repo-made-public")).toMatchObject([{ severity: "medium", count: 2 }]);

    const priv = makeEngine(withNewPublic);
    await priv.run(makeEvent({ action: "repo.create", repo: "Octocoders/secret", visibility: "private" }));
    expect(await priv.findings(ID)).toHaveLength(0);
  });

  it("reports a repo.access entry that carries only the new visibility, and not one that carries none", async () => {
    const bare = { actor: "cat", action: "repo.access", created_at: T0, org: "acme", repo: "acme/api" };
    const t = makeEngine();
    await t.run(fromAuditLog({ ...bare, visibility: "public" })!);
    expect(await t.findings(ID)).toMatchObject([{ fingerprint: "repo-made-public:acme/api", severity: "high" }]);
    // Without any visibility the entry does not say the repository became public.
    const quiet = makeEngine();
    await quiet.run(fromAuditLog(bare)!);
    expect(await quiet.findings(ID)).toHaveLength(0);
  });
});
