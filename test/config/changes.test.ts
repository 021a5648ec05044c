// Which config changes reduce what is watched: every setting declares its direction (a registry-wide check,
// so a new setting cannot be left out), and each kind of change is told apart and put in plain words.
import { describe, expect, it } from "vitest";
import { configChanges, watchedSettings, type ConfigChange } from "../../src/config/changes.js";
import { defaultConfig, type Config } from "../../src/config/schema.js";
import { SEVERITIES } from "../../src/domain/severity.js";

/** The defaults with `path` set to `value`. */
function withValue(path: readonly string[], value: unknown): Config {
  const config = defaultConfig() as unknown as Record<string, unknown>;
  let node = config;
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
  return config as unknown as Config;
}

function valueAt(path: readonly string[]): unknown {
  let v: unknown = defaultConfig();
  for (const seg of path) v = (v as Record<string, unknown>)[seg];
  return v;
}

const settings = watchedSettings();
const key = (s: { path: string[] }) => s.path.join(".");

describe("every config setting", () => {
  it("is listed: the global keys and every key of every detector", () => {
    const paths = settings.map(key);
    expect(paths).toEqual(expect.arrayContaining(["mode", "alerts.repo", "alerts.min_severity", "allow.actors", "audit_log.poll_minutes"]));
    expect(paths).toEqual(expect.arrayContaining(["detectors.mass-clone.enabled", "detectors.mass-clone.severity", "detectors.mass-clone.high_more_than_repos"]));
    expect(paths.length).toBeGreaterThan(40);
  });

  it.each(settings.map((s) => [key(s), s] as const))("%s declares which way watches less, fitting its type", (_, s) => {
    const effect = s.effect;
    expect(effect, `declare it with .register(watches, { weaker: ... }) as the last call on its schema`).toBeDefined();
    if (!effect) return;
    const fits: Record<string, string[]> = {
      number: ["higher", "lower"],
      boolean: ["off", "on"],
      array: ["added", "removed", "changed"],
      enum: ["earlier", "changed"],
      string: ["changed"],
    };
    expect(fits[s.type], `no direction is known for a ${s.type} setting`).toContain(effect.weaker);
    if (effect.weaker === "earlier") {
      // Every choice has a place, so no value compares as "unknown".
      expect([...effect.order].sort()).toEqual([...(s.values ?? [])].sort());
      if (effect.unset !== undefined) expect(effect.order).toContain(effect.unset);
    }
  });

  it("counts a move in its declared direction as watching less, and the opposite move as not", () => {
    for (const s of settings) {
      const effect = s.effect!;
      const now = valueAt(s.path);
      let looser: unknown;
      let tighter: unknown;
      switch (effect.weaker) {
        case "higher":
        case "lower": {
          const n = now as number;
          const up = n * 2 + 1;
          const down = n / 2;
          [looser, tighter] = effect.weaker === "higher" ? [up, down] : [down, up];
          break;
        }
        case "off":
        case "on":
          [looser, tighter] = effect.weaker === "off" ? [false, true] : [true, false];
          break;
        case "added":
          [looser, tighter] = [[...(now as string[]), "added-entry"], []];
          break;
        case "removed":
          [looser, tighter] = [[], [...(now as string[]), "added-entry"]];
          break;
        case "earlier":
          [looser, tighter] = [effect.order[0], effect.order[effect.order.length - 1]];
          break;
        case "changed":
          [looser, tighter] = [`${String(now)}-elsewhere`, now];
          break;
      }
      const from = withValue(s.path, tighter);
      const to = withValue(s.path, looser);
      const weaker = configChanges(from, to);
      expect(weaker.length, key(s)).toBeGreaterThan(0);
      expect(weaker.every((c) => c.weaker && c.path === key(s)), key(s)).toBe(true);
      if (effect.weaker !== "changed") {
        const back = configChanges(to, from);
        expect(back.length, key(s)).toBeGreaterThan(0);
        expect(back.some((c) => c.weaker), key(s)).toBe(false);
      }
    }
  });
});

