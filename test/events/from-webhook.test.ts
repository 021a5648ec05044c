import { describe, expect, it } from "vitest";
import { fromWebhook, sshKeyFingerprint } from "../../src/events/from-webhook.js";
import { allExamples, examplePayload, webhookFixture } from "../helpers/examples.js";
import { T0 } from "../helpers/engine.js";

const GUID = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

function convert(name: string, payload: unknown, id = GUID) {
  return fromWebhook({ name, id, payload, receivedAt: T0 });
}

function one(name: string, payload: unknown) {
  const events = convert(name, payload);
  expect(events).toHaveLength(1);
  return events[0]!;
}

describe("fromWebhook: common fields", () => {
  it("fills the common fields from a fork of a private org repo into a user account", () => {
    const { name, payload } = webhookFixture("fork.private-org-to-user");
    expect(one(name, payload)).toEqual({
      id: `webhook:${GUID}`,
      source: "webhook",
      action: "fork",
      at: T0,
      org: "Octocoders",
      actor: "mallory",
      actorId: 5551001,
      actorIsBot: false,
      repo: "Octocoders/Hello-World",
      visibility: "private",
      country: null,
      ip: null,
      token: null,
      tokenType: null,
      installationId: 1,
      details: { forkFullName: "mallory/Hello-World", forkOwner: "mallory", forkOwnerType: "User" },
    });
  });

  it("takes the org from the repository owner only when the owner is an organization", () => {
    const orgRepo = examplePayload("repository", "created", 0);
    delete orgRepo.organization;
    expect(one("repository", orgRepo).org).toBe("Octocoders");
    // A user's repository belongs to no org.
    expect(one("fork", examplePayload("fork")).org).toBeNull();
  });

  it("reads the org of a push from the owner's `name` when it has no `login`", () => {
    const { payload } = webhookFixture("push.forced-default-branch");
    delete payload.organization;
    const repo = payload.repository as { owner: Record<string, unknown>; organization?: unknown };
    delete repo.owner.login;
    delete repo.organization;
    expect(one("push", payload).org).toBe("Octocoders");
  });

  it("falls back to `private` when the repository has no visibility field", () => {
    const payload = examplePayload("public", undefined, 0);
    expect((payload.repository as Record<string, unknown>).visibility).toBeUndefined();
    const repo = examplePayload("member", "added", 0);
    expect(one("member", repo).visibility).toBe("public");
    (repo.repository as Record<string, unknown>).private = true;
    expect(one("member", repo).visibility).toBe("private");
  });

  it("marks bot senders", () => {
    const payload = examplePayload("push", undefined, 4);
    (payload.sender as Record<string, unknown>).type = "Bot";
    expect(one("push", payload).actorIsBot).toBe(true);
  });
});

