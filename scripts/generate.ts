// Generates, from src/config/schema.ts (and so from every detector's settings), the two files users read:
//   schema/exfil-monitor.schema.json   JSON schema for editors (completion and checks in exfil-monitor.yml)
//   docs/config.md                     the reference table of every key, its type, default and meaning
// `npm run generate` writes them; `--check` (run by `npm run check` and CI) exits 1 naming each stale file.
// It also rewrites one generated region inside a hand-written file: the detector table of README.md, between
// `<!-- detectors:start -->` and `<!-- detectors:end -->`, from the detector registry; `--check` reports
// README.md when that table is stale. Nothing outside the markers is touched.
// Output depends only on the schema and the registry: no dates, no machine paths, stable key order.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import { CONFIG_LIMITS } from "../src/config/load.js";
import { configSchema } from "../src/config/schema.js";
import { DETECTORS } from "../src/detectors/index.js";
import type { Detector } from "../src/detectors/types.js";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SCHEMA_FILE = "schema/exfil-monitor.schema.json";
export const DOCS_FILE = "docs/config.md";
/** Stable identifier of the config format; editors match files to the schema by path, not by this. */
export const SCHEMA_ID = "urn:exfil-monitor:config:v1";

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  [k: string]: unknown;
};

export function buildJsonSchema(): JsonSchema {
  // io "input": what a user writes (keys with defaults are optional), not what the app gets after parsing.
  // draft-7 is the dialect editors' YAML and JSON plugins support most widely.
  const generated = z.toJSONSchema(configSchema, { io: "input", target: "draft-7" }) as JsonSchema;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: "exfil-monitor configuration (.github/exfil-monitor.yml in the org's .github repository)",
    ...rest,
  };
}

export function renderSchema(schema: JsonSchema = buildJsonSchema()): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

// --- docs/config.md -----------------------------------------------------------------------------------

function cell(s: string): string {
  return s.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function code(v: unknown): string {
  return `\`${JSON.stringify(v)}\``;
}

export function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => code(v)).join(" or ");
  if (s.const !== undefined) return code(s.const);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return alternatives.map(typeOf).join(" or ");
  const type = Array.isArray(s.type) ? s.type.join(" or ") : s.type;
  switch (type) {
    case "array": {
      const items = s.items ? plural(typeOf(s.items)) : "anything";
      const bounds = range(s.minItems, s.maxItems, undefined, undefined);
      return `list of ${items}${bounds ? ` (${bounds} entries)` : ""}`;
    }
    case "integer":
    case "number": {
      const bounds = range(s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum);
      return `${type}${bounds ? ` (${bounds})` : ""}`;
    }
    case "object":
      if (s.additionalProperties && typeof s.additionalProperties === "object") {
        return `map of name to ${typeOf(s.additionalProperties)}`;
      }
      return "section";
    case undefined:
      return "any";
    default:
      return type;
  }
}

function plural(t: string): string {
  return /^(string|integer|number|boolean|section)$/.test(t) ? `${t}s` : t;
}

function range(min?: number, max?: number, xmin?: number, xmax?: number): string {
  const lo = min !== undefined ? `≥ ${min}` : xmin !== undefined ? `> ${xmin}` : "";
  const hi = max !== undefined ? `≤ ${max}` : xmax !== undefined ? `< ${xmax}` : "";
  return [lo, hi].filter(Boolean).join(", ");
}

function isSection(s: JsonSchema): boolean {
  return s.type === "object" && s.properties !== undefined;
}

/** Table rows for every leaf key under a section, nested sections flattened into dotted paths. */
function rows(section: JsonSchema, prefix: string): string[] {
  const out: string[] = [];
  for (const [key, s] of Object.entries(section.properties ?? {})) {
    const keyPath = `${prefix}${key}`;
    if (isSection(s)) {
      out.push(...rows(s, `${keyPath}.`));
      continue;
    }
    const dflt = s.default === undefined ? "—" : code(s.default);
    out.push(`| \`${keyPath}\` | ${cell(typeOf(s))} | ${cell(dflt)} | ${cell(s.description ?? "")} |`);
  }
  return out;
}

function table(section: JsonSchema, prefix: string): string[] {
  const body = rows(section, prefix);
  if (body.length === 0) return ["_No keys._"];
  return ["| key | type | default | description |", "|---|---|---|---|", ...body];
}

