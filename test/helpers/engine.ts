// Builds an engine over an in-memory store for detector and engine tests, with a fixed clock and events
// that need only the fields a test cares about.
import { configSchema, type Config, type ConfigInput } from "../../src/config/schema.js";
import { Engine } from "../../src/engine/engine.js";
import type { OrgEvent } from "../../src/events/types.js";
import { MEMORY } from "../../src/store/open.js";
import { Store } from "../../src/store/store.js";

/** 2026-10-02T10:00:00Z: the fixed "now" of every test. */
export const T0 = Date.UTC(2026, 9, 2, 10, 0, 0);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

let counter = 0;

/** An event with safe defaults; pass only what the test is about. */
export function makeEvent(partial: Partial<OrgEvent> & { action: string }): OrgEvent {
  counter += 1;
  return {
    id: `test:${counter}`,
    source: "audit-log",
    at: T0,
    org: "acme",
    actor: "mallory",
    actorId: 1001,
    actorIsBot: false,
    repo: null,
    visibility: null,
    country: null,
    ip: null,
    token: null,
    tokenType: null,
    installationId: null,
    details: {},
    ...partial,
  };
}

export function makeConfig(input: ConfigInput = {}): Config {
  return configSchema.parse(input);
}

/** An engine on a fresh in-memory store; `run` processes events in order and returns what they recorded. */
export function makeEngine(input: ConfigInput = {}) {
  const store = Store.open(MEMORY);
  const config = makeConfig(input);
  const errors: unknown[] = [];
  const engine = new Engine({ store, now: () => T0, log: { error: (obj) => errors.push(obj) } });
  return {
    store,
    config,
    engine,
    errors,
    run(...events: OrgEvent[]) {
      return events.flatMap((e) => {
        store.addEvent(e, true);
        return engine.process(e, config);
      });
    },
    /** Findings of one detector currently in the store. */
    findings(detector?: string) {
      return store.listFindings().filter((f) => detector === undefined || f.detector === detector);
    },
  };
}
