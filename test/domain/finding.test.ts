// The fold of a finding's evidence, apart from any storage: the highest severity wins and its summary with it,
// repos and orgs are unioned, the span widens, and what was learned first is kept.
import { describe, expect, it } from "vitest";
import { emptyFold, evidenceDigest, fingerprintOf, foldEvidence, type FindingDraft } from "../../src/domain/finding.js";

const T0 = Date.UTC(2026, 9, 2, 10, 0, 0);

function draft(over: Partial<FindingDraft> = {}): FindingDraft {
  return { subject: "mallory", severity: "high", summary: "mallory copied 6 repos", actor: "mallory", repos: ["acme/a"], evidence: {}, ...over };
}

describe("the finding fold", () => {
  it("starts from the first evidence", () => {
    const first = foldEvidence(emptyFold(draft(), { at: T0, org: "acme", installationId: 1 }, null), draft(), { at: T0, org: "acme", installationId: 1 }, null);
    expect(first).toEqual({
      severity: "high",
      summary: "mallory copied 6 repos",
      actor: "mallory",
      repos: ["acme/a"],
      orgs: ["acme"],
      firstSeen: T0,
      lastSeen: T0,
      count: 1,
      raisedReason: null,
      installationId: 1,
    });
  });

  it("keeps the highest severity and its summary, unions repos and orgs, widens the span", () => {
    const e = (at: number, org = "acme") => ({ at, org, installationId: 1 });
    let f = foldEvidence(emptyFold(draft(), e(T0), null), draft(), e(T0), null);
    f = foldEvidence(f, draft({ severity: "critical", summary: "worse", repos: ["acme/b", "acme/a"] }), e(T0 + 5), "joined recently");
    f = foldEvidence(f, draft({ severity: "medium", summary: "milder", repos: ["globex/c"] }), e(T0 - 5, "globex"), "another reason");
    expect(f).toMatchObject({
      severity: "critical",
      summary: "worse",
      repos: ["acme/a", "acme/b", "globex/c"],
      orgs: ["acme", "globex"],
      firstSeen: T0 - 5,
      lastSeen: T0 + 5,
      count: 3,
      raisedReason: "joined recently",
    });
  });

  it("tells the same facts told again from new ones, and names incidents by detector and subject", () => {
    expect(evidenceDigest("webhook", "high", '{"a":1}')).toBe(evidenceDigest("webhook", "high", '{"a":1}'));
    expect(evidenceDigest("webhook", "high", '{"a":1}')).not.toBe(evidenceDigest("sweep", "high", '{"a":1}'));
    expect(fingerprintOf("personal-fork", "acme/api->mallory/api")).toBe("personal-fork:acme/api->mallory/api");
  });
});
