import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { HOUR, MINUTE, T0, makeEngine, makeEvent } from "../helpers/engine.js";

const KEY = "SHA256:ZF9ESg9Zp+csPUMfEJWxIqZrnQpc7MioetmNOpdiXQU";
const SUBJECT = `mallory:public_key.create:${KEY}`;
const FP = `credential-added:${SUBJECT}`;

const sshKey = (over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "public_key.create", details: { keyFingerprint: KEY, keyTitle: "laptop" }, ...over });

const clone = (n: number, at: number, over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "git.clone", repo: `acme/repo-${n}`, visibility: "private", at, ...over });

describe("credential-added", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("reports a new SSH key alone, low", async () => {
    const t = makeEngine();
    await t.run(sshKey());
    expect(await t.findings("credential-added")).toMatchObject([
      { fingerprint: FP, severity: "low", actor: "mallory", summary: "mallory added an SSH key" },
    ]);
  });

  it("raises the same finding to high when 3 distinct repositories are copied within 24 h, listing them", async () => {
    const t = makeEngine();
    await t.run(sshKey(), clone(1, T0 + HOUR), clone(1, T0 + 2 * HOUR), clone(2, T0 + 5 * HOUR));
    expect(await t.findings("credential-added")).toMatchObject([{ fingerprint: FP, severity: "low" }]);
    await t.run(makeEvent({ action: "repo.download_zip", repo: "acme/repo-3", visibility: "internal", at: T0 + 20 * HOUR }));
    const all = await t.findings("credential-added");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "high", count: 2 });
    expect(all[0]?.repos).toEqual(["acme/repo-1", "acme/repo-2", "acme/repo-3"]);
    const last = (await t.storage.findings.evidence(all[0]!.id)).at(-1);
    expect(last?.data["repos copied since"]).toBe("acme/repo-1, acme/repo-2, acme/repo-3");
  });

  it("stays low for copies that are too few, public, before the credential, after 24 h, or by someone else", async () => {
    const t = makeEngine();
    await t.run(
      clone(1, T0 - MINUTE),
      sshKey(),
      clone(2, T0 + HOUR),
      clone(2, T0 + 2 * HOUR),
      clone(3, T0 + 3 * HOUR, { visibility: "public" }),
      clone(4, T0 + 4 * HOUR, { actor: "alice" }),
      clone(5, T0 + 4 * HOUR, { actor: "ci[bot]", actorIsBot: true }),
      clone(6, T0 + 25 * HOUR),
    );
    expect(await t.findings("credential-added")).toMatchObject([{ fingerprint: FP, severity: "low", count: 1 }]);
  });

  it("follows the token named by a token grant, even on copies without an actor", async () => {
    const t = makeEngine();
    const grant = makeEvent({ action: "personal_access_token.access_granted", token: "h4sh", details: { extra: { token_id: 77 } } });
    await t.run(grant, ...[1, 2, 3].map((n) => clone(n, T0 + n * HOUR, { actor: null, actorId: null, token: "h4sh" })));
    expect(await t.findings("credential-added")).toMatchObject([
      {
        fingerprint: "credential-added:mallory:personal_access_token.access_granted:token-77",
        severity: "high",
        actor: "mallory",
      },
    ]);
  });

  it("leaves a lone deploy key to deploy-key-added, and treats one seen by webhook and audit log as one finding", async () => {
    const t = makeEngine();
    const details = { keyFingerprint: KEY, keyTitle: "mirror", keyReadOnly: false };
    await t.run(
      makeEvent({ action: "deploy_key.created", source: "webhook", repo: "acme/api", details }),
      makeEvent({ action: "public_key.create", repo: "acme/api", details }),
    );
    expect(await t.findings("credential-added")).toHaveLength(0);
    await t.run(clone(1, T0 + MINUTE), clone(2, T0 + 2 * MINUTE), clone(3, T0 + 3 * MINUTE));
    const all = await t.findings("credential-added");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: FP, severity: "high" });
  });

  it("names a credential without an id by the minute it appeared, and its owner when an admin recorded it", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "oauth_authorization.create" }));
    await t.run(makeEvent({ action: "personal_access_token_request.created", source: "webhook", actor: "octocat", details: { user: "octocat", extra: { tokenId: 9 } } }));
    await t.run(makeEvent({ action: "org_credential_authorization.grant", actor: "admin", details: { user: "bob" } }));
    expect((await t.findings("credential-added")).map((f) => [f.fingerprint, f.actor])).toEqual([
      ["credential-added:mallory:oauth_authorization.create:2026-10-02T10:00", "mallory"],
      ["credential-added:octocat:personal_access_token_request.created:token-9", "octocat"],
      ["credential-added:bob:org_credential_authorization.grant:2026-10-02T10:00", "bob"],
    ]);
  });

  it("credits copies processed just before a credential they came after (slightly out-of-order input)", async () => {
    const t = makeEngine();
    await t.run(clone(1, T0 + MINUTE), clone(2, T0 + 2 * MINUTE), clone(3, T0 + 3 * MINUTE), sshKey());
    expect(await t.findings("credential-added")).toMatchObject([{ fingerprint: FP, severity: "high" }]);
  });

  it("stays quiet for credentials added by bots and for entries with nobody to attribute them to", async () => {
    const t = makeEngine();
    await t.run(sshKey({ actor: "deployer[bot]", actorIsBot: true }), sshKey({ actor: null, actorId: null }));
    expect(await t.findings("credential-added")).toHaveLength(0);
  });

  it("continues the 24 h window across a restart on the same database", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "credential-added-"));
    dirs.push(dir);
    const file = path.join(dir, "db.sqlite");
    const first = makeEngine({}, { file });
    await first.run(sshKey(), clone(1, T0 + HOUR));
    await first.close();
    const second = makeEngine({}, { file });
    await second.run(clone(2, T0 + 2 * HOUR), clone(3, T0 + 10 * HOUR));
    expect(await second.findings("credential-added")).toMatchObject([
      { fingerprint: FP, severity: "high", repos: ["acme/repo-1", "acme/repo-2", "acme/repo-3"] },
    ]);
    await second.close();
  });

  it("follows its thresholds from the config", async () => {
    const t = makeEngine({ detectors: { "credential-added": { repos: 2, follow_hours: 2 } } });
    await t.run(sshKey(), clone(1, T0 + HOUR), clone(2, T0 + 3 * HOUR));
    expect((await t.findings("credential-added"))[0]?.severity).toBe("low");
    await t.run(clone(3, T0 + 90 * MINUTE));
    expect((await t.findings("credential-added"))[0]?.severity).toBe("high");
  });
});
