import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fenced, fingerprintMarker, renderComment, renderIssue, renderNotice, shownSeq } from "../../src/alerts/render.js";
import { personalFork } from "../../src/detectors/personal-fork.js";
import type { Detector } from "../../src/detectors/types.js";
import type { EvidenceRow, FindingRow } from "../../src/store/storage.js";
import { DAY, MINUTE, T0, makeConfig } from "../helpers/engine.js";
import { ALL, escaped, name } from "../helpers/invisible.js";

const detector = personalFork as unknown as Detector;

function finding(over: Partial<FindingRow> = {}): FindingRow {
  return {
    id: 1,
    scope: "org:acme",
    fingerprint: "personal-fork:acme/api->mallory/api",
    detector: "personal-fork",
    subject: "acme/api->mallory/api",
    org: "acme",
    orgs: ["acme"],
    installationId: 42,
    severity: "high",
    summary: "acme/api forked into personal account mallory",
    actor: "mallory",
    repos: ["acme/api"],
    firstSeen: T0,
    lastSeen: T0 + 5 * MINUTE,
    count: 2,
    raisedReason: null,
    actorChecked: false,
    issueRepo: null,
    issueNumber: null,
    filedSeq: 0,
    filingStartedAt: null,
    lastError: null,
    createdAt: T0,
    ...over,
  };
}

function row(seq: number, data: EvidenceRow["data"], at = T0 + seq * MINUTE): EvidenceRow {
  return { seq, findingId: 1, eventId: `e${seq}`, at, source: "webhook", severity: "high", summary: "s", data };
}

const HOSTILE = [
  "@everyone",
  "<img src=x onerror=alert(1)>",
  "[x](https://evil.example)",
  "a`b``c",
  "pipe|break",
  "line\nbreak\r\n| injected | row |",
  "\u202Eevil",
].join(" ");

