// The one escaping function and the helpers built on it: every listed code point shown as `\u{HEX}`, ordinary
// text of any script left alone, astral characters handled as code points, JSON kept exact. Then the sinks that
// reach GitHub, end to end: what the dispatcher posts for a finding, its comments, a notice and a config error.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { AlertDispatcher } from "../../src/alerts/dispatcher.js";
import { inert, inertJson, inertTitle, showInvisible, truncate } from "../../src/text/inert.js";
import { ConfigService } from "../../src/config/service.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { DAY, MINUTE, T0, makeConfig, makeEngine, makeEvent } from "../helpers/engine.js";
import { silentLog, testOctokit } from "../helpers/github.js";
import { ALL, LISTED, escaped, name } from "../helpers/invisible.js";

const raw = (cp: number) => String.fromCodePoint(cp);

describe("showInvisible", () => {
  it("shows every listed and added code point as \\u{HEX}", async () => {
    for (const cp of ALL) {
      expect({ cp: name(cp), out: showInvisible(`a${raw(cp)}b`) }).toEqual({ cp: name(cp), out: `a${escaped(cp)}b` });
    }
    expect(LISTED).toHaveLength(3 + 5 + 4 + 128 + 3 + 5);
    expect(showInvisible("\u202E")).toBe("\\u{202E}");
    expect(showInvisible("\u{E0041}\u{E0042}")).toBe("\\u{E0041}\\u{E0042}");
    expect(showInvisible("\u001b[31m")).toBe("\\u{001B}[31m");
  });

  it("leaves ordinary text of every script alone", async () => {
    const text = [
      "acme/api-v2_final.js",
      "héllo wörld e\u0301",
      "日本語のリポジトリ",
      "한국어 저장소",
      "עברית",
      "العربية",
      "русский",
      "😀 🚀 🇯🇵",
      "non\u00a0breaking",
      "braille\u2800blank",
      "ideographic\u3000space",
      "\\u{202E} typed by hand",
    ].join(" ");
    expect(showInvisible(text)).toBe(text);
  });

  it("escapes variation selectors and joiners inside emoji: exact beats pretty", async () => {
    expect(showInvisible("\u2764\uFE0F")).toBe("\u2764\\u{FE0F}");
    expect(showInvisible("👨\u200D👩")).toBe("👨\\u{200D}👩");
  });

  it("shows lone surrogates instead of letting them turn into U+FFFD", async () => {
    expect(showInvisible("a\uD800b\uDC00c")).toBe("a\\u{D800}b\\u{DC00}c");
    expect(showInvisible("\uD83D\uDE00")).toBe("😀");
  });

  it("keeps line breaks and tabs only when asked, and never a lone carriage return", async () => {
    const text = "a\nb\tc\r\nd\re\u2028f";
    expect(showInvisible(text)).toBe("a\\u{000A}b\\u{0009}c\\u{000D}\\u{000A}d\\u{000D}e\\u{2028}f");
    expect(showInvisible(text, { keepLines: true })).toBe("a\nb\tc\r\nd\\u{000D}e\\u{2028}f");
  });

  it("is idempotent", async () => {
    const all = ALL.map(raw).join("x");
    const once = showInvisible(all);
    expect(showInvisible(once)).toBe(once);
    expect(showInvisible(once, { keepLines: true })).toBe(once);
  });
});

describe("truncate", () => {
  it("never cuts a surrogate pair or an escape in half", async () => {
    expect(truncate("ab😀cd", 4)).toBe("ab…");
    expect(truncate("abc😀d", 5)).toBe("abc…");
    expect(truncate("abc😀de", 6)).toBe("abc😀…");
    const escapes = showInvisible("\u202E".repeat(10));
    for (let max = 1; max < escapes.length; max++) {
      expect(truncate(escapes, max)).toMatch(/^(\\u\{202E\})*…$/);
    }
    expect(truncate("short", 10)).toBe("short");
  });
});

