import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { OrgEvent } from "../../src/events/types.js";
import { DAY, HOUR, MINUTE, T0, makeEngine, makeEvent } from "../helpers/engine.js";

const KEY = "SHA256:ZF9ESg9Zp+csPUMfEJWxIqZrnQpc7MioetmNOpdiXQU";
const SUBJECT = `mallory:public_key.create:${KEY}`;
const FP = `credential-added:${SUBJECT}`;

const sshKey = (over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "public_key.create", details: { keyFingerprint: KEY, keyTitle: "laptop" }, ...over });

const clone = (n: number, at: number, over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "git.clone", repo: `acme/repo-${n}`, visibility: "private", at, ...over });

const copy = (action: string, repo: string, at: number, over: Partial<OrgEvent> = {}) =>
  makeEvent({ action, repo, visibility: "private", at, ...over });

const TEAM = ["acme/team-1", "acme/team-2", "acme/team-3", "acme/team-4"];

/**
 * Ordinary work in the three weeks before T0: `actor` fetches each of `repos` every third day (busiest day:
 * `repos.length`). Gives the account a history, and the detector a past, so that "new" means something.
 */
const history = (repos: string[] = TEAM, over: Partial<OrgEvent> = {}) =>
  [-21, -18, -15, -12, -9, -6, -3].flatMap((d) => repos.map((repo, i) => copy("git.fetch", repo, T0 + d * DAY + i * MINUTE, over)));

/** A credential authorized for SSO (the audit log names the key's fingerprint). */
const sso = (over: Partial<OrgEvent> = {}) =>
  makeEvent({ action: "org_credential_authorization.grant", details: { user: "mallory", keyFingerprint: KEY }, ...over });
