// The one path from normalized events to findings. Webhook intake, the audit-log poller and the sweeps (through
// the runtime's queue), `analyze` and the demo all judge their events here, so the same events are judged the
// same way wherever they came from: one transaction per batch holding the batch's dedup records, findings and
// detector state together.
import type { Config } from "../config/schema.js";
import type { Engine } from "../engine/engine.js";
import type { OrgEvent } from "../events/types.js";
import type { RecordedFinding, Store } from "../store/store.js";

export interface JudgeItem {
  event: OrgEvent;
  config: Config;
}

export interface JudgeOptions {
  store: Store;
  engine: Engine;
  /**
   * How an event is known as judged. `queued`: it was stored on arrival (the app's queue, which survives a
   * crash) and is marked processed. `stored`: it is stored now, already judged (webhook intake judging in its
   * own transaction). `seen`: it is recorded now by id and time only (`analyze`, the demo). With `stored` and
   * `seen`, an id recorded before is a duplicate and is not judged again.
   */
  record: "queued" | "stored" | "seen";
  /** Detector state that expired before this time is dropped in the same transaction. */
  expireStateBefore?: number;
  /**
   * An event whose judging threw (a store error, a bug). Return to skip it and go on (the app: a poison event
   * must not block its queue); throw to abandon the whole batch (`analyze`: a failing database ends the run).
   */
  onEventError(event: OrgEvent, err: unknown): void;
}

export interface JudgeResult {
  /** Events run through the detectors. */
  judged: number;
  /** Events judged before (`seen` only). */
  duplicates: number;
  /** Findings that events of this batch recorded, in order (a finding may appear more than once). */
  recorded: RecordedFinding[];
}

export function judgeBatch(items: readonly JudgeItem[], opts: JudgeOptions): JudgeResult {
  const { store, engine } = opts;
  const result: JudgeResult = { judged: 0, duplicates: 0, recorded: [] };
  store.transaction(() => {
    for (const { event, config } of items) {
      const fresh =
        opts.record === "seen" ? store.markSeen(event.id, event.at) : opts.record === "stored" ? store.addEvent(event, true) : true;
      if (!fresh) {
        result.duplicates++;
        continue;
      }
      try {
        result.recorded.push(...engine.process(event, config));
      } catch (err) {
        opts.onEventError(event, err);
      }
      result.judged++;
      if (opts.record === "queued") store.markProcessed(event.id);
    }
    store.flushState(opts.expireStateBefore);
  });
  return result;
}
