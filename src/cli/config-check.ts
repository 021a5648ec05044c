// `exfil-monitor config check FILE`: reads a config file the way the app reads the org's
// `.github/exfil-monitor.yml` (the same size and structure limits, the same schema, the same allowlist
// checks), so a change can be checked before it is pushed. A file with problems is not used by the app: it
// keeps the last good version in force and opens an issue listing them, so catching them first saves a
// round trip through that issue.
import fs from "node:fs";
import { configChanges } from "../config/changes.js";
import { CONFIG_LIMITS, CONFIG_PATH, parseConfigText, type ConfigProblem } from "../config/load.js";
import { defaultConfig } from "../config/schema.js";
import { showInvisible } from "../text/inert.js";
import { InputError, reasonOf } from "./analyze.js";
import { parseCommandArgs, UsageError } from "./usage.js";

export const CONFIG_HELP = `Usage:
  exfil-monitor config check FILE [--org LOGIN]

Checks a config file as the app reads ${CONFIG_PATH}: size and structure limits, YAML,
  every key and value, and allowlist entries that would match almost anything (with --org,
  entries such as LOGIN/* too). Prints each problem with its line and key path.

Exit codes: 0 valid, 1 the file has problems (the app would not use it), 2 usage error or
  a file that cannot be read.
`;

export interface ConfigCheckIo {
  stdout: NodeJS.WritableStream;
}

function problemLine(file: string, p: ConfigProblem): string {
  return `${file}${p.line ? `:${p.line}` : ""}: ${p.path}: ${p.message}`;
}

export function configCommand(args: readonly string[], io: ConfigCheckIo): number {
  const [sub, ...rest] = args;
  if (sub === "-h" || sub === "--help" || sub === "help") {
    io.stdout.write(CONFIG_HELP);
    return 0;
  }
  if (sub !== "check") {
    throw new UsageError(sub === undefined ? "config needs a subcommand: `config check FILE`" : `unknown config subcommand ${JSON.stringify(sub)}: the subcommand is \`check\``);
  }
  const parsed = parseCommandArgs(rest, { org: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (parsed.values.help) {
    io.stdout.write(CONFIG_HELP);
    return 0;
  }
  const org = parsed.values.org;
  if (org !== undefined && !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(org)) {
    throw new UsageError(`--org wants an organization login, not ${JSON.stringify(org)}`);
  }
  if (parsed.positionals.length !== 1) {
    throw new UsageError(`config check needs exactly one FILE, not ${parsed.positionals.length}`);
  }
  const file = parsed.positionals[0]!;
  return checkFile(file, org, io);
}

function checkFile(file: string, org: string | undefined, io: ConfigCheckIo): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    throw new InputError(`cannot read the config file ${file}: ${reasonOf(err)}`);
  }
  if (!stat.isFile()) throw new InputError(`cannot read the config file ${file}: it is not a file`);
  const say = (text: string) => io.stdout.write(showInvisible(text, { keepLines: true }));
  let problems: ConfigProblem[];
  let weaker: string[] = [];
  if (stat.size > CONFIG_LIMITS.bytes) {
    // Refused on its size before it is read, as the app refuses it on the size GitHub reports.
    problems = [
      {
        path: "(file)",
        message: `the file is ${Math.ceil(stat.size / 1024)} KB; exfil-monitor reads at most ${CONFIG_LIMITS.bytes / 1024} KB (a complete config is a few KB): remove what is not config`,
      },
    ];
  } else {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (err) {
      throw new InputError(`cannot read the config file ${file}: ${reasonOf(err)}`);
    }
    const r = parseConfigText(text, org === undefined ? {} : { org });
    problems = r.ok ? [] : r.problems;
    if (r.ok) weaker = configChanges(defaultConfig(), r.config).filter((c) => c.weaker).map((c) => c.words);
  }
  if (problems.length > 0) {
    say(problems.map((p) => `${problemLine(file, p)}\n`).join(""));
    say(
      `${file}: ${problems.length === 1 ? "1 problem" : `${problems.length} problems`}. The app would not use this file: it keeps the last good version in force and opens an issue listing the problems.\n`,
    );
    return 1;
  }
  say(`${file}: valid.\n`);
  if (weaker.length > 0) {
    // Valid is not the same as safe: the app announces each of these in an issue when the file takes effect.
    say(`Compared with the defaults, it watches less (the app announces each of these when it takes effect):\n${weaker.map((w) => `  - ${w}\n`).join("")}`);
  }
  return 0;
}
