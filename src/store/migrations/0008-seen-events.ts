// What `analyze` keeps of each entry it has judged: its id and time, so a second run over an overlapping
// export (streams deliver at least once) counts nothing twice. Not a copy of the entry: the export itself is
// the record, and a re-serialized copy per event was most of what a run wrote.
import type { Migration } from "./index.js";

export const seenEvents: Migration = {
  version: 8,
  name: "seen-events",
  up: `
    CREATE TABLE seen_events (
      id TEXT PRIMARY KEY,
      at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
  `,
};
