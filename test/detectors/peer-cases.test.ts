// Runs a public rule set's own test cases (panther-labs/panther-analysis's GitHub rules, real-shaped audit
// entries with the peer's expected verdict) through the converter and the engine, and checks that ours agrees:
// a case the peer alerts on gives a finding of the detector(s) it is mapped to, a case it does not gives none.
// Where the catalogue deliberately judges otherwise, the case is in DIFFERENCES with the reason, and the same
// sentence is in that detector's section of docs/detectors.md, so a reader of the docs learns it too.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFiles } from "../../src/cli/analyze.js";
import { detectorById } from "../../src/detectors/index.js";
import { fromAuditLog, timeProblem } from "../../src/events/from-audit-log.js";
import { makeEngine, T0 } from "../helpers/engine.js";

const CASES = path.join(import.meta.dirname, "../../../shared/peer-suites/panther-github/cases.json");
const DOCS = path.join(import.meta.dirname, "../../docs/detectors.md");

interface PeerCase {
  rule_id: string;
  case: string;
  expected: boolean;
  detectors: string[];
  log: Record<string, unknown>;
}

/** Why we differ, per detector; each sentence appears verbatim in that detector's section of the docs. */
const WHY = {
  visibilityUnknown:
    "A `repo.access` entry that names no visibility at all gives nothing: it does not say the repository became public.",
  createdPublic: "Repositories created public are reported only with `new_public_repos` on (it is off by default).",
  transferNoSide:
    "A `repo.transfer` entry that names no destination and no previous owner, for a repository still under the org, reads as the receiving side and gives nothing.",
  archived: "Archiving (`repo.archived`) is not read: an archived repository keeps its code and history, and can be unarchived.",
  rulesetKept:
    "Rulesets created (`repository_ruleset.create`), and edits that leave a ruleset enforcing (`ruleset_enforcement` still `active` or `enabled`), are not reported: no protection is removed.",
  rulesetEvaluating:
    "A ruleset switched off that was only evaluating (`ruleset_old_enforcement: evaluate`) is not reported: it enforced nothing.",
  turnedOn:
    "Controls turned on (`org.enable_two_factor_requirement`, `org.saml_enabled`, `org.enable_oauth_app_restrictions`) are not read.",
  samlName: "`org.saml_disabled` is not read: GitHub documents the action as `org.disable_saml`, which is.",
  hookDeleted: "Webhooks deleted (`hook.destroy`) are not read: a deleted webhook sends nothing anywhere.",
  collaboratorRemoved: "Collaborators removed (`repo.remove_member`) are not read: losing access copies nothing.",
} as const;

/**
 * Cases where our verdict is deliberately the opposite of the peer's, keyed `<rule id> / <case name>`. All of
 * them are alerts of the peer's that we do not raise: the peer alerts on any change in a category (every
 * visibility change, every authentication setting, every webhook or collaborator change); ours reports only
 * what moves code out or hides it.
 */
const DIFFERENCES: Record<string, { detector: string; why: string }> = {
  // The peer alerts on every visibility change, in any direction, even one that names no visibility.
  "Github.Repo.VisibilityChange / GitHub - Repo Visibility Change": { detector: "repo-made-public", why: WHY.visibilityUnknown },
  // The peer alerts on every repository created public; many orgs publish open source.
  "Github.Public.Repository.Created / Public Repo Created": { detector: "repo-made-public", why: WHY.createdPublic },
  // The entry says neither where the repository went nor where it came from.
  "Github.Repository.Transfer / Repository Transfer": { detector: "repo-transferred", why: WHY.transferNoSide },
  // Changes that remove no protection and destroy neither code nor history. (The ruleset in the org-wide case
  // goes from evaluate to disabled.)
  "Github.Repo.Archived / GitHub - Repo Archived": { detector: "destructive-change", why: WHY.archived },
  "GitHub.Repo.RulesetModified / GitHub - Ruleset Created": { detector: "destructive-change", why: WHY.rulesetKept },
  "GitHub.Repo.RulesetModified / Github - Ruleset Modified": { detector: "destructive-change", why: WHY.rulesetKept },
  "GitHub.Repo.RulesetModified / Github - Ruleset Modified for entire Organization": {
    detector: "destructive-change",
    why: WHY.rulesetEvaluating,
  },
  // The peer alerts on any authentication change; ours on controls removed.
  "GitHub.Org.AuthChange / GitHub - SAML Disabled": { detector: "monitoring-tampered", why: WHY.samlName },
  "GitHub.Org.AuthChange / GitHub - Two Factor Requirement Enabled": { detector: "monitoring-tampered", why: WHY.turnedOn },
  "GitHub.Org.AuthChange / GitHub - OAuth App Restrictions Enabled": { detector: "monitoring-tampered", why: WHY.turnedOn },
  "GitHub.Org.AuthChange / GitHub - SAML Enabled": { detector: "monitoring-tampered", why: WHY.turnedOn },
  "GitHub.Webhook.Modified / GitHub - Webhook Deleted": { detector: "monitoring-tampered", why: WHY.hookDeleted },
  "GitHub.Repo.HookModified / GitHub - Webhook Deleted": { detector: "monitoring-tampered", why: WHY.hookDeleted },
  "Github.Repo.CollaboratorChange / GitHub - Collaborator Removed": { detector: "outside-collaborator-added", why: WHY.collaboratorRemoved },
};