describe("inert and inertTitle", () => {
  it("show every code point escaped, inside one code span on one line", async () => {
    for (const cp of ALL) {
      const value = `x${raw(cp)}y`;
      expect({ cp: name(cp), out: inert(value) }).toEqual({ cp: name(cp), out: `\`x${escaped(cp)}y\`` });
      expect({ cp: name(cp), out: inertTitle(value) }).toEqual({ cp: name(cp), out: `x${escaped(cp)}y` });
    }
  });

  it("turn line breaks and tabs into spaces", async () => {
    expect(inert("a\nb\r\nc\td\re")).toBe("`a b c d\\u{000D}e`");
    expect(inertTitle("a\n\n b\tc")).toBe("a b c");
  });

  it("do not let a whitespace rule swallow BOM or separators before they are escaped", async () => {
    expect(inertTitle("a\uFEFFb\u2028c\u2029d")).toBe("a\\u{FEFF}b\\u{2028}c\\u{2029}d");
  });

  it("cut long values of invisible characters to whole escapes", async () => {
    const out = inert("\u{E0041}".repeat(100), 30);
    expect(out).toMatch(/^`(\\u\{E0041\})+…`$/);
    expect(out.length).toBeLessThanOrEqual(32);
  });
});

describe("inertJson", () => {
  const value = {
    summary: `repo ${ALL.map(raw).join("|")} \uD800 lone`,
    repos: ["acme/\u202Eipa", "acme/\u{E0041}x"],
    evidence: [{ data: { "k\u200Bey": "v\u2066al\u2069ue\n", plain: "héllo 日本 😀" } }],
  };

  it("parses back to exactly the value", async () => {
    expect(JSON.parse(inertJson(value))).toEqual(value);
  });

  it("holds no raw control, bidirectional or invisible character", async () => {
    const line = inertJson(value);
    for (const cp of ALL) expect({ cp: name(cp), found: line.includes(raw(cp)) }).toEqual({ cp: name(cp), found: false });
    expect(line).not.toMatch(/\p{Cs}/u);
    expect(line).toContain("acme/\\u202eipa");
    expect(line).toContain("acme/\\udb40\\udc41x");
    expect(line).toContain("héllo 日本 😀");
    expect(line).not.toContain("\n");
  });
});

