// The config snippets users copy from the README must load without a problem.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "../../src/config/load.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe("README config examples", () => {
  it("has at least one", () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b, i) => [i, b] as const))("example %i parses with no problem", (_i, text) => {
    const result = parseConfigText(text);
    expect(result.ok ? [] : result.problems).toEqual([]);
  });
});