/** The body with every inline code span removed: what GitHub would render as markdown and HTML. */
function outsideCode(body: string): string {
  return body
    .replace(/<!-- exfil-monitor:[a-z]+:[0-9a-f]+ -->/g, "")
    .replace(/`[^`\n]*`/g, "");
}

function unescapedPipes(line: string): number {
  return (line.match(/(?<!\\)\|/g) ?? []).length;
}

describe("renderIssue", () => {
  it("titles, labels and marks the issue", () => {
    const config = makeConfig({ alerts: { labels: ["security"] } });
    const out = renderIssue({ finding: finding(), evidence: [row(1, { fork: "mallory/api" })], detector, config });
    expect(out.title).toBe("[HIGH] acme/api forked into personal account mallory");
    expect(out.labels).toEqual(["exfil-monitor", "severity:high", "detector:personal-fork", "security"]);
    const hash = createHash("sha256").update("personal-fork:acme/api->mallory/api").digest("hex");
    expect(out.body).toContain(`<!-- exfil-monitor:fp:${hash} -->`);
    expect(shownSeq(out.body)).toBe(1);
  });

  it("says what, who, when, where, which warning sign, why, what next and how to tune", () => {
    const config = makeConfig({ alerts: { mention: ["alice", "@acme/security"] } });
    const f = finding({ raisedReason: "mallory's GitHub account was created on 2026-09-28, 4 days before", severity: "critical" });
    const { body, title } = renderIssue({ finding: f, evidence: [row(1, { fork: "mallory/api" })], detector, config });
    expect(title.startsWith("[CRITICAL] ")).toBe(true);
    expect(body).toContain("`mallory`");
    expect(body).toContain("2026-10-02T10:00:00.000Z");
    expect(body).toContain("2026-10-02T10:05:00.000Z");
    expect(body).toContain("`acme/api`");
    expect(body).toContain("**copy to a personal account**");
    expect(body).toContain("FBI's January 2025 warning");
    expect(body).toContain("created on 2026-09-28, 4 days before");
    for (const step of personalFork.nextSteps) expect(body).toContain(`- [ ] ${step}`);
    expect(body).toContain("`detectors.personal-fork`");
    expect(body).toContain("`allow.fork_owners`");
    expect(body).toContain(".github/exfil-monitor.yml");
    expect(body.trimEnd().endsWith("cc @alice @acme/security")).toBe(true);
  });

  it("keeps hostile values from mentioning, linking, injecting HTML or breaking the table", () => {
    const f = finding({
      summary: HOSTILE,
      actor: HOSTILE,
      subject: `${HOSTILE} --> <!--`,
      fingerprint: `personal-fork:${HOSTILE} -->`,
      repos: [HOSTILE, "acme/api"],
    });
    const evidence = [row(1, { [HOSTILE]: HOSTILE, fork: HOSTILE }), row(2, { fork: "`|`" })];
    const config = makeConfig({ alerts: { mention: ["alice"] } });
    const { body, title } = renderIssue({ finding: f, evidence, detector, config });

    const rendered = outsideCode(body);
    // The only mention is the configured one.
    expect(rendered.match(/@[A-Za-z]/g)).toEqual(["@a"]);
    expect(rendered).not.toContain("<img");
    expect(rendered).not.toContain("](");
    expect(rendered).not.toContain("<!--");
    expect(body).not.toContain("\u202E");
    expect(body).toContain("\\u{202E}");

    // Every row of every table has as many cell separators as its header.
    const lines = body.split("\n");
    const evidenceTable = lines.filter((l) => l.startsWith("| 2026-"));
    expect(evidenceTable).toHaveLength(2);
    const header = lines.find((l) => l.startsWith("| Time (UTC)"))!;
    for (const l of evidenceTable) expect(unescapedPipes(l)).toBe(unescapedPipes(header));
    for (const l of lines.filter((x) => x.startsWith("| **"))) expect(unescapedPipes(l)).toBe(3);

    expect(title).not.toMatch(/[\n\r\u202E]/);
    expect(title.startsWith("[HIGH] @everyone")).toBe(true);
  });

  it("shows the 50 latest rows and says how many more", () => {
    const evidence = Array.from({ length: 60 }, (_, i) => row(i + 1, { n: i + 1 }));
    const { body } = renderIssue({ finding: finding(), evidence, detector, config: makeConfig() });
    const rows = body.split("\n").filter((l) => l.startsWith("| 2026-"));
    expect(rows).toHaveLength(50);
    expect(rows[0]).toContain("`11`");
    expect(body).toContain("10 earlier rows are not shown");
    expect(shownSeq(body)).toBe(60);
  });

  it("stays under GitHub's body limit with long hostile values", () => {
    const long = "x".repeat(5_000);
    const evidence = Array.from({ length: 50 }, (_, i) =>
      row(i + 1, Object.fromEntries(Array.from({ length: 12 }, (_, k) => [`k${k}`, long]))),
    );
    const { body } = renderIssue({ finding: finding(), evidence, detector, config: makeConfig() });
    expect(body.length).toBeLessThan(65_536);
  });

  it("renders a finding whose detector is no longer registered", () => {
    const { body } = renderIssue({ finding: finding({ detector: "gone" }), evidence: [], detector: undefined, config: makeConfig() });
    expect(body).toContain("`gone` (no longer in this version)");
    expect(body).not.toContain("Next steps");
  });
});

describe("renderComment", () => {
  it("lists only the new rows, inert", () => {
    const body = renderComment({
      finding: finding({ count: 3, lastSeen: T0 + DAY }),
      evidence: [row(3, { fork: "@everyone" })],
      detector,
    });
    expect(body).toContain("**1 new event**");
    expect(body).toContain("`@everyone`");
    expect(outsideCode(body)).not.toContain("@everyone");
    expect(body.split("\n").filter((l) => l.startsWith("| 2026-"))).toHaveLength(1);
    expect(shownSeq(body)).toBe(3);
  });
});

describe("notices", () => {
  it("fences quoted YAML with a fence longer than any backtick run inside", () => {
    const yaml = "alerts:\n  repo: \"```\"\n  labels: [\"````\"]\n";
    const out = fenced(yaml, "yaml");
    expect(out.startsWith("`````yaml\n")).toBe(true);
    expect(out.endsWith("\n`````")).toBe(true);
    const n = renderNotice({ org: "acme", key: "config:abc", title: "config error", body: "Fix line 2.", quote: yaml });
    expect(n.labels).toEqual(["exfil-monitor", "config-error"]);
    expect(n.body).toContain(out);
    expect(renderNotice({ org: "acme", key: "audit-gap", title: "t", body: "b" }).labels).toEqual(["exfil-monitor", "exfil-monitor-notice"]);
  });

  it("hashes the fingerprint so it cannot end the HTML comment", () => {
    expect(fingerprintMarker("a --> <b>")).toMatch(/^<!-- exfil-monitor:fp:[0-9a-f]{64} -->$/);
  });
});