describe("configChanges", () => {
  const base = defaultConfig();
  const words = (changes: ConfigChange[]) => changes.map((c) => [c.weaker, c.words]);

  it("finds nothing between equal configs", () => {
    expect(configChanges(base, defaultConfig())).toEqual([]);
  });

  it("puts the changes the issue names in plain words", () => {
    const after = structuredClone(base);
    after.mode = "dry-run";
    after.allow.actors = ["deploy-bot"];
    after.alerts.min_severity = "high";
    after.alerts.repo = "quiet-place";
    after.detectors["new-country"]!.enabled = false;
    after.detectors["mass-clone"]!.severity = "low";
    after.detectors["mass-clone"]!.high_more_than_repos = 50;
    after.detectors["multi-country"]!.window_hours = 1;
    expect(words(configChanges(base, after))).toEqual([
      [true, "`mode` changed from `alert` to `dry-run`: findings are only logged, no issue is filed"],
      [true, "`alerts.repo` changed from `security-alerts` to `quiet-place`"],
      [true, "`alerts.min_severity` changed from `low` to `high`"],
      [true, "`allow.actors`: `deploy-bot` added (whatever it matches is no longer reported)"],
      [true, "`detectors.mass-clone.severity` changed from not set to `low`"],
      [true, "`detectors.mass-clone.high_more_than_repos` raised from `5` to `50` (a higher value reports less)"],
      [true, "`detectors.multi-country.window_hours` lowered from `2` to `1` (a lower value reports less)"],
      [true, "`detectors.new-country.enabled` detector turned off: it no longer runs (was `true`)"],
    ]);
  });

  it("does not count tightening as watching less", () => {
    const before = structuredClone(base);
    before.allow.actors = ["deploy-bot", "old-bot"];
    before.alerts.min_severity = "high";
    const after = structuredClone(before);
    after.allow.actors = ["deploy-bot"];
    after.alerts.min_severity = "medium";
    after.detectors["mass-clone"]!.severity = "critical";
    after.detectors["personal-fork"]!.public_sources = true;
    expect(configChanges(before, after).filter((c) => c.weaker)).toEqual([]);
    expect(configChanges(before, after)).toHaveLength(4);
  });

  it("compares names as GitHub does: case, order and a leading @ change nothing", () => {
    const before = structuredClone(base);
    before.alerts.mention = ["acme/security", "Alice"];
    before.alerts.repo = "Security-Alerts";
    before.allow.actors = ["Deploy-Bot"];
    const after = structuredClone(before);
    after.alerts.mention = ["alice", "@ACME/security"];
    after.alerts.repo = "security-alerts";
    after.allow.actors = ["deploy-bot"];
    expect(configChanges(before, after)).toEqual([]);
  });

  it("counts a removed mention as watching less, and an added one as not", () => {
    const before = structuredClone(base);
    before.alerts.mention = ["acme/security"];
    const after = structuredClone(base);
    after.alerts.mention = ["mallory"];
    expect(words(configChanges(before, after))).toEqual([
      [false, "`alerts.mention`: `mallory` added"],
      [true, "`alerts.mention`: `acme/security` removed"],
    ]);
  });

  it("shows attacker-chosen values inert", () => {
    const after = structuredClone(base);
    after.allow.actors = ["@everyone`<img src=x>`|"];
    const [change] = configChanges(base, after);
    expect(change?.words).toBe("`allow.actors`: `@everyoneˋ<img src=x>ˋ\\|` added (whatever it matches is no longer reported)");
  });

  it("orders severities by what is filed: raising min_severity or lowering a fixed severity watches less", () => {
    for (const [i, s] of SEVERITIES.entries()) {
      const raised = structuredClone(base);
      raised.alerts.min_severity = s;
      expect(configChanges(base, raised).some((c) => c.weaker), s).toBe(i > 0);
      const fixed = structuredClone(base);
      fixed.detectors["personal-fork"]!.severity = s;
      expect(configChanges(base, fixed).some((c) => c.weaker), s).toBe(s !== "critical");
    }
  });
});
