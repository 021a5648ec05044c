// Parsing the org config file into a Config or into problems with key paths and lines, and reading it from
// the org's `.github` repository only.
import fs from "node:fs";
import path from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { CONFIG_LIMITS, checkLimits, closest, fetchOrgConfigText, parseConfigText, type ConfigProblem } from "../../src/config/load.js";
import { defaultConfig } from "../../src/config/schema.js";
import { testOctokit } from "../helpers/github.js";

const EXAMPLE = path.resolve(import.meta.dirname, "../../docs/exfil-monitor.example.yml");

function problemsOf(text: string): ConfigProblem[] {
  const r = parseConfigText(text);
  if (r.ok) throw new Error("expected problems, the text parsed");
  return r.problems;
}

describe("parseConfigText", () => {
  it("gives the defaults for an empty file or one with only comments", () => {
    for (const text of ["", "\n\n", "# nothing set yet\n# mode: dry-run\n"]) {
      const r = parseConfigText(text);
      expect(r).toEqual({ ok: true, config: defaultConfig() });
    }
  });

  it("returns the config with defaults filled in", () => {
    const r = parseConfigText("mode: dry-run\nallow:\n  actors: [backup-bot]\n");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.mode).toBe("dry-run");
    expect(r.config.allow.actors).toEqual(["backup-bot"]);
    expect(r.config.alerts.repo).toBe("security-alerts");
    expect(r.config.detectors["personal-fork"]?.enabled).toBe(true);
  });

  it("reports a YAML syntax error with its line", () => {
    const problems = problemsOf("mode: alert\nallow:\n  actors: [a,\n  repos: []\n");
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.message).toMatch(/^YAML syntax error: /);
    expect(problems[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it("reports a duplicate key with its path and the line of the second one", () => {
    const problems = problemsOf("alerts:\n  repo: alerts-a\n  mention: []\n  repo: alerts-b\n");
    expect(problems).toEqual([{ path: "alerts.repo", line: 4, message: expect.stringMatching(/appears twice/) }]);
  });

  it("reports tabs used for indentation", () => {
    const problems = problemsOf("alerts:\n\trepo: x\n");
    expect(problems.some((p) => /tabs are not allowed/.test(p.message) && p.line === 2)).toBe(true);
  });

  it("never evaluates a tag and reports it instead", () => {
    const problems = problemsOf("mode: !!js/function 'function () { return 1 }'\n");
    expect(problems).toEqual([{ path: "mode", line: 1, message: expect.stringMatching(/plain YAML only/) }]);
  });

  it("refuses several documents in one file", () => {
    const problems = problemsOf("mode: alert\n---\nmode: dry-run\n");
    expect(problems[0]?.message).toMatch(/single document/);
    expect(problems[0]?.line).toBe(2);
  });

  it("names an unknown key by path and line, and suggests the key that was meant", () => {
    const text = ["allow:", "  actors: []", "  fork-owners: [partner]", "detectors:", "  personal_fork:", "    enabled: false", ""].join("\n");
    expect(problemsOf(text)).toEqual([
      { path: "allow.fork-owners", line: 3, message: 'unknown key "fork-owners": did you mean `fork_owners`?' },
      { path: "detectors.personal_fork", line: 5, message: 'unknown key "personal_fork": did you mean `personal-fork`?' },
    ]);
  });

  it("lists the known keys when nothing is close", () => {
    const [p] = problemsOf("audit_log:\n  frequency: 3\n");
    expect(p).toEqual({ path: "audit_log.frequency", line: 2, message: 'unknown key "frequency": known keys here: `poll_minutes`' });
  });

  it("refuses _extends: a config cannot pull settings from elsewhere", () => {
    const problems = problemsOf("_extends: other-repo\nmode: alert\n");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: "_extends", line: 1 });
    expect(problems[0]?.message).toMatch(/unknown key `_extends`.*remove `_extends`/);
  });

  it("treats a YAML merge key as an unknown key, not as a merge", () => {
    const problems = problemsOf("base: &b {repo: x}\nalerts:\n  <<: *b\n");
    expect(problems.map((p) => p.path).sort()).toEqual(["alerts.<<", "base"]);
  });

  it("reports wrong types with the key path, the line and the fix", () => {
    const text = [
      "mode: loud", //                              1
      "alerts:", //                                 2
      "  repo: acme/security-alerts", //            3
      "  mention: [42]", //                          4
      "allow:", //                                  5
      "  actors: backup-bot", //                    6
      "audit_log:", //                              7
      '  poll_minutes: "10"', //                    8
      "detectors:", //                              9
      "  personal-fork:", //                        10
      "    public_sources: yes", //                 11
      "",
    ].join("\n");
    expect(problemsOf(text)).toEqual([
      { path: "mode", line: 1, message: 'must be one of `alert`, `dry-run`; got the text "loud"' },
      { path: "alerts.repo", line: 3, message: '"acme/security-alerts" is not a repository name in the same org, without the owner' },
      { path: "alerts.mention[0]", line: 4, message: 'expected text, got the number 42: put it in quotes ("42") so YAML reads it as text' },
      { path: "allow.actors", line: 6, message: 'expected a list, got the text "backup-bot": write a list, e.g. ["backup-bot"]' },
      { path: "audit_log.poll_minutes", line: 8, message: 'expected a number, got the text "10": remove the quotes' },
      {
        path: "detectors.personal-fork.public_sources",
        line: 11,
        message: 'expected `true` or `false`, got the text "yes": write `true` or `false` without quotes',
      },
    ]);
  });

  it("explains an out-of-range number and a detector switched off the wrong way", () => {
    const problems = problemsOf("audit_log:\n  poll_minutes: 0\ndetectors:\n  personal-fork: false\n");
    expect(problems).toEqual([
      { path: "audit_log.poll_minutes", line: 2, message: "must be at least 1; got the number 0" },
      {
        path: "detectors.personal-fork",
        line: 4,
        message: "expected a section of keys, got `false`: to switch the detector, write `enabled: false` under it",
      },
    ]);
  });

  it("reports an empty section instead of guessing", () => {
    expect(problemsOf("alerts:\n")).toEqual([
      { path: "alerts", line: 1, message: expect.stringMatching(/got nothing .*remove the key to use its default/) },
    ]);
  });

  it("reports a file that is not a section of keys as a whole-file problem", () => {
    expect(problemsOf("- mode: alert\n")).toEqual([
      { path: "(file)", line: 1, message: expect.stringMatching(/must be a section of keys.*not a list/) },
    ]);
  });

  it("refuses more aliases than a config needs before expanding any", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]"];
    bomb.push("c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]");
    const problems = problemsOf(bomb.join("\n"));
    expect(problems).toEqual([{ path: "(file)", line: 4, message: expect.stringMatching(/^more than 20 aliases/) }]);
  });

  it("stops an alias bomb that stays within the alias limit instead of expanding it", () => {
    // 19 aliases, 10,000 values once expanded.
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]", "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]"];
    bomb.push("c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]", "d: [*c]");
    const problems = problemsOf(bomb.join("\n"));
    expect(problems).toEqual([{ path: "(file)", message: expect.stringMatching(/use fewer YAML aliases/) }]);
  });
});