describe("invisible and bidirectional characters", () => {
  /** Code points found raw in `text`. */
  const rawIn = (text: string, cps: readonly number[]) => cps.filter((cp) => text.includes(String.fromCodePoint(cp))).map(name);

  // One finding per code point: a value holding several would still pass if only the first were escaped.
  for (const cp of ALL) {
    const c = String.fromCodePoint(cp);
    const e = escaped(cp);
    it(`shows ${name(cp)} escaped in every part of an issue, a comment and a notice`, () => {
      const f = finding({
        summary: `acme/a${c}pi forked`,
        actor: `mal${c}lory`,
        subject: `acme/a${c}pi->x`,
        fingerprint: `personal-fork:acme/a${c}pi`,
        org: `ac${c}me`,
        repos: [`acme/a${c}pi`, "acme/web"],
        raisedReason: `mal${c}lory's account is new`,
      });
      const evidence = [row(1, { [`k${c}ey`]: `v${c}alue`, fork: `mal${c}lory/api` })];
      const config = makeConfig({ alerts: { labels: [`sec${c}urity`], mention: ["bob"] } });
      // The schema refuses such a mention entry; the renderer must not rely on that.
      config.alerts.mention = [`ali${c}ce`, "bob"];
      const issue = renderIssue({ finding: f, evidence, detector, config });
      expect(rawIn(issue.title, [cp])).toEqual([]);
      expect(rawIn(issue.body, [cp])).toEqual([]);
      expect(rawIn(issue.labels.join(" "), [cp])).toEqual([]);
      expect(issue.title).toBe(`[HIGH] acme/a${e}pi forked`);
      for (const shown of [`acme/a${e}pi forked`, `mal${e}lory`, `acme/a${e}pi->x`, `ac${e}me`, `acme/a${e}pi`, `mal${e}lory's account is new`, `k${e}ey`, `v${e}alue`, `mal${e}lory/api`]) {
        expect(issue.body).toContain(`\`${shown}\``);
      }
      expect(issue.labels).toContain(`sec${e}urity`);
      // A mention entry that is not a plain login or team is dropped, never pasted.
      expect(issue.body.trimEnd().endsWith("cc @bob")).toBe(true);

      const comment = renderComment({ finding: f, evidence, detector });
      expect(rawIn(comment, [cp])).toEqual([]);
      for (const shown of [`acme/a${e}pi`, `k${e}ey`, `v${e}alue`]) expect(comment).toContain(`\`${shown}\``);

      const notice = renderNotice({ org: "acme", key: "k", title: `pushed by mal${c}lory`, body: `Changed by mal${c}lory.\nSecond line.`, quote: `mode: dry${c}-run\n` });
      expect(rawIn(notice.title + notice.body, [cp])).toEqual([]);
      expect(notice.title).toBe(`exfil-monitor: pushed by mal${e}lory`);
      expect(notice.body).toContain(`Changed by mal${e}lory.\nSecond line.`);
      expect(notice.body).toContain(`\`\`\`yaml\nmode: dry${e}-run\n\`\`\``);
    });
  }

  it("keeps escaped notices under GitHub's body limit", () => {
    const n = renderNotice({ org: "acme", key: "k", title: "t", body: "\u202E".repeat(20_000), quote: "\u{E0041}".repeat(20_000) });
    expect(n.body.length).toBeLessThan(65_536);
    expect(rawIn(n.body, [0x202e, 0xe0041])).toEqual([]);
  });
});
