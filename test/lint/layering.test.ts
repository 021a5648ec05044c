// The layering rules of eslint.config.js, run through ESLint's Node API on imports that go the wrong way (a lower
// layer reaching a higher one, the framework or the database driver outside its place) and on ones that go the
// right way. `npm run lint`, part of `npm run check` and CI, fails on the same errors.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, "eslint.config.js") });
});

/** The import restrictions ESLint reports for `code` as if it were the file at `file` (relative to the root). */
async function restrictions(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe("layering", () => {
  it("refuses a detector importing the app", async () => {
    const found = await restrictions(
      "src/detectors/wrong-way.ts",
      `import { Runtime } from "../app/runtime.js";\nexport const r = Runtime;\n`,
    );
    expect(found).toEqual([
      expect.stringMatching(/^no-restricted-imports: '\.\.\/app\/runtime\.js' .*src\/detectors\/ is below src\/app\//),
    ]);
  });

  it("refuses a type-only import of a higher layer, and one between independent layers", async () => {
    const found = await restrictions(
      "src/store/wrong-way.ts",
      `import type { Config } from "../config/schema.js";\nimport type { Detector } from "../detectors/types.js";\n` +
        `export type Both = [Config, Detector];\n`,
    );
    expect(found).toEqual([
      expect.stringContaining("src/store/ is below src/config/"),
      expect.stringContaining("src/store/ and src/detectors/ are independent"),
    ]);
  });

  it("refuses a wrong-way import from a nested folder", async () => {
    const found = await restrictions(
      "src/store/sqlite/migrations/wrong-way.ts",
      `import { Engine } from "../../engine/engine.js";\nexport const e = Engine;\n`,
    );
    expect(found).toEqual([expect.stringContaining("src/store/ is below src/engine/")]);
  });

  it("keeps the CLI away from the app and the entry points", async () => {
    const found = await restrictions(
      "src/cli/wrong-way.ts",
      `import { Jobs } from "../app/jobs.js";\nimport { createApp } from "../index.js";\nexport const all = [Jobs, createApp];\n`,
    );
    expect(found).toEqual([
      expect.stringContaining("src/cli/ and src/app/ are independent"),
      expect.stringContaining("src/cli/ is below src/index.ts"),
    ]);
  });

  it("refuses the database driver outside the store", async () => {
    const code = `import Database from "better-sqlite3";\nexport const D = Database;\n`;
    expect(await restrictions("src/cli/wrong-way.ts", code)).toEqual([
      expect.stringMatching(/^no-restricted-imports: 'better-sqlite3' .*Only src\/store\/ imports the database driver/),
    ]);
    expect(await restrictions("test/cli/wrong-way.test.ts", code)).toEqual([
      expect.stringContaining("Only src/store/ imports the database driver"),
    ]);
    expect(await restrictions("src/store/right-way.ts", code)).toEqual([]);
    expect(await restrictions("test/store/right-way.test.ts", code)).toEqual([]);
    expect(await restrictions("bench/right-way.ts", code)).toEqual([]);
  });

  it("keeps detectors independent of each other, sharing helpers through shared.ts", async () => {
    const sibling = `import { massClone } from "./mass-clone.js";\nexport const m = massClone;\n`;
    expect(await restrictions("src/detectors/new-country.ts", sibling)).toEqual([
      expect.stringContaining("A detector imports no other detector"),
    ]);
    expect(await restrictions("src/detectors/index.ts", sibling)).toEqual([]);
    const helpers = `import { isAutomation } from "./shared.js";\nimport { defineDetector } from "./types.js";\nexport const all = [isAutomation, defineDetector];\n`;
    expect(await restrictions("src/detectors/new-country.ts", helpers)).toEqual([]);
  });

  it("keeps a storage backend behind the Storage interface", async () => {
    const backend = `import { openSqliteStorage } from "../store/sqlite/storage.js";\nexport const o = openSqliteStorage;\n`;
    expect(await restrictions("src/app/wrong-way.ts", backend)).toEqual([
      expect.stringMatching(/^no-restricted-imports: '\.\.\/store\/sqlite\/storage\.js' .*Only src\/store\/ reaches a storage backend/),
    ]);
    expect(
      await restrictions("src/index.ts", `import { Store } from "./store/sqlite/store.js";\nexport const s = Store;\n`),
    ).toEqual([expect.stringContaining("Only src/store/ reaches a storage backend")]);
    const front = `import { openStorage } from "../store/open.js";\nimport type { Storage } from "../store/storage.js";\nexport const o = openStorage;\nexport type S = Storage;\n`;
    expect(await restrictions("src/cli/right-way.ts", front)).toEqual([]);
    expect(await restrictions("src/store/right-way.ts", `import { Store } from "./sqlite/store.js";\nexport const s = Store;\n`)).toEqual([]);
  });

  it("refuses probot outside the entry points and src/app", async () => {
    const code = `import type { Probot } from "probot";\nexport type P = Probot;\n`;
    expect(await restrictions("src/engine/wrong-way.ts", code)).toEqual([
      expect.stringMatching(/^no-restricted-imports: 'probot' .*Only src\/index\.ts, src\/main\.ts and src\/app\//),
    ]);
    expect(await restrictions("src/github/wrong-way.ts", `import { run } from "probot/lib/run.js";\nexport const r = run;\n`))
      .toEqual([expect.stringContaining("Only src/index.ts, src/main.ts and src/app/")]);
    expect(await restrictions("src/app/right-way.ts", code)).toEqual([]);
    expect(await restrictions("src/index.ts", code)).toEqual([]);
    expect(await restrictions("test/app/right-way.test.ts", code)).toEqual([]);
  });

  it("lets a layer import its own folder and the layers below it", async () => {
    const found = await restrictions(
      "src/detectors/right-way.ts",
      `import type { OrgEvent } from "../events/types.js";\nimport { raiseSeverity } from "../domain/severity.js";\n` +
        `import { defineDetector } from "./types.js";\nimport type { Logger } from "../log.js";\n` +
        `export const all = [raiseSeverity, defineDetector];\nexport type E = [OrgEvent, Logger];\n`,
    );
    expect(found).toEqual([]);
    expect(
      await restrictions("src/app/right-way.ts", `import { Engine } from "../engine/engine.js";\nexport const e = Engine;\n`),
    ).toEqual([]);
    expect(await restrictions("src/main.ts", `import { createApp } from "./index.js";\nexport const c = createApp;\n`))
      .toEqual([]);
  });

  it("makes a folder or root file that is in no layer place itself first", async () => {
    expect(
      await restrictions("src/unplaced/x.ts", `import type { Logger } from "../log.js";\nexport type L = Logger;\n`),
    ).toEqual([expect.stringContaining("This folder of src/ is in no layer: add it to LAYERS in eslint.config.js")]);
    expect(await restrictions("src/unplaced.ts", `import type { Logger } from "./log.js";\nexport type L = Logger;\n`))
      .toEqual([expect.stringContaining("This file of src/ is in no layer")]);
  });

  it("places every folder and root file of src/ in a layer", async () => {
    const entries = fs.readdirSync(path.join(root, "src"), { withFileTypes: true });
    expect(entries.length).toBeGreaterThan(0);
    for (const entry of entries) {
      // The logger is the lowest layer: every placed module may import it.
      const file = entry.isDirectory() ? `src/${entry.name}/layering-probe.ts` : `src/${entry.name}`;
      const from = entry.isDirectory() ? "../log.js" : "./log.js";
      expect(await restrictions(file, `import type { Logger } from "${from}";\nexport type L = Logger;\n`), file)
        .toEqual([]);
    }
  });
});