export function renderDocs(schema: JsonSchema = buildJsonSchema()): string {
  const props = schema.properties ?? {};
  const lines: string[] = [
    "<!-- Generated by `npm run generate` from src/config/schema.ts and the detectors' settings. Do not edit by hand. -->",
    "",
    "# Configuration reference",
    "",
    "exfil-monitor reads one file: `.github/exfil-monitor.yml` in the org's `.github` repository. A file inside any",
    "other repository is ignored, so nobody can exempt a repository they can push to. Without the file every key",
    "below has its default. An unknown key, a wrong type or a YAML error is reported as an issue in the alerts",
    "repository, naming the key and its line; until it is fixed the last version that loaded without errors stays",
    "in force (or the defaults).",
    "",
    "Whoever can push to the `.github` repository can change what exfil-monitor watches. A new version that watches",
    "less than the one in force (`mode: dry-run`, a detector turned off or its severity lowered, a threshold",
    "loosened, an allowlist entry added, `alerts.min_severity` raised, `alerts.repo` changed, a mention removed) is",
    "announced by an issue in the alerts repository, naming who pushed it, the commit and each change; when",
    "`alerts.repo` changed, the repository it replaced gets the issue too. An org's first file is compared with the",
    "defaults, and these notices are filed in dry-run mode too: dry-run silences findings, not the app's own notices.",
    "",
    `The file is read within limits far above what a config needs (the commented example is 3 KB): at most`,
    `${CONFIG_LIMITS.bytes / 1024} KB, ${CONFIG_LIMITS.tokens.toLocaleString("en-US")} YAML tokens, ${CONFIG_LIMITS.keys} keys, ${CONFIG_LIMITS.aliases} aliases and ${CONFIG_LIMITS.aliases} anchors, ${CONFIG_LIMITS.depth} levels of nesting.`,
    "A file beyond them is reported as a config error, like an allowlist entry that matches almost anything.",
    "",
    "A commented example is in [`docs/exfil-monitor.example.yml`](exfil-monitor.example.yml). For completion and",
    "checks in your editor, point the YAML plugin at `schema/exfil-monitor.schema.json`, for example with a first",
    "line `# yaml-language-server: $schema=<URL of exfil-monitor.schema.json>`.",
    "",
  ];

  const general = Object.entries(props).filter(([, s]) => !isSection(s));
  if (general.length > 0) {
    lines.push("## General", "", ...table({ properties: Object.fromEntries(general) }, ""), "");
  }

  for (const [key, s] of Object.entries(props)) {
    if (!isSection(s)) continue;
    lines.push(`## \`${key}\``, "");
    if (s.description) lines.push(s.description, "");
    if (key === "detectors") {
      lines.push(
        "Each detector has its own section, `detectors.<id>:`. `enabled` and `severity` exist for every detector;",
        "the other keys are that detector's thresholds. See docs/detectors.md for what each detector watches.",
        "",
      );
      for (const [id, d] of Object.entries(s.properties ?? {})) {
        lines.push(`### \`detectors.${id}\``, "");
        if (d.description) lines.push(d.description, "");
        lines.push(...table(d, `detectors.${id}.`), "");
      }
      continue;
    }
    lines.push(...table(s, `${key}.`), "");
  }
  return `${lines.join("\n").replace(/\n+$/, "")}\n`;
}

// --- files --------------------------------------------------------------------------------------------

export function generatedFiles(): { file: string; content: string }[] {
  const schema = buildJsonSchema();
  return [
    { file: SCHEMA_FILE, content: renderSchema(schema) },
    { file: DOCS_FILE, content: renderDocs(schema) },
  ];
}

/** Generated files whose committed content differs from what the schema produces now (or that are missing). */
export function staleFiles(root: string = ROOT): string[] {
  return generatedFiles()
    .filter(({ file, content }) => {
      const full = path.join(root, file);
      return !fs.existsSync(full) || fs.readFileSync(full, "utf8") !== content;
    })
    .map(({ file }) => file);
}

export function writeFiles(root: string = ROOT): string[] {
  const written: string[] = [];
  for (const { file, content } of generatedFiles()) {
    const full = path.join(root, file);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    if (fs.existsSync(full) && fs.readFileSync(full, "utf8") === content) continue;
    fs.writeFileSync(full, content);
    written.push(file);
  }
  return written;
}

// --- generated regions of hand-written files ----------------------------------------------------------

export const README_FILE = "README.md";
export const DETECTORS_START = "<!-- detectors:start -->";
export const DETECTORS_END = "<!-- detectors:end -->";