describe("parseConfigText on a file bigger than a config", () => {
  const KB = 1024;
  /** `unit(i)` repeated until the text would pass `bytes`. */
  function fill(head: string, unit: (i: number) => string, bytes: number): string {
    let text = head;
    for (let i = 0; ; i++) {
      const next = unit(i);
      if (text.length + next.length > bytes) return text;
      text += next;
    }
  }

  it("refuses a file over 256 KB on its size alone, before any parsing", () => {
    // 1 MB of 100,000 keys: the file that kept the event loop busy for minutes.
    const text = fill("allow:\n", (i) => `  k${i}: 1\n`, 1024 * KB);
    expect(problemsOf(text)).toEqual([
      { path: "(file)", message: "the file is 1024 KB; exfil-monitor reads at most 256 KB (a complete config is a few KB): remove what is not config (long comments, generated lists)" },
    ]);
  });

  it("counts bytes, not characters: 100,000 three-byte characters are 293 KB", () => {
    expect(problemsOf(`mode: "${"€".repeat(100_000)}"\n`)[0]?.message).toMatch(/^the file is 293 KB/);
  });

  it("names the line where a file under 256 KB crosses a limit: keys, tokens, aliases, anchors, nesting", () => {
    const cases: [string, string, RegExp][] = [
      ["keys in one flow section", `allow: {${Array.from({ length: 600 }, (_, i) => `"k${i}":1`).join(",")}}\n`, /^more than 500 keys/],
      ["keys, one a line", fill("allow:\n", (i) => `  k${i}: 1\n`, 250 * KB), /^more than 500 keys/],
      ["list entries", fill("allow:\n  actors:\n", (i) => `    - a${i}\n`, 250 * KB), /^more than 5,000 YAML tokens/],
      ["comment lines", fill("", (i) => `# ${i}\n`, 250 * KB), /^more than 5,000 YAML tokens/],
      ["aliases", `x: &a [1]\ny: [${"*a, ".repeat(30)}]\n`, /^more than 20 aliases/],
      ["anchors", `y: [${Array.from({ length: 30 }, (_, i) => `&a${i} 1`).join(", ")}]\n`, /^more than 20 anchors/],
      ["nested flow lists", `a: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`, /^more than 10 levels of nesting/],
      // 10,000 of these ran the YAML parser out of memory and ended the process.
      ["nested block lists on one line", `${"- ".repeat(10_000)}x\n`, /^more than 10 levels of nesting/],
      ["nested sections", Array.from({ length: 700 }, (_, i) => `${" ".repeat(i)}k${i}:`).join("\n"), /^more than 10 levels of nesting/],
    ];
    for (const [what, text, message] of cases) {
      expect(Buffer.byteLength(text), what).toBeLessThanOrEqual(CONFIG_LIMITS.bytes);
      const problems = problemsOf(text);
      expect(problems, what).toHaveLength(1);
      expect(problems[0], what).toMatchObject({ path: "(file)", message: expect.stringMatching(message) });
      expect(problems[0]?.line, what).toBeGreaterThanOrEqual(1);
    }
  });

  it("counts what YAML sees, not characters: brackets, stars and colons in quotes, comments and block text are text", () => {
    const text = [
      "# [[[[[[[[[[[[ *a *b *c *d *e *f *g *h *i *j *k *l *m *n *o *p *q *r *s *t *u *v a: b: c: d:",
      'alerts:',
      `  labels: ["${"[".repeat(50)}", "*a *b *c *d *e *f *g *h *i *j *k *l *m *n *o *p *q *r *s *t *u *v", '{{{{{{{{{{{{{{']`,
      "  mention: [alice]",
      "",
    ].join("\n");
    expect(checkLimits(text)).toBeNull();
    expect(checkLimits(`mode: |\n  ${"[".repeat(50)}\n  ${"- ".repeat(50)}\n`)).toBeNull();
  });

  it("leaves room for far more than a real config: 500 allowlist entries, every detector key set, many comments", () => {
    const lines = ["# yaml-language-server: $schema=./schema/exfil-monitor.schema.json", "mode: alert", "allow:", "  actors:"];
    for (let i = 0; i < 500; i++) lines.push(`    - svc-${i}-bot # owned by team ${i % 7}`);
    const r = parseConfigText(`${lines.join("\n")}\n`);
    expect(r.ok ? [] : r.problems).toEqual([]);
  });

  it("finds a key given twice however it is spelled, and lists at most 50 problems", () => {
    expect(problemsOf('alerts:\n  "repo": a\n  repo: b\n')).toEqual([
      { path: "alerts.repo", line: 3, message: expect.stringMatching(/appears twice/) },
    ]);
    const many = problemsOf(`${Array.from({ length: 200 }, (_, i) => `unknown_${i}: 1`).join("\n")}\n`);
    expect(many).toHaveLength(51);
    expect(many[50]).toEqual({ path: "(file)", message: "150 more problems not listed: fix these first" });
  });
});

