// The one path from normalized events to findings. Webhook intake, the audit-log poller and the sweeps (through
// the runtime's queue), `analyze` and the demo all judge their events here, so the same events are judged the
// same way wherever they came from: one unit of work per batch holding the batch's dedup records, findings and
// detector state together. A batch costs a handful of storage calls (dedup, state and directory loads, state
// write-back) plus one per finding; the detectors themselves never wait for the database.
import type { Config } from "../config/schema.js";
import type { Engine } from "../engine/engine.js";
import type { OrgEvent } from "../events/types.js";
import type { RecordedFinding, Storage } from "../store/storage.js";

export interface JudgeItem {
  event: OrgEvent;
  config: Config;
}

export interface JudgeOptions {
  /** The storage, or the unit of work the batch joins (webhook intake records its deliveries in the same one). */
  storage: Storage;
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

export async function judgeBatch(items: readonly JudgeItem[], opts: JudgeOptions): Promise<JudgeResult> {
  const { engine } = opts;
  const result: JudgeResult = { judged: 0, duplicates: 0, recorded: [] };
  // Rolled back: the state the engine changed in memory for this batch was never stored. Dropped before any
  // other unit of work starts, so no later batch judges with it.
  const onRollback = () => engine.forget();
  await opts.storage.unitOfWork(
    async (tx) => {
      const events = items.map((i) => i.event);
      const fresh =
        opts.record === "seen"
          ? await tx.events.markSeen(events)
          : opts.record === "stored"
            ? await tx.events.add(events, { processed: true })
            : events.map(() => true);
      const todo = items.filter((_, i) => fresh[i]);
      result.duplicates = items.length - todo.length;
      await engine.prepare(
        tx,
        todo.map((i) => i.event),
      );
      for (const { event, config } of todo) {
        try {
          for (const c of engine.process(event, config)) result.recorded.push(await engine.record(tx, c, event));
        } catch (err) {
          opts.onEventError(event, err);
        }
        result.judged++;
      }
      if (opts.record === "queued") await tx.events.markProcessed(events.map((e) => e.id));
      await engine.writeBack(tx, opts.expireStateBefore);
    },
    { onRollback },
  );
  return result;
}
