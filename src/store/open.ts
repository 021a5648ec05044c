// Where the rest of the app gets its storage: the one place that picks a backend. Only SQLite exists so far
// (a file path, or ":memory:"); everything outside src/store sees the Storage interface and nothing else.
import { MEMORY } from "./sqlite/open.js";
import { openSqliteStorage, type SqliteStorageOptions } from "./sqlite/storage.js";
import type { Storage } from "./storage.js";

export { MEMORY };

export interface OpenStorageOptions {
  /** SQLite: checkpoint the WAL in a worker thread (the long-running app) or inline (the CLI). */
  checkpoints?: SqliteStorageOptions["checkpoints"];
}

/** Opens (and migrates) the storage at `location`: a SQLite file path, or ":memory:". */
export function openStorage(location: string, opts: OpenStorageOptions = {}): Storage {
  return openSqliteStorage(location, opts);
}
