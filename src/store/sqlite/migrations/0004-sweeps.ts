// What the periodic sweeps remember between runs: the org's repository inventory (so a repository that
// vanishes without any event reaching the app is noticed) and small per-sweep records such as the ETags of
// conditional requests and the last org settings seen.
import type { Migration } from "./index.js";

export const sweeps: Migration = {
  version: 4,
  name: "sweeps",
  up: `
    -- One row per repository ever listed for the org, keyed by GitHub's numeric id so a rename is not a loss.
    -- gone_at is set when a sweep no longer lists it; the row is kept as evidence of what existed.
    CREATE TABLE repo_inventory (
      org TEXT NOT NULL COLLATE NOCASE,
      repo_id INTEGER NOT NULL,
      node_id TEXT,
      full_name TEXT NOT NULL,
      visibility TEXT,
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      gone_at INTEGER,
      PRIMARY KEY (org, repo_id)
    ) STRICT;
    CREATE INDEX repo_inventory_gone ON repo_inventory (org, gone_at) WHERE gone_at IS NOT NULL;

    -- Free-form JSON record per sweep and org (ETags, page count, last values), keyed like "inventory:acme".
    CREATE TABLE sweep_state (
      key TEXT PRIMARY KEY,
      value TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;
  `,
};
