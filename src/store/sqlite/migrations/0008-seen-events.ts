// What `analyze` keeps of each entry it has judged: its id and time, so a second run over an overlapping
// export (streams deliver at least once) counts nothing twice. Not a copy of the entry: the export itself is
// the record, and a re-serialized copy per event was most of what a run wrote.
import type { Migration } from "./index.js";

export const seenEvents: Migration = {
  version: 8,
  name: "seen-events",
  up: `
    -- Keyed by time first: an export is read oldest first, so each insert lands at the end of the index
    -- instead of at a random place (GitHub's document ids are random). The same entry always has the same
    -- time, so (at, id) deduplicates exactly as id alone would.
    CREATE TABLE seen_events (
      at INTEGER NOT NULL,
      id TEXT NOT NULL,
      PRIMARY KEY (at, id)
    ) STRICT, WITHOUT ROWID;
  `,
};
