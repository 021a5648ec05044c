// Opens the SQLite database in exactly one place, with the pragmas the app relies on, and brings its schema
// up to date. A database written by a newer version of exfil-monitor is refused rather than guessed at.
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations/index.js";

export type Db = Database.Database;

export const MEMORY = ":memory:";

export function openDatabase(file: string): Db {
  if (file !== MEMORY) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  try {
    if (file !== MEMORY) {
      db.pragma("journal_mode = WAL");
      // After a burst has grown the WAL, it is cut back to this size once checkpointed, not kept at its peak.
      db.pragma("journal_size_limit = 67108864");
    }
    // NORMAL with WAL survives a process crash (kill -9): only an OS crash can lose the last commits.
    db.pragma("synchronous = NORMAL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma("user_version", { simple: true }) as number;
}

export function migrate(db: Db): void {
  const latest = MIGRATIONS.at(-1)?.version ?? 0;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new Error(
      `The database is at schema version ${current}, newer than this exfil-monitor (${latest}). ` +
        "Upgrade exfil-monitor, or point DATABASE_PATH at another file.",
    );
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.up);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
