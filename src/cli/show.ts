// `exfil-monitor show FINGERPRINT --db FILE`: the issue the app would file for one finding of an analyze
// database, title, labels and body, rendered by the app's own renderer (alerts/render.ts), so what an
// offline run found reads exactly as the app would report it, next steps included.
import fs from "node:fs";
import { renderIssue } from "../alerts/render.js";
import { defaultConfig } from "../config/schema.js";
import { detectorById } from "../detectors/index.js";
import { openStorage } from "../store/open.js";
import type { Storage } from "../store/storage.js";
import { showInvisible } from "../text/inert.js";
import { InputError, reasonOf } from "./analyze.js";
import { loadConfigFile } from "./config-file.js";
import { parseCommandArgs, UsageError } from "./usage.js";

export const SHOW_HELP = `Usage:
  exfil-monitor show FINGERPRINT --db FILE [--scope SCOPE] [--config FILE]

Prints the issue the app would file for one finding kept in an analyze --db database:
  its title, labels and body with the evidence, the warning sign, why this severity and the
  next steps. FINGERPRINT and SCOPE are the finding's fields in analyze --format json;
  --scope is needed only when the fingerprint is in more than one scope. --config gives the
  alert settings (labels, mentions) and severity overrides to render with.

Exit codes: 0 shown, 1 no such finding in the database, 2 usage error or a database that
  cannot be read.
`;

/** Fingerprints suggested when the one asked for is not in the database. */
const SUGGESTIONS = 5;

export interface ShowIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function showCommand(args: readonly string[], io: ShowIo): Promise<number> {
  const parsed = parseCommandArgs(args, {
        db: { type: "string" },
        scope: { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      });
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(SHOW_HELP);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(`show needs exactly one FINGERPRINT, not ${parsed.positionals.length}`);
  }
  if (v.db === undefined) throw new UsageError("show needs --db FILE, the database an earlier `analyze --db FILE` kept its findings in");
  const fingerprint = parsed.positionals[0]!;
  const config = v.config === undefined ? defaultConfig() : loadConfigFile(v.config);

  // Opening creates a missing file: a mistyped path must not pass for an empty database.
  let stat: fs.Stats;
  try {
    stat = fs.statSync(v.db);
  } catch (err) {
    throw new InputError(`cannot read the database ${v.db}: ${reasonOf(err)}`);
  }
  if (!stat.isFile()) throw new InputError(`cannot read the database ${v.db}: it is not a file`);
  let storage: Storage;
  try {
    storage = openStorage(v.db);
  } catch (err) {
    throw new InputError(`cannot open the database ${v.db}: ${reasonOf(err)}`);
  }
  try {
    const all = await storage.findings.list();
    const matches = all.filter((f) => f.fingerprint === fingerprint && (v.scope === undefined || f.scope === v.scope));
    if (matches.length === 0) {
      const needle = fingerprint.toLowerCase();
      const near = [...new Set(all.filter((f) => f.fingerprint.toLowerCase().includes(needle)).map((f) => f.fingerprint))].slice(0, SUGGESTIONS);
      const scoped = v.scope === undefined ? "" : ` in the scope ${JSON.stringify(v.scope)}`;
      const hint =
        near.length > 0
          ? ` Fingerprints that contain it: ${near.map((f) => JSON.stringify(f)).join(", ")}.`
          : " `exfil-monitor analyze --format json` prints each finding's fingerprint.";
      io.stderr.write(
        showInvisible(`exfil-monitor: no finding with the fingerprint ${JSON.stringify(fingerprint)}${scoped} in ${v.db} (${all.length === 1 ? "1 finding" : `${all.length} findings`} there).${hint}\n`, { keepLines: true }),
      );
      return 1;
    }
    if (matches.length > 1) {
      throw new UsageError(
        `the fingerprint ${JSON.stringify(fingerprint)} is in ${matches.length} scopes (${matches.map((f) => f.scope).join(", ")}): add --scope SCOPE`,
      );
    }
    const finding = matches[0]!;
    const evidence = await storage.findings.evidence(finding.id);
    const issue = renderIssue({ finding, evidence, detector: detectorById(finding.detector), config });
    // Title and labels are already shown inert by the renderer; the body keeps its lines.
    io.stdout.write(`${issue.title}\nLabels: ${issue.labels.join(", ")}\n\n${issue.body}\n`);
    return 0;
  } finally {
    await storage.close();
  }
}