/** A generated part of a hand-written file: everything between two marker lines is rewritten. */
export interface GeneratedRegion {
  file: string;
  start: string;
  end: string;
  /** What the region is generated from, for messages. */
  from: string;
  /** The lines between the markers, ending with a newline. */
  content: string;
}

/** Why a region is not what the generator would write. */
export type RegionProblem = "missing file" | "missing markers" | "stale";

/** The README table: one row per detector, in registry order, each linked to its docs/detectors.md section. */
export function renderDetectorTable(detectors: readonly Detector[] = DETECTORS): string {
  const lines = [
    "<!-- Generated by `npm run generate` from the detectors in src/detectors/. Do not edit by hand. -->",
    "",
    "| detector id | warning sign | source | default severity | on by default |",
    "|---|---|---|---|---|",
    ...detectors.map(
      (d) =>
        `| [\`${d.id}\`](docs/detectors.md#${d.id}) | ${cell(d.warningSign)} | ${cell(d.source)} | ${d.defaultSeverity} | ${d.enabledByDefault ? "yes" : "no"} |`,
    ),
  ];
  return `${lines.join("\n")}\n`;
}

export function generatedRegions(): GeneratedRegion[] {
  return [
    {
      file: README_FILE,
      start: DETECTORS_START,
      end: DETECTORS_END,
      from: "the detector registry (src/detectors/index.ts)",
      content: renderDetectorTable(),
    },
  ];
}

/**
 * `text` with the lines between `start` and `end` replaced by `content`; null unless each marker occurs
 * exactly once, start before end (anything else is ambiguous, and guessing could overwrite prose).
 */
export function replaceRegion(text: string, start: string, end: string, content: string): string | null {
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < 0 || to < from + start.length) return null;
  if (text.indexOf(start, from + 1) >= 0 || text.indexOf(end, to + 1) >= 0) return null;
  return `${text.slice(0, from + start.length)}\n${content}${text.slice(to)}`;
}

/**
 * Regions whose file is missing, lacks its markers, or holds something else than the generator writes,
 * each with the message that tells the fix.
 */
export function staleRegions(root: string = ROOT): { file: string; problem: RegionProblem; message: string }[] {
  const out: { file: string; problem: RegionProblem; message: string }[] = [];
  const report = (r: GeneratedRegion, problem: RegionProblem) => out.push({ file: r.file, problem, message: regionMessage(r, problem) });
  for (const r of generatedRegions()) {
    const full = path.join(root, r.file);
    if (!fs.existsSync(full)) {
      report(r, "missing file");
      continue;
    }
    const text = fs.readFileSync(full, "utf8");
    const next = replaceRegion(text, r.start, r.end, r.content);
    if (next === null) report(r, "missing markers");
    else if (next !== text) report(r, "stale");
  }
  return out;
}

function regionMessage(r: GeneratedRegion, problem: RegionProblem): string {
  switch (problem) {
    case "missing file":
      return `${r.file} is missing: restore it (the generator only rewrites the part between \`${r.start}\` and \`${r.end}\`).`;
    case "missing markers":
      return `${r.file} must contain \`${r.start}\` and \`${r.end}\` once each, in that order: put them where the generated part belongs, then run \`npm run generate\`.`;
    case "stale":
      return `${r.file} is out of date with ${r.from}: run \`npm run generate\` and commit the result.`;
  }
}

/** Rewrites each stale region in place; throws, naming the fix, when a file or its markers are missing. */
export function writeRegions(root: string = ROOT): string[] {
  const written: string[] = [];
  for (const r of generatedRegions()) {
    const full = path.join(root, r.file);
    if (!fs.existsSync(full)) throw new Error(regionMessage(r, "missing file"));
    const text = fs.readFileSync(full, "utf8");
    const next = replaceRegion(text, r.start, r.end, r.content);
    if (next === null) throw new Error(regionMessage(r, "missing markers"));
    if (next === text) continue;
    fs.writeFileSync(full, next);
    written.push(r.file);
  }
  return written;
}

function main(argv: readonly string[]): number {
  if (argv.includes("--check")) {
    const stale = staleFiles();
    for (const file of stale) {
      console.error(`${file} is out of date with src/config/schema.ts: run \`npm run generate\` and commit the result.`);
    }
    const staleParts = staleRegions();
    for (const { message } of staleParts) console.error(message);
    return stale.length > 0 || staleParts.length > 0 ? 1 : 0;
  }
  const written = writeFiles();
  try {
    written.push(...writeRegions());
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  console.log(written.length > 0 ? `wrote ${written.join(", ")}` : "generated files already up to date");
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
