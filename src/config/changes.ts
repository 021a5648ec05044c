// What changed between two configs, setting by setting, and whether each change reduces what exfil-monitor
// watches. The direction of every setting is declared beside it (see domain/watch.ts), so this walks the schema
// instead of naming settings: a setting added later is compared like the others.
import { inert } from "../text/inert.js";
import { configSchema, type Config } from "./schema.js";
import { watches, type WatchEffect } from "../domain/watch.js";

export interface ConfigChange {
  /** Dotted key path, e.g. `detectors.mass-clone.high_more_than_repos`. */
  path: string;
  /** True when the change reduces what is watched or who hears of it. */
  weaker: boolean;
  /** The change in plain words, markdown with every value shown inert. */
  words: string;
}

export interface WatchedSetting {
  path: string[];
  /** What the schema holds there (`number`, `boolean`, `array`, `enum`, `string`, ...). */
  type: string;
  /** The choices, for an `enum`. */
  values?: string[];
  effect: WatchEffect | undefined;
}

interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  shape?: Record<string, Schema>;
  entries?: Record<string, string>;
}
interface Schema {
  _zod: { def: Def };
}

const WRAPPERS = new Set(["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"]);

/** Every setting of the config schema (the leaves under its sections), with its declared direction. */
export function watchedSettings(): WatchedSetting[] {
  const out: WatchedSetting[] = [];
  const visit = (schema: Schema, path: string[]) => {
    let s = schema;
    for (;;) {
      // A declaration sits on the outermost schema of a setting, but look through wrappers too: what counts
      // is that the setting has one.
      const effect = watches.get(s as never);
      const def = s._zod.def;
      if (effect) return void out.push({ path, ...leafType(s), effect });
      if (WRAPPERS.has(def.type) && def.innerType) s = def.innerType;
      else if (def.type === "pipe" && def.in) s = def.in;
      else break;
    }
    const def = s._zod.def;
    if (def.type === "object" && def.shape) {
      for (const [key, child] of Object.entries(def.shape)) visit(child, [...path, key]);
      return;
    }
    out.push({ path, ...leafType(s), effect: undefined });
  };
  visit(configSchema as unknown as Schema, []);
  return out;
}

function leafType(schema: Schema): { type: string; values?: string[] } {
  let s = schema;
  while (WRAPPERS.has(s._zod.def.type) && s._zod.def.innerType) s = s._zod.def.innerType;
  const def = s._zod.def;
  return def.type === "enum" && def.entries ? { type: def.type, values: Object.values(def.entries) } : { type: def.type };
}

function valueAt(config: Config, path: readonly string[]): unknown {
  let v: unknown = config;
  for (const seg of path) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

/** Every setting whose value differs between `before` and `after`; one change per list entry. */
export function configChanges(before: Config, after: Config): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const { path, effect } of watchedSettings()) {
    // watchedSettings() lists undeclared settings too (for the registry test); the test keeps this empty.
    if (!effect) continue;
    changes.push(...compare(path.join("."), effect, valueAt(before, path), valueAt(after, path)));
  }
  return changes;
}

function compare(path: string, effect: WatchEffect, a: unknown, b: unknown): ConfigChange[] {
  const key = `\`${path}\``;
  switch (effect.weaker) {
    case "higher":
    case "lower": {
      if (typeof a !== "number" || typeof b !== "number" || a === b) return [];
      const raised = b > a;
      const weaker = raised === (effect.weaker === "higher");
      return [
        {
          path,
          weaker,
          words: `${key} ${raised ? "raised" : "lowered"} from ${inert(a)} to ${inert(b)} (a ${effect.weaker} value reports less)`,
        },
      ];
    }
    case "off":
    case "on": {
      if (typeof a !== "boolean" || typeof b !== "boolean" || a === b) return [];
      const weaker = b === (effect.weaker === "on");
      const what = path.endsWith(".enabled") ? (b ? "detector turned on" : "detector turned off: it no longer runs") : b ? "turned on" : "turned off";
      return [{ path, weaker, words: `${key} ${what} (was ${inert(a)})` }];
    }
    case "added":
    case "removed": {
      const same = effect.same ?? ((v: string) => v.toLowerCase());
      const before = list(a);
      const after = list(b);
      const had = new Set(before.map(same));
      const has = new Set(after.map(same));
      const out: ConfigChange[] = [];
      for (const v of after) {
        if (had.has(same(v))) continue;
        const allow = path.startsWith("allow.");
        out.push({
          path,
          weaker: effect.weaker === "added",
          words: `${key}: ${inert(v)} added${allow ? " (whatever it matches is no longer reported)" : ""}`,
        });
      }
      for (const v of before) {
        if (has.has(same(v))) continue;
        out.push({ path, weaker: effect.weaker === "removed", words: `${key}: ${inert(v)} removed` });
      }
      return out;
    }
    case "earlier": {
      if (a === b) return [];
      const rank = (v: unknown) => effect.order.indexOf(typeof v === "string" ? v : (effect.unset ?? ""));
      const shown = (v: unknown) => (v === undefined ? "not set" : inert(v));
      const weaker = rank(b) < rank(a);
      const why = path === "mode" && b === "dry-run" ? ": findings are only logged, no issue is filed" : "";
      return [{ path, weaker, words: `${key} changed from ${shown(a)} to ${shown(b)}${why}` }];
    }
    case "changed": {
      if (normalized(a) === normalized(b)) return [];
      return [{ path, weaker: true, words: `${key} changed from ${inert(a)} to ${inert(b)}` }];
    }
  }
}

function list(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Repository names and logins are case-insensitive on GitHub. */
function normalized(v: unknown): string {
  return typeof v === "string" ? v.toLowerCase() : JSON.stringify(v);
}
