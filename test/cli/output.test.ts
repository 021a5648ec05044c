// What `analyze` prints about attacker-chosen text: the table shows control, bidirectional and invisible
// characters escaped as `\u{HEX}`, one line per finding; JSON lines keep every value exact and still hold no raw
// such character; messages on standard error are escaped too.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { showInvisible } from "../../src/text/inert.js";
import type { FindingOutput } from "../../src/cli/analyze.js";
import { jsonLine, renderTable } from "../../src/cli/main.js";
import { ALL, escaped, name } from "../helpers/invisible.js";
import { runCli } from "../helpers/cli.js";

const HOSTILE = ALL.map((cp) => String.fromCodePoint(cp)).join("");
const rawIn = (text: string) => ALL.filter((cp) => text.includes(String.fromCodePoint(cp))).map(name);

function output(c: string): FindingOutput {
  return {
    detector: "repo-made-public",
    severity: "high",
    summary: `acme/pay${c}ments was made public`,
    actor: `mal${c}lory`,
    orgs: [`ac${c}me`],
    repos: [`acme/pay${c}ments`, "acme/web"],
    first_seen: "2026-10-02T10:20:00.000Z",
    last_seen: "2026-10-02T10:20:00.000Z",
    count: 1,
    evidence: [{ time: "2026-10-02T10:20:00.000Z", source: "audit-log", data: { [`k${c}ey`]: `v${c}alue\n` } }],
    fingerprint: `repo-made-public:acme/pay${c}ments`,
    scope: `org:ac${c}me`,
    raised_reason: `mal${c}lory's account is new`,
  };
}

describe("renderTable", () => {
  it("shows every code point escaped, one line per finding", () => {
    for (const cp of ALL) {
      const c = String.fromCodePoint(cp);
      const e = escaped(cp);
      const table = renderTable([output(c), output("")]);
      expect({ cp: name(cp), raw: rawIn(table) }).toEqual({ cp: name(cp), raw: [] });
      const lines = table.trimEnd().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[1]).toContain(`mal${e}lory`);
      expect(lines[1]).toContain(`acme/pay${e}ments +1`);
      expect(lines[1]!.endsWith(`acme/pay${e}ments was made public`)).toBe(true);
    }
  });

  it("cuts a long escaped value and the line to the terminal without leaving half an escape", () => {
    const table = renderTable([output(HOSTILE)], 100);
    expect(rawIn(table)).toEqual([]);
    for (const line of table.trimEnd().split("\n")) {
      expect(line.length).toBeLessThanOrEqual(100);
      expect(line).not.toMatch(/\\(u(\{[0-9A-F]*)?)?…/);
    }
  });
});

describe("jsonLine", () => {
  it("keeps every value exact and holds no raw control, bidirectional or invisible character", () => {
    for (const cp of ALL) {
      const f = output(String.fromCodePoint(cp));
      const line = jsonLine(f);
      expect({ cp: name(cp), raw: rawIn(line) }).toEqual({ cp: name(cp), raw: [] });
      expect(line).not.toContain("\n");
      expect(JSON.parse(line)).toEqual(f);
    }
  });
});

describe("exfil-monitor analyze with hostile names in the export", () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "exfil-cli-output-"));
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const cli = (args: string[]) => runCli(args);

  const repo = `acme/pay${HOSTILE}ments`;
  const actor = `mal${HOSTILE}lory`;
  const entry = {
    "@timestamp": 1790936400000,
    _document_id: "hostile01",
    action: "repo.access",
    repo,
    repository: repo,
    previous_visibility: "private",
    visibility: "public",
    actor,
    actor_id: 5001,
    org: "acme",
    org_id: 1234567,
    created_at: 1790936400000,
  };

  it("prints the table escaped and the JSON exact", async () => {
    const file = path.join(tmp, "hostile.jsonl");
    fs.writeFileSync(file, `${JSON.stringify(entry)}\n`);

    const table = await cli(["analyze", file, "--format", "table"]);
    expect(table.code).toBe(0);
    expect(rawIn(table.stdout + table.stderr)).toEqual([]);
    const row = table.stdout.trimEnd().split("\n");
    expect(row).toHaveLength(2);
    expect(row[1]).toContain(`${showInvisible(actor).slice(0, 27)}…`);
    expect(row[1]).toContain(`${showInvisible(repo)} was made public (was private)`);

    const json = await cli(["analyze", file, "--format", "json"]);
    expect(json.code).toBe(0);
    expect(rawIn(json.stdout)).toEqual([]);
    const lines = json.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const f = JSON.parse(lines[0]!) as FindingOutput;
    expect(f).toMatchObject({ detector: "repo-made-public", actor, repos: [repo], summary: `${repo} was made public (was private)` });
  });

  it("escapes what it quotes on standard error", async () => {
    // A file name holds at most 255 bytes: a few of each kind.
    const bad = path.join(tmp, "bad\u202E\u2066\u{E0041}\u200B\u001B[31m\u0085\u3164.jsonl");
    fs.writeFileSync(bad, `${JSON.stringify(entry)}\n{"not":"an audit event ${HOSTILE}"}\n`);
    const r = await cli(["analyze", bad, "--format", "json"]);
    expect(rawIn(r.stderr)).toEqual([]);
    expect(r.stderr).toContain(showInvisible(bad));

    const usage = await cli(["analyze", bad, `--format=t${HOSTILE}able`]);
    expect(usage.code).toBe(2);
    expect(rawIn(usage.stderr)).toEqual([]);
  });
});
