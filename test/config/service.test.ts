// ConfigService: per-org cache, the last good config kept in force while the file is broken, one report per
// distinct problem set, and fetch failures that are logged but never reported as config problems.
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigService, problemSetKey, type ConfigProblemNotice } from "../../src/config/service.js";
import { defaultConfig } from "../../src/config/schema.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import { MINUTE, T0 } from "../helpers/engine.js";
import { webhookFixture } from "../helpers/examples.js";
import { silentLog, testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const FILE_PATH = "/repos/acme/.github/contents/.github%2Fexfil-monitor.yml";

function file(text: string) {
  return { type: "file", encoding: "base64", size: text.length, content: Buffer.from(text).toString("base64") };
}

function setup(opts: { failReports?: number } = {}) {
  let failReports = opts.failReports ?? 0;
  let now = T0;
  const storage = openSqliteStorage(MEMORY);
  const notices: ConfigProblemNotice[] = [];
  const logs: { level: string; obj: object; msg?: string }[] = [];
  const log = {
    debug: () => 0,
    info: (obj: object, msg?: string) => logs.push({ level: "info", obj, ...(msg ? { msg } : {}) }),
    warn: (obj: object, msg?: string) => logs.push({ level: "warn", obj, ...(msg ? { msg } : {}) }),
    error: (obj: object, msg?: string) => logs.push({ level: "error", obj, ...(msg ? { msg } : {}) }),
  };
  const installations: number[] = [];
  const service = new ConfigService({
    storage,
    log,
    now: () => now,
    octokitFor: async (installationId) => {
      installations.push(installationId);
      return testOctokit();
    },
    onProblem: (p) => {
      if (failReports > 0) {
        failReports -= 1;
        throw new Error("issue could not be filed");
      }
      notices.push(p);
    },
  });
  return {
    storage,
    service,
    notices,
    logs,
    installations,
    advance(ms: number) {
      now += ms;
    },
  };
}

beforeEach(() => {
  nock.cleanAll();
});

afterEach(() => {
  nock.cleanAll();
});

describe("ConfigService", () => {
  it("uses the defaults when the org has no config file", async () => {
    const t = setup();
    const scope = nock(API).get(FILE_PATH).reply(404, { message: "Not Found" });
    await expect(t.service.get("acme", 7)).resolves.toEqual(defaultConfig());
    expect(t.installations).toEqual([7]);
    expect(t.notices).toEqual([]);
    expect(t.logs.some((l) => l.level === "info" && /no \.github\/exfil-monitor\.yml/.test(l.msg ?? ""))).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it("uses a good file, saves it as last good, and reads it once within the TTL", async () => {
    const t = setup();
    const text = "mode: dry-run\n";
    const scope = nock(API).get(FILE_PATH).once().reply(200, file(text));

    const first = await t.service.get("acme", 7);
    t.advance(4 * MINUTE);
    const second = await t.service.get("ACME", 7);

    expect(first.mode).toBe("dry-run");
    expect(second).toBe(first);
    expect((await t.storage.notices.goodConfig("acme"))?.yaml).toBe(text);
    expect(scope.isDone()).toBe(true);
  });

  it("reads the file again once the TTL has passed", async () => {
    const t = setup();
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: alert\n"));

    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    t.advance(5 * MINUTE + 1);
    expect((await t.service.get("acme", 7)).mode).toBe("alert");
    expect(scope.isDone()).toBe(true);
  });

  it("shares one fetch between concurrent calls for the same org", async () => {
    const t = setup();
    const scope = nock(API).get(FILE_PATH).once().reply(200, file("mode: dry-run\n"));
    const [a, b, c] = await Promise.all([t.service.get("acme", 7), t.service.get("acme", 7), t.service.get("acme", 7)]);
    expect(a.mode).toBe("dry-run");
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(t.installations).toEqual([7]);
    expect(scope.isDone()).toBe(true);
  });

  it("keeps the last good config in force while the file is broken, and reports the problems once", async () => {
    const t = setup();
    const broken = "mode: dry-run\nallow:\n  actorz: [backup-bot]\n";
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\nallow:\n  actors: [backup-bot]\n"))
      .get(FILE_PATH)
      .reply(200, file(broken))
      .get(FILE_PATH)
      .reply(200, file(broken));

    await t.service.get("acme", 7);
    t.service.invalidate("acme");
    const during = await t.service.get("acme", 7);
    t.advance(5 * MINUTE + 1);
    const later = await t.service.get("acme", 7);

    expect(during.allow.actors).toEqual(["backup-bot"]);
    expect(later.allow.actors).toEqual(["backup-bot"]);
    // The good version watches less than the defaults: announced when it took effect, and repeated in the
    // error notice, so "the last good version stays in force" never reads as "all is as it was".
    expect(t.notices.map((n) => n.key.split(":")[0])).toEqual(["config-change", "config"]);
    const notice = t.notices[1]!;
    expect(notice).toMatchObject({
      org: "acme",
      installationId: 7,
      key: problemSetKey([{ path: "allow.actorz", message: 'unknown key "actorz": did you mean `actors`?' }]),
      title: "exfil-monitor config error in .github/exfil-monitor.yml",
    });
    expect(notice.key).toMatch(/^config:[0-9a-f]{64}$/);
    expect(notice.body).toContain("| `allow.actorz` | 3 |");
    expect(notice.body).toContain("did you mean");
    expect(notice.body).toContain("last version of this file that loaded without errors");
    expect(notice.body).toContain("**watches less than the defaults**");
    expect(notice.body).toMatch(/- `mode` changed from `alert` to `dry-run`/);
    expect(notice.body).toMatch(/- `allow\.actors`: `backup-bot` added/);
    expect(notice.body).toMatch(/To fix it/);
    expect(scope.isDone()).toBe(true);
  });

  it("falls back to the defaults, and says so, when no version of the file ever loaded", async () => {
    const t = setup();
    const scope = nock(API).get(FILE_PATH).reply(200, file("mode: [\n"));
    await expect(t.service.get("acme", 7)).resolves.toEqual(defaultConfig());
    expect(t.notices).toHaveLength(1);
    expect(t.notices[0]?.body).toContain("built-in defaults");
    expect(scope.isDone()).toBe(true);
  });

  it("uses the last good config saved by an earlier run", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: dry-run\n", T0 - 60 * MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(200, file("mode: loud\n"));
    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    expect(t.notices).toHaveLength(1);
    expect(scope.isDone()).toBe(true);
  });

  it("reports a different set of problems again, but not the same set after a line shift", async () => {
    const t = setup();
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: loud\n"))
      .get(FILE_PATH)
      .reply(200, file("# comment moves the key down\nmode: loud\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: quiet\n"));

    await t.service.get("acme", 7);
    t.service.invalidate("acme");
    await t.service.get("acme", 7);
    t.service.invalidate("acme");
    await t.service.get("acme", 7);

    expect(t.notices).toHaveLength(2);
    expect(t.notices[0]?.key).not.toBe(t.notices[1]?.key);
    expect(scope.isDone()).toBe(true);
  });

  it("tries to report again on the next read when reporting failed", async () => {
    const t = setup({ failReports: 1 });
    const scope = nock(API).get(FILE_PATH).twice().reply(200, file("mode: loud\n"));
    await expect(t.service.get("acme", 7)).resolves.toEqual(defaultConfig());
    expect(t.notices).toEqual([]);
    expect(t.logs.some((l) => l.level === "error" && /could not report/.test(l.msg ?? ""))).toBe(true);
    t.advance(5 * MINUTE + 1);
    await t.service.get("acme", 7);
    expect(t.notices).toHaveLength(1);
    expect(scope.isDone()).toBe(true);
  });

  it("invalidate() makes the next get() read the file again", async () => {
    const t = setup();
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: alert\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"));

    expect((await t.service.get("acme", 7)).mode).toBe("alert");
    t.service.invalidate("acme");
    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    expect(scope.isDone()).toBe(true);
  });

  it("does not cache a file fetched before invalidate() was called", async () => {
    const t = setup();
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: alert\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"));

    const stale = t.service.get("acme", 7);
    t.service.invalidate("acme");
    expect((await stale).mode).toBe("alert");
    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    expect(scope.isDone()).toBe(true);
  });

  it("keeps the config it had on a fetch error, logs it, and does not report it as a config problem", async () => {
    const t = setup();
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"))
      .get(FILE_PATH)
      .reply(503, { message: "Service Unavailable" });

    await t.service.get("acme", 7);
    t.advance(5 * MINUTE + 1);
    const during = await t.service.get("acme", 7);

    expect(during.mode).toBe("dry-run");
    // The one notice is the dry-run taking effect; the fetch error is not reported.
    expect(t.notices.map((n) => n.key.split(":")[0])).toEqual(["config-change"]);
    expect(t.logs.some((l) => l.level === "warn" && /could not read acme\/\.github/.test(l.msg ?? ""))).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it("uses the last good config from the storage on a fetch error after a restart", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: dry-run\n", T0 - 60 * MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(500, { message: "boom" });
    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    expect(t.notices).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("never throws, even when no installation token can be had", async () => {
    const storage = openSqliteStorage(MEMORY);
    const service = new ConfigService({
      storage,
      log: silentLog,
      now: () => T0,
      octokitFor: async () => {
        throw new Error("installation suspended");
      },
      onProblem: () => {},
    });
    await expect(service.get("acme", 7)).resolves.toEqual(defaultConfig());
  });

  it("reports a directory at the file's path as a config problem", async () => {
    const t = setup();
    const scope = nock(API).get(FILE_PATH).reply(200, [{ type: "file", name: "a.yml" }]);
    await expect(t.service.get("acme", 7)).resolves.toEqual(defaultConfig());
    expect(t.notices).toHaveLength(1);
    expect(t.notices[0]?.body).toContain("| `(file)` | — |");
    expect(scope.isDone()).toBe(true);
  });
});

/** GitHub's push payload, as a push of `commit` by `sender` to the default branch of acme/.github. */
function push(sender: string, commit: string, opts: { branch?: string; files?: string[] } = {}): unknown {
  const { payload } = webhookFixture("push.forced-default-branch");
  const repo = payload.repository as Record<string, unknown>;
  Object.assign(repo, { name: ".github", full_name: "acme/.github", default_branch: "main", master_branch: "main" });
  const head = { ...(payload.head_commit as object), id: commit, added: [], removed: [], modified: opts.files ?? [".github/exfil-monitor.yml"] };
  return {
    ...payload,
    ref: `refs/heads/${opts.branch ?? "main"}`,
    after: commit,
    forced: false,
    head_commit: head,
    commits: [head],
    pusher: { name: sender, email: `${sender}@example.com` },
    sender: { ...(payload.sender as object), login: sender },
  };
}

const SHA_A = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const SHA_B = "b1b2c3d4e5f60718293a4b5c6d7e8f9012345678";

describe("ConfigService and a change that watches less", () => {
  const changes = (t: ReturnType<typeof setup>) => t.notices.filter((n) => n.key.startsWith("config-change:"));

  it("files one notice naming the pusher, the commit and each change, before the version becomes the last good one", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: alert\nalerts:\n  mention: [acme/security]\n", T0 - 60 * MINUTE);
    const weakened = "mode: dry-run\nalerts:\n  mention: [acme/security]\nallow:\n  actors: [mallory]\n";
    const scope = nock(API).get(FILE_PATH).reply(200, file(weakened));

    t.service.pushed("acme", push("mallory", SHA_A));
    const config = await t.service.get("acme", 7);

    expect(config.mode).toBe("dry-run");
    expect(changes(t)).toHaveLength(1);
    const [n] = changes(t);
    expect(n).toMatchObject({ org: "acme", installationId: 7, title: ".github/exfil-monitor.yml changed: it now watches less (pushed by mallory)" });
    expect(n!.key).toMatch(/^config-change:[0-9a-f]{64}$/);
    expect(n!.repo).toBeUndefined();
    expect(n!.body).toContain(`**Pushed by:**\n- \`mallory\`, commit \`${SHA_A}\``);
    expect(n!.body).toContain("compared with the previous version of the file");
    expect(n!.body).toContain("- `mode` changed from `alert` to `dry-run`: findings are only logged, no issue is filed");
    expect(n!.body).toContain("- `allow.actors`: `mallory` added (whatever it matches is no longer reported)");
    expect(n!.body).toContain("cc @acme/security");
    expect(await t.storage.notices.goodConfig("acme")).toEqual({ yaml: weakened, savedAt: T0 });
    expect(scope.isDone()).toBe(true);
  });

  it("says the pusher is unknown when the change was read without a push (the cache expired)", async () => {
    const t = setup();
    const scope = nock(API).get(FILE_PATH).reply(200, file("mode: alert\n")).get(FILE_PATH).reply(200, file("mode: dry-run\n"));
    await t.service.get("acme", 7);
    t.advance(5 * MINUTE + 1);
    await t.service.get("acme", 7);
    const [n] = changes(t);
    expect(changes(t)).toHaveLength(1);
    expect(n!.title).toContain("(pusher unknown)");
    expect(n!.body).toContain("**Pushed by:** unknown");
    expect(scope.isDone()).toBe(true);
  });

  it("does not name a push to another branch, nor one whose commits show other files only as the pusher", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: alert\n", T0 - MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(200, file("mode: dry-run\n"));
    t.service.pushed("acme", push("eve", SHA_A, { branch: "feature" }));
    t.service.pushed("acme", push("bob", SHA_B, { files: ["README.md"] }));
    await t.service.get("acme", 7);
    const [n] = changes(t);
    expect(n!.title).toContain("(pushed by bob)");
    expect(n!.body).not.toContain("`eve`");
    expect(n!.body).toContain("do not show which one changed this file");
    expect(scope.isDone()).toBe(true);
  });

  it("compares an org's first file with the defaults: a weaker one is announced, a stricter one is not", async () => {
    const t = setup();
    const scope = nock(API)
      .get("/repos/acme/.github/contents/.github%2Fexfil-monitor.yml")
      .reply(200, file("detectors:\n  new-country:\n    enabled: false\n"))
      .get("/repos/globex/.github/contents/.github%2Fexfil-monitor.yml")
      .reply(200, file("detectors:\n  mass-clone:\n    high_more_than_repos: 3\nalerts:\n  mention: [globex/sec]\n"));
    await t.service.get("acme", 7);
    await t.service.get("globex", 8);
    expect(changes(t).map((n) => n.org)).toEqual(["acme"]);
    expect(changes(t)[0]!.body).toContain("compared with the built-in defaults");
    expect(changes(t)[0]!.body).toContain("`detectors.new-country.enabled` detector turned off");
    expect(t.logs.some((l) => l.level === "info" && /nothing it watched is watched less/.test(l.msg ?? ""))).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it("announces each step that watches less, also going back and forth between the same two versions", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: alert\n", T0 - MINUTE);
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: alert\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\n"));
    for (let i = 0; i < 4; i++) {
      t.advance(MINUTE);
      t.service.invalidate("acme");
      await t.service.get("acme", 7);
    }
    expect(changes(t)).toHaveLength(2);
    expect(changes(t)[0]!.key).not.toBe(changes(t)[1]!.key);
    expect(scope.isDone()).toBe(true);
  });

  it("tells the alerts repository it replaced too when alerts.repo changes", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "alerts:\n  repo: sec-alerts\n", T0 - MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(200, file("alerts:\n  repo: my-private-notes\n"));
    t.service.pushed("acme", push("mallory", SHA_A));
    await t.service.get("acme", 7);
    expect(changes(t)[0]!.body).not.toContain("cc @");
    expect(changes(t).map((n) => [n.repo, n.key.endsWith(":previous-repo")])).toEqual([
      [undefined, false],
      ["sec-alerts", true],
    ]);
    expect(changes(t)[1]!.body).toBe(changes(t)[0]!.body);
    expect(scope.isDone()).toBe(true);
  });

  it("announces a deleted file when the defaults watch less than the version it had", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "detectors:\n  personal-fork:\n    public_sources: true\n", T0 - MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(404, { message: "Not Found" }).get(FILE_PATH).reply(404, { message: "Not Found" });
    await expect(t.service.get("acme", 7)).resolves.toEqual(defaultConfig());
    t.service.invalidate("acme");
    await t.service.get("acme", 7);
    expect(changes(t)).toHaveLength(1);
    expect(changes(t)[0]!.body).toContain("`detectors.personal-fork.public_sources` turned off");
    expect((await t.storage.notices.goodConfig("acme"))?.yaml).toBe("");
    expect(scope.isDone()).toBe(true);
  });

  it("uses a version whose notice could not be stored, but does not save it, so the next read announces it again", async () => {
    const t = setup({ failReports: 1 });
    await t.storage.notices.saveGoodConfig("acme", "mode: alert\n", T0 - MINUTE);
    const scope = nock(API).get(FILE_PATH).twice().reply(200, file("mode: dry-run\n"));
    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    expect(changes(t)).toEqual([]);
    expect((await t.storage.notices.goodConfig("acme"))?.yaml).toBe("mode: alert\n");
    t.advance(MINUTE + 1);
    await t.service.get("acme", 7);
    expect(changes(t)).toHaveLength(1);
    expect((await t.storage.notices.goodConfig("acme"))?.yaml).toBe("mode: dry-run\n");
    expect(scope.isDone()).toBe(true);
  });

  it("keeps a push that arrives while an older read is under way for the read that follows it", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: alert\n", T0 - MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(200, file("mode: alert\n")).get(FILE_PATH).reply(200, file("mode: dry-run\n"));
    const stale = t.service.get("acme", 7);
    t.service.pushed("acme", push("mallory", SHA_A));
    await stale;
    await t.service.get("acme", 7);
    expect(changes(t).map((n) => n.title)).toEqual([".github/exfil-monitor.yml changed: it now watches less (pushed by mallory)"]);
    expect(scope.isDone()).toBe(true);
  });

  it("keeps a weakened version in force when a broken file follows, and says so in the error notice", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "mode: alert\n", T0 - MINUTE);
    const scope = nock(API)
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\nallow:\n  repos: [secret-sauce]\n"))
      .get(FILE_PATH)
      .reply(200, file("mode: dry-run\nallow:\n  repos: [secret-sauce]\n  actorz: [x]\n"));
    t.service.pushed("acme", push("mallory", SHA_A));
    await t.service.get("acme", 7);
    t.service.pushed("acme", push("mallory", SHA_B));
    const during = await t.service.get("acme", 7);
    expect(during.mode).toBe("dry-run");
    expect(t.notices.map((n) => n.key.split(":")[0])).toEqual(["config-change", "config"]);
    const error = t.notices[1]!;
    expect(error.body).toContain("That version **watches less than the defaults** (this was announced when it took effect)");
    expect(error.body).toContain("- `mode` changed from `alert` to `dry-run`");
    expect(error.body).toContain("- `allow.repos`: `secret-sauce` added");
    expect(scope.isDone()).toBe(true);
  });
});

describe("ConfigService change notices and mentions", () => {
  it("mentions those the replaced version told as well as those the new one tells", async () => {
    const t = setup();
    await t.storage.notices.saveGoodConfig("acme", "alerts:\n  mention: [acme/security, '@Alice']\n", T0 - MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(200, file("alerts:\n  mention: [alice, mallory]\n"));
    await t.service.get("acme", 7);
    const [n] = t.notices;
    expect(n!.body).toContain("- `alerts.mention`: `acme/security` removed");
    expect(n!.body.split("\n").at(-1)).toBe("cc @acme/security @Alice @mallory");
    expect(scope.isDone()).toBe(true);
  });
});
