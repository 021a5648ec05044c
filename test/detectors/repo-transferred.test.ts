import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFiles } from "../../src/cli/analyze.js";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import { DAY, HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

type Over = Partial<Parameters<typeof makeEvent>[0]>;

const outgoing = (over: Over = {}) =>
  makeEvent({
    action: "repo.transfer_outgoing",
    repo: "acme/api",
    visibility: "private",
    details: { extra: { new_nwo: "mallory/api" } },
    ...over,
  });

const missing = (over: Over = {}) =>
  makeEvent({
    action: "sweep.repo_missing",
    source: "sweep",
    actor: null,
    actorId: null,
    repo: "acme/api",
    visibility: "private",
    details: { extra: { repo_id: 42 } },
    ...over,
  });

describe("repo-transferred", () => {
  it("reports a repository transferred to a personal account as critical, named by the repo", async () => {
    const t = makeEngine();
    await t.run(outgoing({ details: { newOwner: "mallory", newOwnerType: "User" } }));
    const [f] = await t.findings("repo-transferred");
    expect(f).toMatchObject({ fingerprint: "repo-transferred:acme/api", severity: "critical", actor: "mallory" });
    expect(f?.summary).toContain("personal account mallory");
  });

  it("reads the destination from GitHub's new_nwo field when the converter left newOwner out", async () => {
    const t = makeEngine();
    await t.run(outgoing());
    expect((await t.findings())[0]).toMatchObject({ severity: "critical", summary: "acme/api transferred to account mallory" });
  });

  it("folds the request, the move and the sweep's hole into one finding", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "repo.transfer_start", repo: "acme/api", visibility: "private" }),
      outgoing({ at: makeEvent({ action: "x" }).at + HOUR }),
      // The completed transfer is logged under the new name, with the old one in repo_was.
      makeEvent({ action: "repo.transfer", repo: "mallory/api", details: { extra: { repo_was: "acme/api" } } }),
      missing(),
    );
    const all = await t.findings("repo-transferred");
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ fingerprint: "repo-transferred:acme/api", severity: "critical", count: 4 });
  });

  it("reads the new owner of a completed transfer from GitHub's owner and old_user fields", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "repo.transfer", repo: "acme/api", details: { extra: { old_user: "acme", owner: "mallory" } } }));
    expect((await t.findings())[0]).toMatchObject({ subject: "acme/api", severity: "critical" });
  });

  it("a transfer request with no destination is high until the move names one", async () => {
    const t = makeEngine();
    await t.run(makeEvent({ action: "repo.transfer_start", repo: "acme/api", visibility: "private" }));
    expect((await t.findings())[0]?.severity).toBe("high");
  });

  it("reports a repository that vanished from the inventory as high", async () => {
    const t = makeEngine();
    await t.run(missing());
    expect((await t.findings("repo-transferred"))[0]).toMatchObject({
      fingerprint: "repo-transferred:acme/api",
      severity: "high",
      actor: null,
    });
  });

  it("reports a sweep that followed the repository to a new owner as critical", async () => {
    const t = makeEngine();
    await t.run(missing({ details: { newOwner: "mallory", newOwnerType: "User", extra: { new_nwo: "mallory/api" } } }));
    expect((await t.findings())[0]?.severity).toBe("critical");
  });

  it("stays quiet for transfers to allowlisted owners, and for the sweep's hole they leave", async () => {
    const t = makeEngine({ allow: { fork_owners: ["acme-archive"] } });
    await t.run(
      outgoing({ details: { newOwner: "acme-archive", newOwnerType: "Organization" } }),
      missing({ at: makeEvent({ action: "x" }).at + HOUR }),
    );
    expect(await t.findings()).toHaveLength(0);
  });

  it("stays quiet for transfers into the org and for a hole explained by a deletion", async () => {
    const t = makeEngine();
    await t.run(
      makeEvent({ action: "repo.transfer", repo: "acme/tool", details: { extra: { repo_was: "bob/tool" }, newOwner: "acme" } }),
      makeEvent({ action: "repo.transfer", repo: "acme/tool2" }),
      makeEvent({ action: "repo.transfer", repo: "acme/tool3", details: { extra: { old_user: "bob", owner: "acme" } } }),
    );
    expect(await t.findings("repo-transferred")).toHaveLength(0);

    const d = makeEngine();
    const at = makeEvent({ action: "x" }).at;
    await d.run(makeEvent({ action: "repo.destroy", repo: "acme/api", at }), missing({ at: at + HOUR }));
    expect(await d.findings("repo-transferred")).toHaveLength(0);
  });

  it("a deletion long before the hole does not explain it", async () => {
    const t = makeEngine();
    const at = makeEvent({ action: "x" }).at;
    await t.run(makeEvent({ action: "repo.destroy", repo: "acme/api", at: at - 40 * DAY }), missing({ at }));
    expect(await t.findings("repo-transferred")).toHaveLength(1);
  });

  it("report_missing: false silences the sweep only", async () => {
    const t = makeEngine({ detectors: { "repo-transferred": { report_missing: false } } });
    await t.run(missing(), outgoing({ repo: "acme/web", details: { extra: { new_nwo: "mallory/web" } } }));
    expect((await t.findings()).map((f) => f.subject)).toEqual(["acme/web"]);
  });

  it("ignores entries without a repository", async () => {
    const t = makeEngine();
    await t.run(outgoing({ repo: null }), missing({ repo: "not-a-full-name" }));
    expect(await t.findings()).toHaveLength(0);
    expect(t.errors).toHaveLength(0);
  });

  it("takes the org from the repository when a transfer entry names none", async () => {
    // An enterprise stream's entry, without `org`.
    const entry = fromAuditLog({
      _document_id: "t-no-org",
      action: "repo.transfer_outgoing",
      actor: "mallory",
      business: "acme-corp",
      created_at: T0,
      repo: "acme/api",
      visibility: "private",
      new_nwo: "mallory/api",
    });
    const t = makeEngine();
    await t.run(entry!);
    expect(await t.findings("repo-transferred")).toMatchObject([
      { fingerprint: "repo-transferred:acme/api", severity: "critical", summary: "acme/api transferred to account mallory" },
    ]);
  });

  describe("a transfer between orgs of one enterprise (analyze of the enterprise's log)", () => {
    async function analyze(lines: object[]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-transfer-"));
      try {
        const file = path.join(dir, "enterprise.jsonl");
        fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n"));
        return (await analyzeFiles([file], { db: ":memory:" })).findings.filter((f) => f.detector === "repo-transferred");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    // globex shows up in acme-corp's log before the move: it is one of the enterprise's orgs.
    const globexSeen = { "@timestamp": T0 - DAY, _document_id: "g-1", action: "repo.destroy", actor: "gina", business: "acme-corp", org: "globex", repo: "globex/old" };
    const move = (to: string, type: string, id: string) => ({
      "@timestamp": T0,
      _document_id: id,
      action: "repo.transfer_outgoing",
      actor: "mallory",
      business: "acme-corp",
      org: "acme",
      repo: "acme/api",
      visibility: "private",
      new_nwo: `${to}/api`,
      new_owner_type: type,
    });

    it("is low: the code stays under the company's enterprise", async () => {
      const [f] = await analyze([globexSeen, move("globex", "Organization", "t-1")]);
      expect(f).toMatchObject({ severity: "low", summary: "acme/api transferred to organization globex of the same enterprise (acme-corp)" });
    });

    it("stays critical to an org never seen in the enterprise, and to a person", async () => {
      expect((await analyze([globexSeen, move("initech", "Organization", "t-2")]))[0]).toMatchObject({ severity: "critical" });
      expect((await analyze([globexSeen, { ...move("mallory", "User", "t-3"), new_owner: "mallory" }]))[0]).toMatchObject({
        severity: "critical",
        summary: "acme/api transferred to personal account mallory",
      });
    });

    it("stays critical when the org was seen in another enterprise", async () => {
      const elsewhere = { ...globexSeen, business: "globex-holdings" };
      expect((await analyze([elsewhere, move("globex", "Organization", "t-4")]))[0]).toMatchObject({ severity: "critical" });
    });
  });
});