const SSO_FP = `credential-added:mallory:org_credential_authorization.grant:${KEY}`;

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

  it("raises the same finding to high when 3 repositories new to the account are copied within 24 h, listing them", async () => {
    const t = makeEngine();
    await t.run(...history());
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
    await t.run(...history());
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
    await t.run(...history());
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
    await t.run(...history());
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
    await t.run(...history());
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
    await first.run(...history());
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
    await t.run(...history());
    await t.run(sshKey(), clone(1, T0 + HOUR), clone(2, T0 + 3 * HOUR));
    expect((await t.findings("credential-added"))[0]?.severity).toBe("low");
    await t.run(clone(3, T0 + 90 * MINUTE));
    expect((await t.findings("credential-added"))[0]?.severity).toBe("high");
  });

  describe("judged against the account's usual work", () => {
    it("stays low when a new SSO-authorized key is followed by the repositories the account already works on", async () => {
      const t = makeEngine();
      await t.run(...history());
      // A new laptop: the key authorized for SSO, the team's repositories cloned afresh, then fetched all day.
      await t.run(sso(), ...TEAM.map((repo, i) => copy("git.clone", repo, T0 + HOUR + i * MINUTE)));
      await t.run(...TEAM.map((repo, i) => copy("git.fetch", repo, T0 + 5 * HOUR + i * MINUTE)));
      expect(await t.findings("credential-added")).toMatchObject([
        { fingerprint: SSO_FP, severity: "low", count: 1, summary: "mallory added a credential authorized for SSO" },
      ]);
    });

    it("raises it when the key is followed by repositories the account never copied or fetched", async () => {
      const t = makeEngine();
      await t.run(...history());
      await t.run(sso(), copy("git.clone", "acme/team-1", T0 + HOUR), clone(1, T0 + 2 * HOUR), clone(2, T0 + 3 * HOUR));
      // Two new ones and a known one: not yet.
      expect(await t.findings("credential-added")).toMatchObject([{ fingerprint: SSO_FP, severity: "low" }]);
      await t.run(clone(3, T0 + 4 * HOUR));
      const [f] = await t.findings("credential-added");
      expect(f).toMatchObject({
        fingerprint: SSO_FP,
        severity: "high",
        summary: "mallory added a credential authorized for SSO, then copied 3 non-public repositories new to the account within 24 h",
        repos: ["acme/repo-1", "acme/repo-2", "acme/repo-3", "acme/team-1"],
      });
      const last = (await t.storage.findings.evidence(f!.id)).at(-1);
      expect(last?.data["repos new to the account"]).toBe("acme/repo-1, acme/repo-2, acme/repo-3");
      expect(last?.data["history before the credential"]).toBe("busiest day 4 repos");
    });

    it("judges a token's copies against the token's own history and its owner's", async () => {
      const t = makeEngine();
      const byToken = { actor: null, actorId: null, token: "h4sh" };
      // mallory works on the team's repositories over SSH; the token, used without an actor, had one of its own.
      await t.run(...history(), copy("git.clone", "acme/tools", T0 - 2 * DAY, byToken));
      const grant = makeEvent({ action: "personal_access_token.access_granted", token: "h4sh", details: { extra: { token_id: 77 } } });
      // After the grant: the token's repository cloned by mallory with the token, and three of hers by the token alone.
      await t.run(grant, copy("git.clone", "acme/tools", T0 + HOUR, { token: "h4sh" }));
      await t.run(...TEAM.slice(0, 3).map((repo, i) => copy("git.clone", repo, T0 + (i + 2) * HOUR, byToken)));
      await t.run(clone(1, T0 + 6 * HOUR, byToken), clone(2, T0 + 7 * HOUR, byToken));
      // Four copies the token or its owner already had, two new ones: not yet.
      expect(await t.findings("credential-added")).toMatchObject([{ severity: "low" }]);
      await t.run(clone(3, T0 + 8 * HOUR, byToken));
      const all = await t.findings("credential-added");
      expect(all).toMatchObject([{ fingerprint: "credential-added:mallory:personal_access_token.access_granted:token-77", severity: "high" }]);
      const last = (await t.storage.findings.evidence(all[0]!.id)).at(-1);
      expect(last?.data["repos new to the account"]).toBe("acme/repo-1, acme/repo-2, acme/repo-3");
    });

    it("does not make a new member's first-day setup of five team repositories high, and does a broad sweep", async () => {
      const t = makeEngine();
      const join = (user: string) => makeEvent({ action: "org.add_member", actor: "admin", details: { user }, at: T0 - HOUR });
      const team = ["acme/team-1", "acme/team-2", "acme/team-3", "acme/team-4", "acme/team-5"];
      await t.run(join("newbie"), sso({ actor: "newbie", details: { user: "newbie", keyFingerprint: KEY } }));
      await t.run(...team.map((repo, i) => copy("git.clone", repo, T0 + (i + 1) * 10 * MINUTE, { actor: "newbie" })));
      // Low, raised one step because the account joined less than 30 days ago: recorded, not an incident.
      expect(await t.findings("credential-added")).toMatchObject([
        { fingerprint: `credential-added:newbie:org_credential_authorization.grant:${KEY}`, severity: "medium" },
      ]);

      await t.run(join("sweeper"), sso({ actor: "sweeper", details: { user: "sweeper", keyFingerprint: KEY } }));
      await t.run(...Array.from({ length: 6 }, (_, i) => clone(i + 1, T0 + (i + 1) * 20 * MINUTE, { actor: "sweeper" })));
      const sweep = (await t.findings("credential-added")).find((f) => f.actor === "sweeper");
      expect(sweep).toMatchObject({
        severity: "critical",
        summary: "sweeper added a credential authorized for SSO, then copied 6 non-public repositories within 24 h, with no copying of its own in the 30 days before",
      });
    });

    it("waits a working day of watching before calling repositories new, so a log's first hours judge by volume alone", async () => {
      const after = async (watched: number) => {
        const t = makeEngine();
        const start = T0 - watched;
        await t.run(...TEAM.map((repo, i) => copy("git.fetch", repo, start + i * MINUTE)));
        await t.run(sshKey(), clone(1, T0 + HOUR), clone(2, T0 + 2 * HOUR), clone(3, T0 + 3 * HOUR));
        return (await t.findings("credential-added"))[0]?.severity;
      };
      expect(await after(7 * HOUR)).toBe("low");
      expect(await after(9 * HOUR)).toBe("high");
    });

    it("raises copying far above the account's busiest day, even of repositories it had", async () => {
      const t = makeEngine();
      // Twenty repositories over ten days, two a day: the busiest day is 2, so more than 8 is far above it.
      const repos = Array.from({ length: 20 }, (_, i) => `acme/svc-${i + 1}`);
      await t.run(...repos.map((repo, i) => copy("git.fetch", repo, T0 - (12 - Math.floor(i / 2)) * DAY)));
      await t.run(sshKey(), ...repos.slice(0, 8).map((repo, i) => copy("git.clone", repo, T0 + (i + 1) * 10 * MINUTE)));
      expect(await t.findings("credential-added")).toMatchObject([{ fingerprint: FP, severity: "low" }]);
      await t.run(copy("git.clone", repos[8]!, T0 + 2 * HOUR));
      expect(await t.findings("credential-added")).toMatchObject([
        {
          fingerprint: FP,
          severity: "high",
          summary: "mallory added an SSH key, then copied 9 non-public repositories within 24 h, more than 4 times its busiest day (2)",
        },
      ]);
    });

    it("counts first fetches and archive downloads as copies, as mass-clone does, but not fetches of repositories it has", async () => {
      const t = makeEngine();
      await t.run(...history());
      const archive = makeEvent({
        action: "api.request",
        at: T0 + 3 * HOUR,
        details: { extra: { request_method: "GET", url_path: "/repos/acme/repo-2/tarball/main" } },
      });
      await t.run(sshKey(), copy("git.fetch", "acme/team-1", T0 + HOUR), copy("git.fetch", "acme/repo-1", T0 + 2 * HOUR), archive);
      expect(await t.findings("credential-added")).toMatchObject([{ severity: "low" }]);
      await t.run(copy("repo.download_zip", "acme/repo-3", T0 + 4 * HOUR));
      expect(await t.findings("credential-added")).toMatchObject([
        { fingerprint: FP, severity: "high", repos: ["acme/repo-1", "acme/repo-2", "acme/repo-3"] },
      ]);
    });
  });

  it("never credits the approving admin's own copies to the token owner's new token", async () => {
    const t = makeEngine();
    const repos = Array.from({ length: 10 }, (_, i) => `acme/r${i}`);
    for (const d of [-20, -15, -10, -5, -2]) {
      await t.run(...repos.map((r, i) => copy("git.clone", r, T0 + d * DAY + i * MINUTE, { actor: "admin" })));
    }
    await t.run(makeEvent({ action: "personal_access_token.access_granted", actor: "admin", token: "admin-token", details: { user: "alice", extra: { token_id: 77 } } }));
    // The admin goes on with their usual work: nothing of it is alice's.
    await t.run(...repos.slice(0, 6).map((r, i) => copy("git.clone", r, T0 + HOUR + i * MINUTE, { actor: "admin", token: "admin-token" })));
    expect((await t.findings("credential-added")).map((f) => [f.actor, f.severity, f.repos])).toEqual([["alice", "low", []]]);
  });
});