describe("fromWebhook: actions", () => {
  it("maps repository.publicized and public to a repo that is now public, previous visibility unknown", () => {
    const publicized = one("repository", examplePayload("repository", "publicized", 2));
    expect(publicized).toMatchObject({
      action: "repository.publicized",
      org: "Octocoders",
      // GitHub's example really names the repository so, under the Octocoders owner.
      repo: "Codertocat/Hello-World",
      visibility: "public",
      details: { previousVisibility: null },
    });
    const { name, payload } = webhookFixture("public.org-repo");
    expect(one(name, payload)).toMatchObject({ action: "public", visibility: "public", details: { previousVisibility: null } });
  });

  it("maps other repository actions to repository.<action> without details", () => {
    expect(one("repository", examplePayload("repository", "privatized", 1))).toMatchObject({
      action: "repository.privatized",
      details: {},
    });
  });

  it("maps deploy_key.created with the key's GitHub fingerprint and access", () => {
    const { name, payload } = webhookFixture("deploy_key.created.hostile-title-write");
    expect(one(name, payload)).toMatchObject({
      action: "deploy_key.created",
      repo: "Octocoders/Hello-World",
      org: "Octocoders",
      details: {
        keyTitle: "@everyone <img src=x onerror=alert(1)> [x](https://evil)",
        keyId: 100,
        keyReadOnly: false,
        // What `ssh-keygen -lf` prints for the example key.
        keyFingerprint: "SHA256:ZF9ESg9Zp+csPUMfEJWxIqZrnQpc7MioetmNOpdiXQU",
      },
    });
    const deleted = examplePayload("deploy_key", "created", 0);
    deleted.action = "deleted";
    expect(one("deploy_key", deleted).action).toBe("deploy_key.deleted");
  });

  it("leaves the fingerprint out when the key text is not a key", () => {
    expect(sshKeyFingerprint("ssh-rsa not*base64")).toBeUndefined();
    expect(sshKeyFingerprint("ssh-rsa")).toBeUndefined();
    expect(sshKeyFingerprint(42)).toBeUndefined();
    const payload = examplePayload("deploy_key", "created", 0);
    (payload.key as Record<string, unknown>).key = { nested: true };
    const e = one("deploy_key", payload);
    expect(e.details).not.toHaveProperty("keyFingerprint");
    expect(e.details.keyTitle).toBe("hey-its-a-deploy-key");
  });

  it("maps member.added and member.edited with the user, the new permission and the previous one", () => {
    const added = webhookFixture("member.added.outsider-write");
    expect(one(added.name, added.payload)).toMatchObject({
      action: "member.added",
      details: { user: "hacktocat", permission: "write" },
    });
    const edited = webhookFixture("member.edited.raised-to-admin");
    expect(one(edited.name, edited.payload)).toMatchObject({
      action: "member.edited",
      details: { user: "octocat", permission: "admin", extra: { previousPermission: "read" } },
    });
    // GitHub's own example has no permission change at all.
    expect(one("member", examplePayload("member", "edited")).details).toEqual({
      user: "octocat",
      permission: null,
      extra: { previousPermission: "write" },
    });
  });

  it("uses the role name when the legacy permission field is missing", () => {
    const payload = examplePayload("member", "added", 2);
    payload.changes = { role_name: { to: "maintain" } };
    expect(one("member", payload).details.permission).toBe("maintain");
  });

  it("maps a push with what happened to the ref and the distinct author emails", () => {
    const { name, payload } = webhookFixture("push.forced-default-branch");
    const commits = payload.commits as Record<string, unknown>[];
    commits.push(structuredClone(commits[0]!), {
      ...structuredClone(commits[0]!),
      author: { name: "Other", email: "other@example.com" },
    });
    expect(one(name, payload)).toMatchObject({
      action: "push",
      repo: "Octocoders/Hello-World",
      org: "Octocoders",
      details: {
        ref: "refs/heads/master",
        defaultBranch: "master",
        forced: true,
        deleted: false,
        created: false,
        before: "c5b06b3b3f1f2b2a0b7c9b2b0c6e6b1c1f0d9a11",
        after: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        commitCount: 3,
        authorEmails: ["21031067+Codertocat@users.noreply.github.com", "other@example.com"],
      },
    });
  });

  it("falls back to master_branch when a push has no default_branch", () => {
    const payload = examplePayload("push", undefined, 4);
    const repo = payload.repository as Record<string, unknown>;
    delete repo.default_branch;
    repo.master_branch = "trunk";
    expect(one("push", payload).details.defaultBranch).toBe("trunk");
  });

  it("maps organization member_added and member_removed with the user", () => {
    const added = examplePayload("organization", "member_added", 2);
    expect(one("organization", added)).toMatchObject({
      action: "organization.member_added",
      org: "Octocoders",
      details: { user: "hacktocat" },
    });
    added.action = "member_removed";
    expect(one("organization", added).action).toBe("organization.member_removed");
    expect(convert("organization", examplePayload("organization", "renamed"))).toEqual([]);
  });

  it("maps personal_access_token_request with the requester and a permissions summary", () => {
    const { name, payload } = webhookFixture("personal_access_token_request.created.handmade");
    expect(one(name, payload)).toMatchObject({
      action: "personal_access_token_request.created",
      org: "Octocoders",
      details: {
        user: "mallory",
        extra: {
          tokenId: 98765,
          tokenName: "backup script",
          requestId: 4242,
          permissions: "repository: contents=read, metadata=read; organization: members=read",
          repositorySelection: "all",
          repositoryCount: null,
        },
      },
    });
  });

  it("yields nothing for installation events, unknown events and actions outside GitHub's vocabulary", () => {
    for (const { name, payload } of allExamples().filter((e) => e.name.startsWith("installation"))) {
      expect(convert(name, payload)).toEqual([]);
    }
    expect(convert("star", examplePayload("star"))).toEqual([]);
    const weird = examplePayload("repository", "publicized", 2);
    weird.action = "__proto__";
    expect(convert("repository", weird)).toEqual([]);
    const noAction = examplePayload("deploy_key", "created", 0);
    delete noAction.action;
    expect(convert("deploy_key", noAction)).toEqual([]);
  });

  it("keeps the delivery guid in the event id so a redelivery maps to the same event", () => {
    const { name, payload } = webhookFixture("push.forced-default-branch");
    const a = convert(name, payload, "guid-1");
    const b = convert(name, structuredClone(payload), "guid-1");
    expect(a[0]?.id).toBe("webhook:guid-1");
    expect(b).toEqual(a);
  });
});