describe("what reaches GitHub", () => {
  const API = "https://api.github.com";
  const REPO = "/repos/acme/security-alerts";
  const HOSTILE = ALL.map((cp) => String.fromCodePoint(cp)).join("");
  const rawIn = (text: string) => ALL.filter((cp) => text.includes(String.fromCodePoint(cp))).map(name);

  function setup() {
    const t = makeEngine();
    const octokit = testOctokit();
    const dispatcher = new AlertDispatcher({
      storage: t.storage,
      log: silentLog,
      now: () => T0 + 2 * MINUTE,
      octokitFor: async () => octokit as unknown as OctokitLike,
      configFor: async () => makeConfig({ alerts: { labels: [`triage${HOSTILE}`.slice(0, 50)] } }),
      sleep: async () => {},
    });
    return { ...t, dispatcher };
  }

  /** Captures every issue and comment the dispatcher posts. */
  function github(posts: { title?: string; body: string; labels?: string[] }[]) {
    const keep = (b: { title?: string; body: string; labels?: string[] }) => {
      posts.push(b);
      return true;
    };
    return nock(API)
      .persist()
      .get(REPO)
      .reply(200, { private: true, visibility: "private" })
      .get(/^\/users\//)
      .reply(404, {})
      .post(`${REPO}/issues`, keep)
      .reply(201, { number: 7 })
      .post(`${REPO}/issues/7/comments`, keep)
      .reply(201, { id: 1 });
  }

  it("posts a finding's issue and comments with every attacker value escaped", async () => {
    const t = setup();
    // The same fork seen again by the forks sweep: new evidence, so a comment.
    const fork = (at: number, source: "webhook" | "sweep") =>
      makeEvent({
        action: "fork",
        source,
        at,
        actor: `mal${HOSTILE}lory`,
        repo: `acme/a${HOSTILE}pi`,
        visibility: "private",
        installationId: 42,
        details: { forkFullName: `mal${HOSTILE}lory/api`, forkOwner: `mal${HOSTILE}lory`, forkOwnerType: "User" },
      });
    await t.run(fork(T0, "webhook"));
    const posts: { title?: string; body: string; labels?: string[] }[] = [];
    const scope = github(posts);
    expect(await t.dispatcher.flush()).toMatchObject({ filed: 1, pending: 0 });
    await t.run(fork(T0 + DAY, "sweep"));
    expect(await t.dispatcher.flush()).toMatchObject({ commented: 1, pending: 0 });
    scope.persist(false);

    expect(posts).toHaveLength(2);
    const [issue, comment] = posts;
    expect(rawIn(issue!.title!)).toEqual([]);
    expect(rawIn(issue!.body)).toEqual([]);
    expect(rawIn(issue!.labels!.join(" "))).toEqual([]);
    expect(rawIn(comment!.body)).toEqual([]);
    const shown = showInvisible(HOSTILE);
    expect(issue!.title!.startsWith(`[HIGH] acme/a${shown.slice(0, 100)}`)).toBe(true);
    // Long values are cut; the start shows the escapes.
    expect(issue!.body).toContain(`| **Who** | \`mal${shown.slice(0, 40)}`);
    expect(comment!.body).toContain(`\`mal${shown.slice(0, 40)}`);
  });

  it("posts notices and config errors with every attacker value escaped", async () => {
    const t = setup();
    const posts: { title?: string; body: string; labels?: string[] }[] = [];
    const scope = github(posts);
    await t.dispatcher.reportNotice({
      org: "acme",
      installationId: 42,
      key: "config-change:1",
      title: `config changed by mal${HOSTILE}lory`,
      body: `Pushed by \`mal${HOSTILE}lory\`:\n- mode: dry-run`,
      quote: `mode: dry-run # ${HOSTILE}\n`,
    });

    // A config file whose unknown key is attacker text, reported the way the app reports it.
    const key = `ke${LISTED.map((cp) => String.fromCodePoint(cp)).join("")}y`;
    const text = `mode: alert\n"${key}": 1\n`;
    nock(API)
      .get("/repos/acme/.github/contents/.github%2Fexfil-monitor.yml")
      .reply(200, { type: "file", encoding: "base64", size: Buffer.byteLength(text), content: Buffer.from(text).toString("base64") });
    const configs = new ConfigService({
      storage: t.storage,
      log: silentLog,
      now: () => T0,
      octokitFor: async () => testOctokit(),
      onProblem: (p) => t.dispatcher.reportNotice(p),
    });
    await configs.get("acme", 42);
    await t.dispatcher.idle();
    scope.persist(false);

    expect(posts).toHaveLength(2);
    for (const p of posts) {
      expect(rawIn(p.title!)).toEqual([]);
      expect(rawIn(p.body)).toEqual([]);
    }
    expect(posts[0]!.title!.startsWith(`exfil-monitor: config changed by mal${showInvisible(HOSTILE).slice(0, 100)}`)).toBe(true);
    expect(posts[0]!.body).toContain(`mode: dry-run # ${showInvisible(HOSTILE, { keepLines: true })}`.slice(0, 1000));
    expect(posts[1]!.body).toContain(showInvisible(key).slice(0, 42));
  });

  it("escapes a notice an older version stored unescaped", async () => {
    const t = setup();
    (await t.storage.notices.save({ org: "acme", key: "audit-log:gap", installationId: 42, title: `gap ${HOSTILE}`, body: `since ${HOSTILE}\nsecond line` }, T0));
    const posts: { title?: string; body: string; labels?: string[] }[] = [];
    const scope = github(posts);
    await t.dispatcher.flush();
    scope.persist(false);
    expect(posts).toHaveLength(1);
    expect(rawIn(posts[0]!.title! + posts[0]!.body)).toEqual([]);
    expect(posts[0]!.body).toBe(`since ${showInvisible(HOSTILE)}\nsecond line`);
  });
});
