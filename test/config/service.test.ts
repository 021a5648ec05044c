// ConfigService: per-org cache, the last good config kept in force while the file is broken, one report per
// distinct problem set, and fetch failures that are logged but never reported as config problems.
import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigService, problemSetKey, type ConfigProblemNotice } from "../../src/config/service.js";
import { defaultConfig } from "../../src/config/schema.js";
import { MEMORY } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";
import { MINUTE, T0 } from "../helpers/engine.js";
import { silentLog, testOctokit } from "../helpers/github.js";

const API = "https://api.github.com";
const FILE_PATH = "/repos/acme/.github/contents/.github%2Fexfil-monitor.yml";

function file(text: string) {
  return { type: "file", encoding: "base64", size: text.length, content: Buffer.from(text).toString("base64") };
}

function setup(opts: { failReports?: number } = {}) {
  let failReports = opts.failReports ?? 0;
  let now = T0;
  const store = Store.open(MEMORY);
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
    store,
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
    store,
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
    expect(t.store.lastGoodConfig("acme")).toBe(text);
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
    expect(t.notices).toHaveLength(1);
    const notice = t.notices[0]!;
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
    t.store.saveGoodConfig("acme", "mode: dry-run\n", T0 - 60 * MINUTE);
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
    expect(t.notices).toEqual([]);
    expect(t.logs.some((l) => l.level === "warn" && /could not read acme\/\.github/.test(l.msg ?? ""))).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it("uses the last good config from the store on a fetch error after a restart", async () => {
    const t = setup();
    t.store.saveGoodConfig("acme", "mode: dry-run\n", T0 - 60 * MINUTE);
    const scope = nock(API).get(FILE_PATH).reply(500, { message: "boom" });
    expect((await t.service.get("acme", 7)).mode).toBe("dry-run");
    expect(t.notices).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("never throws, even when no installation token can be had", async () => {
    const store = Store.open(MEMORY);
    const service = new ConfigService({
      store,
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
