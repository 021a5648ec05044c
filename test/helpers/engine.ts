// Builds an engine over an in-memory storage for detector and engine tests, with a fixed clock and events
// that need only the fields a test cares about.
import { configSchema, type Config, type ConfigInput } from "../../src/config/schema.js";
import { Engine } from "../../src/engine/engine.js";
import type { OrgEvent } from "../../src/events/types.js";
import { judgeBatch } from "../../src/pipeline/judge.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import type { RecordedFinding } from "../../src/store/storage.js";

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

/**
 * An engine on a fresh in-memory storage (or on `file`, to test a restart); `run` judges events in order, each as its own batch through the
 * app's pipeline (as the app's queue does), and returns what they recorded.
 */
export function makeEngine(input: ConfigInput = {}, opts: { file?: string } = {}) {
  const storage = openSqliteStorage(opts.file ?? MEMORY);
  const config = makeConfig(input);
  const errors: unknown[] = [];
  const engine = new Engine({ now: () => T0, log: { error: (obj) => errors.push(obj) } });
  return {
    storage,
    config,
    engine,
    errors,
    async run(...events: OrgEvent[]): Promise<RecordedFinding[]> {
      const out: RecordedFinding[] = [];
      for (const e of events) {
        // Stored, then judged even when its id was judged before: tests feed the same event twice on purpose.
        await storage.events.add([e]);
        const r = await judgeBatch([{ event: e, config }], {
          storage,
          engine,
          record: "queued",
          onEventError: (_event, err) => {
            throw err;
          },
        });
        out.push(...r.recorded);
      }
      return out;
    },
    close: () => storage.close(),
    /** Findings of one detector currently in the storage. */
    async findings(detector?: string) {
      return (await storage.findings.list()).filter((f) => detector === undefined || f.detector === detector);
    },
  };
}
