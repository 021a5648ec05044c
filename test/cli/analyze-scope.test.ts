// `analyze` on a file that holds several orgs' entries: unrelated orgs never add up and no output line of one
// names anything of the other; entries of one enterprise (`business`) add up across its orgs, and the finding
// names every org involved.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const T0 = Date.UTC(2026, 9, 2, 10, 0, 0);
const MINUTE = 60_000;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-scope-test-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let doc = 0;
/** A real-shaped `git.clone` entry of a private repository. */
function clone(org: string, repo: string, minute: number, business?: string, country = "US") {
  doc += 1;
  return {
    "@timestamp": T0 + minute * MINUTE,
    _document_id: `scope-test-${doc}`,
    action: "git.clone",
    actor: "mallory",
    actor_id: 5001,
    actor_is_bot: false,
    repo: `${org}/${repo}`,
    repository: `${org}/${repo}`,
    repository_public: false,
    transport_protocol_name: "ssh",
    actor_location: { country_code: country },
    org,
    ...(business ? { business } : {}),
    created_at: T0 + minute * MINUTE,
  };
}

/** mallory clones 4 private repos in each org, interleaved: more than 5 together, 4 in each alone. */
function file(name: string, businessOf: (org: string) => string | undefined): string {
  const entries: object[] = [];
  for (let i = 0; i < 4; i++) {
    entries.push(clone("acme", `r${i}`, 2 * i, businessOf("acme"), "US"));
    entries.push(clone("globex", `r${i}`, 2 * i + 1, businessOf("globex"), "KP"));
  }
  const p = path.join(tmp, name);
  fs.writeFileSync(p, entries.map((e) => JSON.stringify(e)).join("\n") + "\n");
  return p;
}

const analyze = (args: string[]) => runCli(["analyze", ...args]);

describe("analyze keeps orgs apart", () => {
  it("never adds up entries of unrelated orgs, in JSON or in the table", async () => {
    const input = file("unrelated.jsonl", () => undefined);
    const json = await analyze([input, "--format", "json"]);
    expect(json.code).toBe(0);
    // 4 clones per org stay under mass-clone; KP and US belong to two orgs, so no multi-country either.
    expect(json.findings.filter((f) => f.detector === "mass-clone" || f.detector === "multi-country")).toEqual([]);
    for (const f of json.findings) {
      expect(f.orgs).toHaveLength(1);
      const other = f.orgs[0] === "acme" ? "globex" : "acme";
      expect(JSON.stringify(f)).not.toContain(other);
    }
    const table = await analyze([input, "--format", "table"]);
    for (const line of table.stdout.split("\n")) expect(line.includes("acme") && line.includes("globex")).toBe(false);
  });

  it("never adds up orgs of two different enterprises", async () => {
    const input = file("two-enterprises.jsonl", (org) => (org === "acme" ? "acme-corp" : "globex-inc"));
    const { findings } = await analyze([input, "--format", "json"]);
    expect(findings.filter((f) => f.detector === "mass-clone" || f.detector === "multi-country")).toEqual([]);
    expect(findings.every((f) => f.orgs.length === 1)).toBe(true);
  });

  it("adds up one enterprise's orgs and names every org involved", async () => {
    const input = file("one-enterprise.jsonl", () => "umbrella");
    const { findings } = await analyze([input, "--format", "json"]);
    const burst = findings.find((f) => f.detector === "mass-clone");
    expect(burst).toMatchObject({ scope: "business:umbrella", orgs: ["acme", "globex"], actor: "mallory" });
    expect(burst?.repos).toEqual(["acme/r0", "acme/r1", "acme/r2", "acme/r3", "globex/r0", "globex/r1", "globex/r2", "globex/r3"]);
    expect(findings.find((f) => f.detector === "multi-country")).toMatchObject({ scope: "business:umbrella", orgs: ["acme", "globex"] });
  });

  it("counts an org's own export (no `business`) with its enterprise's once an entry names the enterprise", async () => {
    const enterprise = path.join(tmp, "enterprise.jsonl");
    const own = path.join(tmp, "acme-own.jsonl");
    fs.writeFileSync(enterprise, [0, 1, 2].map((i) => JSON.stringify(clone("acme", `r${i}`, i, "umbrella"))).join("\n") + "\n");
    fs.writeFileSync(own, [3, 4, 5].map((i) => JSON.stringify(clone("acme", `r${i}`, i))).join("\n") + "\n");
    const { findings } = await analyze([enterprise, own, "--format", "json"]);
    const burst = findings.find((f) => f.detector === "mass-clone");
    expect(burst).toMatchObject({ scope: "business:umbrella", orgs: ["acme"] });
    expect(burst?.repos).toHaveLength(6);
  });

  it("keeps an org without `business` apart from an enterprise holding an org of the same name", async () => {
    const input = file("mixed.jsonl", (org) => (org === "acme" ? "umbrella" : undefined));
    const { findings } = await analyze([input, "--format", "json"]);
    expect(findings.filter((f) => f.detector === "mass-clone")).toEqual([]);
    expect(findings.every((f) => f.orgs.length === 1)).toBe(true);
  });
});