describe("parseConfigText on allowlist entries", () => {
  function allowProblems(list: string, entries: string[], org?: string): ConfigProblem[] {
    const text = `allow:\n  ${list}:\n${entries.map((e) => `    - ${JSON.stringify(e)}\n`).join("")}`;
    const r = parseConfigText(text, org ? { org } : {});
    return r.ok ? [] : r.problems;
  }

  it("refuses every spelling of 'everyone', with its key path and line", () => {
    const broad = ["*", "**", "?*", "*?", "[a-z0-9]*", "[^z]*", "*[^q]", "{*,x}", "+(*)", "@(*)", "?(*)", "[[:alnum:]]*", "!mallory"];
    const problems = allowProblems("actors", ["deploy-bot", ...broad]);
    expect(problems.map((p) => [p.path, p.line])).toEqual(broad.map((_, i) => [`allow.actors[${i + 1}]`, i + 4]));
    for (const p of problems) expect(p.message).toMatch(/matches almost every login \(\d+ of 20 unrelated samples\).*switch monitoring off/);
    expect(problems.at(-1)?.message).toContain('a leading `!` means "everything except"');
  });

  it("refuses broad entries in every list, and the org's own `<org>/*` for repositories", () => {
    expect(allowProblems("fork_owners", ["*"]).map((p) => p.path)).toEqual(["allow.fork_owners[0]"]);
    expect(allowProblems("webhook_hosts", ["*", "*.*"]).map((p) => p.path)).toEqual(["allow.webhook_hosts[0]", "allow.webhook_hosts[1]"]);
    expect(allowProblems("repos", ["*", "*/*", "**"]).map((p) => p.path)).toEqual(["allow.repos[0]", "allow.repos[1]", "allow.repos[2]"]);
    expect(allowProblems("repos", ["acme/*", "ACME/**"], "acme").map((p) => p.path)).toEqual(["allow.repos[0]", "allow.repos[1]"]);
    expect(allowProblems("repos", ["acme/*"], "globex")).toEqual([]);
  });

  it("keeps narrow entries: names, prefixes, suffixes, bots, a partner org's forks, one host pattern", () => {
    expect(allowProblems("actors", ["deploy-bot", "acme-ci-*", "*-bot", "*[bot]", "{alice,bob}", "a*", "*-ci-*", "*/*"])).toEqual([]);
    expect(allowProblems("repos", ["sandbox-*", "acme/docs", "*-archive"], "acme")).toEqual([]);
    expect(allowProblems("fork_owners", ["acme-partner-*"])).toEqual([]);
    expect(allowProblems("webhook_hosts", ["*.slack.com", "hooks.acme.com", "*.com"])).toEqual([]);
  });

  it("refuses an entry whose wildcards could make matching take seconds", () => {
    const problems = allowProblems("webhook_hosts", ["*a*a*a*a*b", `${"{a,aa}".repeat(20)}x`, "**/*"]);
    expect(problems.map((p) => p.path)).toEqual(["allow.webhook_hosts[0]", "allow.webhook_hosts[1]", "allow.webhook_hosts[2]"]);
    for (const p of problems) expect(p.message).toMatch(/at most 2 are allowed.*split it into several entries/);
    expect(allowProblems("actors", ["x".repeat(256)])[0]?.message).toMatch(/at most 255 characters/);
  });

  it("refuses more than 50 patterns in one list, once, and counts plain names apart", () => {
    const names = Array.from({ length: 300 }, (_, i) => `svc-${i}`);
    const patterns = Array.from({ length: 60 }, (_, i) => `ci-${i}-*`);
    expect(allowProblems("actors", [...names, ...patterns.slice(0, 50)])).toEqual([]);
    expect(allowProblems("actors", [...names, ...patterns])).toEqual([
      { path: "allow.actors[350]", line: 353, message: expect.stringMatching(/is pattern number 51 of this list; at most 50 are allowed/) },
    ]);
  });
});

