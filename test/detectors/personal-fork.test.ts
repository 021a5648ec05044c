import { describe, expect, it } from "vitest";
import { makeEngine, makeEvent } from "../helpers/engine.js";

const fork = (over: Partial<Parameters<typeof makeEvent>[0]> = {}) =>
  makeEvent({
    action: "fork",
    source: "webhook",
    repo: "acme/api",
    visibility: "private",
    details: { forkFullName: "mallory/api", forkOwner: "mallory", forkOwnerType: "User" },
    ...over,
  });

describe("personal-fork", () => {
  it("reports a private repository forked into a personal account, high", async () => {
    const t = makeEngine();
    await t.run(fork());
    const [f] = await t.findings("personal-fork");
    expect(f).toMatchObject({ fingerprint: "personal-fork:acme/api->mallory/api", severity: "high", actor: "mallory" });
  });

  it("stays quiet for a fork of a public repository unless public_sources is on", async () => {
    expect(await makeEngine().run(fork({ visibility: "public" }))).toHaveLength(0);
    const t = makeEngine({ detectors: { "personal-fork": { public_sources: true } } });
    await t.run(fork({ visibility: "public" }));
    expect((await t.findings())[0]?.severity).toBe("low");
  });

  it("stays quiet for allowlisted fork owners and forks inside the org", async () => {
    expect(await makeEngine({ allow: { fork_owners: ["partner-*"] } }).run(
      fork({ details: { forkFullName: "Partner-Co/api", forkOwner: "Partner-Co", forkOwnerType: "Organization" } }),
    )).toHaveLength(0);
    expect(await makeEngine().run(
      fork({ details: { forkFullName: "acme/api-2", forkOwner: "ACME", forkOwnerType: "Organization" } }),
    )).toHaveLength(0);
  });

  it("counts the same event once and folds a second channel into the same finding", async () => {
    const t = makeEngine();
    const e = fork();
    await t.run(e, e, fork({ id: "audit:x", source: "sweep" }));
    const all = await t.findings();
    expect(all).toHaveLength(1);
    expect(all[0]?.count).toBe(2);
  });
});