describe("fromWebhook: never throws", () => {
  const GARBAGE: unknown[] = [null, undefined, {}, [], "push", "", 0, 42, true, [{}], { action: 7 }, Symbol("x")];
  const NAMES = ["fork", "public", "repository", "deploy_key", "member", "push", "organization", "personal_access_token_request", "installation", "nope"];

  it("returns an array for every example payload GitHub publishes", () => {
    const examples = allExamples();
    expect(examples.length).toBeGreaterThan(200);
    let mapped = 0;
    for (const { name, payload } of examples) {
      const events = convert(name, payload);
      expect(Array.isArray(events)).toBe(true);
      mapped += events.length;
    }
    // Not an empty mapping: the examples of the events above do produce events.
    expect(mapped).toBeGreaterThan(30);
  });

  it("returns an array for garbage payloads under every event name", () => {
    for (const name of NAMES) {
      for (const payload of GARBAGE) expect(convert(name, payload)).toEqual([]);
    }
    expect(fromWebhook(null as never)).toEqual([]);
    expect(fromWebhook({ name: 7, id: null, payload: {}, receivedAt: "x" } as never)).toEqual([]);
  });

  it("survives every field of every mapped example replaced by a value of the wrong type", () => {
    const WRONG: unknown[] = [null, "x", 42, [], {}, [null], true];
    let tried = 0;
    for (const { name, payload } of allExamples().filter((e) => NAMES.includes(e.name))) {
      const paths = fieldPaths(payload, 3);
      for (const path of paths) {
        for (const wrong of WRONG) {
          const copy = structuredClone(payload);
          setPath(copy, path, wrong);
          const events = convert(name, copy);
          expect(Array.isArray(events)).toBe(true);
          for (const e of events) expect(typeof e.action).toBe("string");
          tried += 1;
        }
      }
    }
    expect(tried).toBeGreaterThan(1000);
  });
});

/** Paths of every field down to `depth` levels (arrays count as one level, first element only). */
function fieldPaths(value: unknown, depth: number, prefix: (string | number)[] = []): (string | number)[][] {
  if (depth === 0 || typeof value !== "object" || value === null) return [];
  const entries: [string | number, unknown][] = Array.isArray(value)
    ? value.length > 0 ? [[0, value[0]]] : []
    : Object.entries(value);
  return entries.flatMap(([k, v]) => [[...prefix, k], ...fieldPaths(v, depth - 1, [...prefix, k])]);
}

function setPath(root: unknown, path: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = value;
}
