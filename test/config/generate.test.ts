// The generated JSON schema and config reference: deterministic, complete, and `--check` names stale files.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DOCS_FILE, SCHEMA_FILE, SCHEMA_ID, buildJsonSchema, generatedFiles, renderDocs, staleFiles, typeOf, writeFiles } from "../../scripts/generate.js";
import { DETECTORS } from "../../src/detectors/index.js";

describe("generated config files", () => {
  it("are the same on every run", () => {
    expect(generatedFiles()).toEqual(generatedFiles());
  });

  it("schema has an $id and a title and describes the input a user writes", () => {
    const schema = buildJsonSchema();
    expect(schema.$id).toBe(SCHEMA_ID);
    expect(schema.title).toMatch(/exfil-monitor/);
    expect(schema.additionalProperties).toBe(false);
    // Keys with defaults are optional in what a user writes.
    expect(schema.required ?? []).toEqual([]);
    const detectors = schema.properties?.detectors?.properties ?? {};
    expect(Object.keys(detectors)).toEqual(DETECTORS.map((d) => d.id));
  });

  it("docs list every key with its type and default, a section per detector", () => {
    const docs = renderDocs();
    expect(docs).toContain("| `alerts.repo` | string | `\"security-alerts\"` |");
    expect(docs).toContain("| `audit_log.poll_minutes` | integer (≥ 1, ≤ 1440) | `5` |");
    expect(docs).toContain("| `allow.actors` | list of strings | `[]` |");
    for (const d of DETECTORS) {
      expect(docs).toContain(`### \`detectors.${d.id}\``);
      expect(docs).toContain(`| \`detectors.${d.id}.enabled\` | boolean | \`${d.enabledByDefault}\` |`);
      for (const key of Object.keys(d.settings.shape)) expect(docs).toContain(`| \`detectors.${d.id}.${key}\` |`);
    }
  });

  it("renders types readably", () => {
    expect(typeOf({ type: "array", items: { enum: ["a", "b"] } })).toBe('list of `"a"` or `"b"`');
    expect(typeOf({ type: "number", exclusiveMinimum: 0 })).toBe("number (> 0)");
    expect(typeOf({ type: "object", additionalProperties: { type: "integer" } })).toBe("map of name to integer");
  });

  it("--check names each stale or missing file, and passes once they are written", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-generate-"));
    try {
      expect(staleFiles(dir)).toEqual([SCHEMA_FILE, DOCS_FILE]);
      expect(writeFiles(dir)).toEqual([SCHEMA_FILE, DOCS_FILE]);
      expect(staleFiles(dir)).toEqual([]);
      fs.appendFileSync(path.join(dir, DOCS_FILE), "hand edit\n");
      expect(staleFiles(dir)).toEqual([DOCS_FILE]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