/** The text of one detector's `## <id>` section of docs/detectors.md. */
function docsSection(docs: string, id: string): string {
  const start = docs.indexOf(`\n## ${id}\n`);
  if (start < 0) return "";
  const next = docs.indexOf("\n## ", start + 1);
  return docs.slice(start, next < 0 ? undefined : next);
}

const present = fs.existsSync(CASES);
const suite = present ? describe : describe.skip;
const title = present ? "peer cases (panther-github)" : `peer cases (panther-github): skipped, ${CASES} is absent`;

suite(title, () => {
  const all = present ? (JSON.parse(fs.readFileSync(CASES, "utf8")) as { cases: PeerCase[] }).cases : [];
  const cases = all.filter((c) => c.detectors.some((id) => detectorById(id) !== undefined));
  const keyOf = (c: PeerCase) => `${c.rule_id} / ${c.case}`;

  it("has cases mapped to our detectors, each named once", () => {
    expect(cases.length).toBeGreaterThan(0);
    expect(new Set(cases.map(keyOf)).size).toBe(cases.length);
  });

  it.each(present ? cases.map((c) => [keyOf(c), c] as const) : [])("%s", async (key, c) => {
    // Some logs carry no usable time (none, or text in no known form): give them one.
    const log = timeProblem(c.log) === undefined ? c.log : { ...c.log, "@timestamp": T0 };
    const event = fromAuditLog(log);
    expect(event, "the converter reads every peer log").not.toBeNull();
    const t = makeEngine();
    await t.run(event!);
    const fired = (await t.findings()).filter((f) => c.detectors.includes(f.detector));
    const difference = DIFFERENCES[key];
    if (difference) {
      // A listed difference that starts agreeing must leave the table (and the docs).
      expect(c.detectors, "the difference names the detector the case maps to").toContain(difference.detector);
      expect(fired.length > 0, difference.why).toBe(!c.expected);
    } else {
      expect(fired.length > 0, `peer expects ${c.expected ? "an alert" : "none"}`).toBe(c.expected);
    }
    expect(t.errors).toEqual([]);
  });

  it("gives every case the same verdict through `exfil-monitor analyze` as through the engine", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-peer-"));
    try {
      for (const c of cases) {
        const log = timeProblem(c.log) === undefined ? c.log : { ...c.log, "@timestamp": T0 };
        const file = path.join(dir, "case.jsonl");
        fs.writeFileSync(file, `${JSON.stringify(log)}\n`);
        const r = await analyzeFiles([file], { db: ":memory:" });
        expect(r.processed, keyOf(c)).toBe(1);
        const fired = r.findings.some((f) => c.detectors.includes(f.detector));
        const want = DIFFERENCES[keyOf(c)] ? !c.expected : c.expected;
        expect(fired, keyOf(c)).toBe(want);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists only differences that are cases, each with its reason in the detector's docs", () => {
    const keys = new Set(cases.map(keyOf));
    const docs = fs.readFileSync(DOCS, "utf8");
    for (const [key, { detector, why }] of Object.entries(DIFFERENCES)) {
      expect(keys.has(key), key).toBe(true);
      // Compared with lines joined, as Markdown reads them.
      expect(docsSection(docs, detector).replace(/\s+/g, " "), `${key}: docs/detectors.md, section ${detector}`).toContain(why);
    }
  });
});
