// Registry-wide checks: every detector keeps the contract the rest of the project relies on (a stable
// catalogue id, its own test file, its documentation section, settings with defaults and descriptions), the
// documentation has no section for a detector that no longer exists, and the README's generated detector
// table is rewritten between its markers only.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  DETECTORS_END,
  DETECTORS_START,
  README_FILE,
  renderDetectorTable,
  replaceRegion,
  staleRegions,
  writeRegions,
} from "../../scripts/generate.js";
import { DETECTORS } from "../../src/detectors/index.js";
import { SEVERITIES } from "../../src/domain/severity.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * The detector ids of the shared catalogue. Ids are a contract (findings, issue labels, config keys, the
 * CLI's JSON): a detector may only take one of these, and an id is never reused for something else.
 */
const CATALOGUE_IDS = [
  "personal-fork",
  "repo-made-public",
  "repo-transferred",
  "public-mirror",
  "canary-leak",
  "mass-clone",
  "multi-country",
  "new-country",
  "credential-added",
  "deploy-key-added",
  "outside-collaborator-added",
  "forking-policy-changed",
  "destructive-change",
  "monitoring-tampered",
  "bulk-export",
  "shared-identity",
] as const;

const ids = DETECTORS.map((d) => d.id);
const docs = fs.readFileSync(path.join(ROOT, "docs/detectors.md"), "utf8");

/** `## <heading>` lines of docs/detectors.md, in order (`###` and deeper are not sections). */
function docSections(text: string): string[] {
  return text
    .split(/\r?\n/)
    .filter((line) => /^## /.test(line))
    .map((line) => line.slice(3).trim());
}

/** The body of one `## <id>` section, up to the next `## ` heading. */
function sectionBody(text: string, id: string): string {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((line) => line.trim() === `## ${id}`);
  if (start < 0) return "";
  const next = lines.findIndex((line, i) => i > start && /^## /.test(line));
  return lines.slice(start + 1, next < 0 ? undefined : next).join("\n");
}

describe("detector registry", () => {
  it("has 16 catalogue ids, none repeated", async () => {
    expect(new Set(CATALOGUE_IDS).size).toBe(16);
  });

  it("ids are unique, kebab-case and sorted", async () => {
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
    expect(ids).toEqual([...ids].sort());
  });

  it("every id is one of the catalogue's", async () => {
    const unknown = ids.filter((id) => !(CATALOGUE_IDS as readonly string[]).includes(id));
    expect(unknown).toEqual([]);
  });

  it("docs/detectors.md has one `## <id>` section per detector, in registry order, and none for anything else", async () => {
    // A heading for an unregistered id is a stale section (a renamed or removed detector).
    expect(docSections(docs)).toEqual(ids);
  });
});

describe.each(DETECTORS.map((d) => [d.id, d] as const))("%s", (id, d) => {
  it("has its own test file", async () => {
    expect(fs.existsSync(path.join(ROOT, "test/detectors", `${id}.test.ts`))).toBe(true);
  });

  it("has at least two cases in its test file (one that fires, a near miss that does not)", async () => {
    const file = path.join(ROOT, "test/detectors", `${id}.test.ts`);
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    expect(text.match(/\bit\(/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it("has a documentation section that names each of its settings", async () => {
    const body = sectionBody(docs, id);
    expect(body.trim()).not.toBe("");
    for (const key of Object.keys(d.settings.shape)) expect(body).toContain(`\`${key}\``);
  });

  it("gives every setting a default and a description", async () => {
    const parsed = d.settings.safeParse({});
    expect(parsed.success).toBe(true);
    const values = (parsed.data ?? {}) as Record<string, unknown>;
    for (const [key, schema] of Object.entries(d.settings.shape)) {
      expect(values[key], `${id}.${key} has no default`).not.toBeUndefined();
      // `.describe()` must come last: a description set before `.default()` stays on the inner schema.
      expect((schema as { description?: string }).description?.trim(), `${id}.${key} has no description`).toBeTruthy();
    }
  });

  it("reads at least one action, names next steps and a valid default severity", async () => {
    expect(d.actions.length).toBeGreaterThan(0);
    for (const action of d.actions) expect(action.trim()).not.toBe("");
    expect(d.nextSteps.length).toBeGreaterThan(0);
    for (const step of d.nextSteps) expect(step.trim()).not.toBe("");
    expect(SEVERITIES).toContain(d.defaultSeverity);
    expect(d.title.trim()).not.toBe("");
    expect(d.source.trim()).not.toBe("");
  });
});

describe("README detector table", () => {
  const readme = (table: string) =>
    `# exfil-monitor\n\nIntro stays.\n\n${DETECTORS_START}\n${table}${DETECTORS_END}\n\nOutro stays.\n<!-- bench:start -->\n<!-- bench:end -->\n`;

  it("has one row per detector, in registry order, with its severity and switch", async () => {
    const rows = renderDetectorTable()
      .split("\n")
      .filter((line) => line.startsWith("| [`"));
    expect(rows.map((r) => /^\| \[`([^`]+)`\]/.exec(r)?.[1])).toEqual(ids);
    for (const [i, d] of DETECTORS.entries()) {
      expect(rows[i]).toContain(`(docs/detectors.md#${d.id})`);
      expect(rows[i]).toMatch(new RegExp(`\\| ${d.defaultSeverity} \\| ${d.enabledByDefault ? "yes" : "no"} \\|$`));
    }
  });

  it("replaces only what lies between the markers, and refuses missing, repeated or reversed markers", async () => {
    const before = readme("| old | table |\n");
    const after = replaceRegion(before, DETECTORS_START, DETECTORS_END, "NEW\n");
    expect(after).toBe(readme("NEW\n"));
    expect(replaceRegion("no markers here\n", DETECTORS_START, DETECTORS_END, "NEW\n")).toBeNull();
    expect(replaceRegion(`${DETECTORS_END}\n${DETECTORS_START}\n`, DETECTORS_START, DETECTORS_END, "NEW\n")).toBeNull();
    expect(replaceRegion(`${before}${DETECTORS_START}\n`, DETECTORS_START, DETECTORS_END, "NEW\n")).toBeNull();
  });

  it("reports a stale table, rewrites it in place, then reports nothing", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-readme-"));
    try {
      const file = path.join(dir, README_FILE);
      expect(staleRegions(dir).map((s) => [s.file, s.problem])).toEqual([[README_FILE, "missing file"]]);
      expect(() => writeRegions(dir)).toThrow(/README\.md is missing/);

      fs.writeFileSync(file, "# no markers\n");
      expect(staleRegions(dir).map((s) => s.problem)).toEqual(["missing markers"]);
      expect(() => writeRegions(dir)).toThrow(/<!-- detectors:start -->.*once each/);

      fs.writeFileSync(file, readme("| hand | edited |\n"));
      const [stale] = staleRegions(dir);
      expect(stale).toMatchObject({ file: README_FILE, problem: "stale" });
      expect(stale?.message).toMatch(/npm run generate/);
      expect(writeRegions(dir)).toEqual([README_FILE]);
      expect(fs.readFileSync(file, "utf8")).toBe(readme(renderDetectorTable()));
      expect(staleRegions(dir)).toEqual([]);
      expect(writeRegions(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