describe("docs/exfil-monitor.example.yml", () => {
  const text = fs.readFileSync(EXAMPLE, "utf8");

  it("parses with no problems", () => {
    const r = parseConfigText(text);
    expect(r.ok ? [] : r.problems).toEqual([]);
    expect(r.ok && r.config.allow.actors.length).toBeGreaterThan(0);
  });

  it("would fail the check above if a key in it stopped being valid", () => {
    const r = parseConfigText(text.replace("poll_minutes: 5", "poll_minutes: often"));
    expect(r.ok).toBe(false);
  });
});

describe("closest", () => {
  it("ignores case and - versus _, and refuses far-off words", () => {
    expect(closest("Min-Severity", ["repo", "min_severity"])).toBe("min_severity");
    expect(closest("mentions", ["repo", "mention"])).toBe("mention");
    expect(closest("zzz", ["repo", "mention"])).toBeUndefined();
  });
});

describe("fetchOrgConfigText", () => {
  const FILE_PATH = "/repos/acme/.github/contents/.github%2Fexfil-monitor.yml";
  const octokit = () =>
    testOctokit();

  afterEach(() => {
    nock.cleanAll();
  });

  it("reads .github/exfil-monitor.yml from the org's .github repository and nothing else", async () => {
    const text = "mode: dry-run\n";
    const scope = nock("https://api.github.com")
      .get(FILE_PATH)
      .reply(200, { type: "file", encoding: "base64", size: text.length, content: Buffer.from(text).toString("base64") });
    // Any other request (a monitored repo's own file, another path) has no interceptor and would fail.
    const seen: string[] = [];
    scope.on("request", (req: { path: string }) => seen.push(req.path));

    await expect(fetchOrgConfigText(octokit(), "acme")).resolves.toBe(text);
    expect(seen).toEqual([FILE_PATH]);
    expect(scope.isDone()).toBe(true);
  });

  it("decodes base64 that GitHub wraps at 60 characters", async () => {
    const text = `# ${"long comment ".repeat(20)}\nmode: alert\n`;
    const wrapped = Buffer.from(text).toString("base64").replace(/(.{60})/g, "$1\n");
    const scope = nock("https://api.github.com")
      .get(FILE_PATH)
      .reply(200, { type: "file", encoding: "base64", content: wrapped });
    await expect(fetchOrgConfigText(octokit(), "acme")).resolves.toBe(text);
    expect(scope.isDone()).toBe(true);
  });

  it("returns null when the repository or the file does not exist", async () => {
    const scope = nock("https://api.github.com").get(FILE_PATH).reply(404, { message: "Not Found" });
    await expect(fetchOrgConfigText(octokit(), "acme")).resolves.toBeNull();
    expect(scope.isDone()).toBe(true);
  });

  it("throws on other errors so the caller keeps the config it had", async () => {
    const scope = nock("https://api.github.com").get(FILE_PATH).reply(502, { message: "Bad Gateway" });
    await expect(fetchOrgConfigText(octokit(), "acme")).rejects.toMatchObject({ status: 502 });
    expect(scope.isDone()).toBe(true);
  });

  it("refuses a directory in place of the file, saying what to do", async () => {
    const scope = nock("https://api.github.com").get(FILE_PATH).reply(200, [{ type: "file", name: "x.yml" }]);
    await expect(fetchOrgConfigText(octokit(), "acme")).rejects.toThrow(/is a directory: make it a YAML file/);
    expect(scope.isDone()).toBe(true);
  });

  it("refuses a file over 256 KB on the size GitHub reports, before decoding it", async () => {
    const scope = nock("https://api.github.com")
      .get(FILE_PATH)
      .reply(200, { type: "file", encoding: "base64", size: 300 * 1024, content: "bm90IHJlYWQ=" });
    await expect(fetchOrgConfigText(octokit(), "acme")).rejects.toThrow(/is 300 KB; exfil-monitor reads at most 256 KB/);
    expect(scope.isDone()).toBe(true);
  });

  it("stops reading an answer too long for a 256 KB file, whatever size it claims", async () => {
    const content = Buffer.from("#".repeat(300 * 1024)).toString("base64").replace(/(.{60})/g, "$1\n");
    const scope = nock("https://api.github.com").get(FILE_PATH).reply(200, { type: "file", encoding: "base64", size: 10, content });
    await expect(fetchOrgConfigText(octokit(), "acme")).rejects.toThrow(/is over 256 KB; exfil-monitor reads at most 256 KB/);
    expect(scope.isDone()).toBe(true);
  });

  it("reads a file of exactly 256 KB", async () => {
    const text = `mode: alert\n${"#".repeat(256 * 1024 - 13)}\n`;
    const content = Buffer.from(text).toString("base64").replace(/(.{60})/g, "$1\n");
    const scope = nock("https://api.github.com")
      .get(FILE_PATH)
      .reply(200, { type: "file", encoding: "base64", size: Buffer.byteLength(text), content, _links: { self: "x".repeat(500) } });
    await expect(fetchOrgConfigText(octokit(), "acme")).resolves.toBe(text);
    expect(scope.isDone()).toBe(true);
  });

  it("refuses a file too large for the contents API", async () => {
    const scope = nock("https://api.github.com")
      .get(FILE_PATH)
      .reply(200, { type: "file", encoding: "none", size: 2_000_000, content: "" });
    await expect(fetchOrgConfigText(octokit(), "acme")).rejects.toThrow(/is 1954 KB; exfil-monitor reads at most 256 KB/);
    expect(scope.isDone()).toBe(true);
  });
});
