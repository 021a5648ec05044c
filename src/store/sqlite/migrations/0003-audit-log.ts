// Where the org audit-log poller stands for each org: the newest `created` time read and the entries read
// at that boundary (the `created:>=` query repeats them), when it last succeeded, and whether the org has
// no audit-log API (not GitHub Enterprise Cloud, or the permission is missing) so it is skipped until the
// daily recheck.
import type { Migration } from "./index.js";

export const auditLog: Migration = {
  version: 3,
  name: "audit-log",
  up: `
    CREATE TABLE audit_log_positions (
      org TEXT PRIMARY KEY COLLATE NOCASE,
      installation_id INTEGER,
      created_at INTEGER,
      boundary_ids TEXT NOT NULL DEFAULT '[]',
      last_success_at INTEGER,
      unavailable_at INTEGER,
      unavailable_reason TEXT,
      gap_notice TEXT,
      updated_at INTEGER NOT NULL
    ) STRICT;
  `,
};
