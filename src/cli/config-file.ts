// `--config FILE` for the commands that take one: a local copy of exfil-monitor.yml read with the app's own
// loader, or a one-line reason and exit 2 when it cannot be used.
import fs from "node:fs";
import { parseConfigText } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { InputError, reasonOf } from "./analyze.js";

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new InputError(`cannot read the config file ${file}: ${reasonOf(err)}`);
  }
  const r = parseConfigText(text);
  if (r.ok) return r.config;
  const lines = r.problems.map((p) => `${file}${p.line ? `:${p.line}` : ""}: ${p.path}: ${p.message}`);
  throw new InputError(`the config file has ${r.problems.length === 1 ? "a problem" : `${r.problems.length} problems`}; fix it and run again:\n  ${lines.join("\n  ")}`);
}
