// GitHub's own example webhook payloads (@octokit/webhooks-examples) and the scenario fixtures built from
// them (test/fixtures/webhooks/<event>.<action>[.<scenario>].json), so tests read the real payload shape
// rather than an invented one. Fixtures whose name contains ".handmade" have no GitHub example behind them.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

interface ExampleGroup {
  name: string;
  actions: string[];
  examples: Record<string, unknown>[];
}

let groups: ExampleGroup[] | undefined;

function load(): ExampleGroup[] {
  if (!groups) {
    const require = createRequire(import.meta.url);
    const file = require.resolve("@octokit/webhooks-examples/api.github.com/index.json");
    groups = JSON.parse(readFileSync(file, "utf8")) as ExampleGroup[];
  }
  return groups;
}

/**
 * A deep copy of GitHub's example payload for event `name` (and `action`, when given), the `index`-th of
 * those that match. Throws with the available choices when there is none, so a typo fails loudly.
 */
export function examplePayload(name: string, action?: string, index = 0): Record<string, unknown> {
  const group = load().find((g) => g.name === name);
  if (!group) throw new Error(`no webhook example for event "${name}"; see @octokit/webhooks-examples`);
  const matching = action === undefined ? group.examples : group.examples.filter((e) => e.action === action);
  const found = matching[index];
  if (!found) {
    const actions = [...new Set(group.examples.map((e) => String(e.action ?? "(none)")))].join(", ");
    throw new Error(`no example ${index} of "${name}"${action ? `.${action}` : ""}; its examples have actions: ${actions}`);
  }
  return structuredClone(found);
}

/** Every example of every event (deep copies), for tests that must survive anything GitHub sends. */
export function allExamples(): { name: string; payload: Record<string, unknown> }[] {
  return load().flatMap((g) => g.examples.map((payload) => ({ name: g.name, payload: structuredClone(payload) })));
}

const FIXTURES = fileURLToPath(new URL("../fixtures/webhooks/", import.meta.url));

/**
 * A scenario fixture by file name without `.json` (for example `push.forced-default-branch`); the event
 * name is the part before the first dot.
 */
export function webhookFixture(file: string): { name: string; payload: Record<string, unknown> } {
  const payload = JSON.parse(readFileSync(`${FIXTURES}${file}.json`, "utf8")) as Record<string, unknown>;
  return { name: file.slice(0, file.indexOf(".")), payload };
}
