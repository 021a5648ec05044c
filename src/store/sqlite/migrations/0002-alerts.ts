// Bookkeeping of the alerts dispatcher: findings held back by `alerts.min_severity` (so they are not
// re-examined on every flush until new evidence arrives or the threshold drops), what dry-run mode has
// already logged, and the text of notices that could not be filed yet (kept so they are retried).
import type { Migration } from "./index.js";

export const alerts: Migration = {
  version: 2,
  name: "alerts",
  up: `
    -- Evidence seq at which the finding was held below alerts.min_severity; NULL when not held.
    ALTER TABLE findings ADD COLUMN held_seq INTEGER;
    -- Evidence seq up to which dry-run mode has logged what it would file.
    ALTER TABLE findings ADD COLUMN dry_run_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX findings_held ON findings (org) WHERE held_seq IS NOT NULL;
    CREATE INDEX findings_unfiled ON findings (id) WHERE issue_number IS NULL;

    -- config_reports doubles as the notices table: a row with a body and no issue number is pending.
    ALTER TABLE config_reports ADD COLUMN installation_id INTEGER;
    ALTER TABLE config_reports ADD COLUMN title TEXT;
    ALTER TABLE config_reports ADD COLUMN body TEXT;
    ALTER TABLE config_reports ADD COLUMN last_error TEXT;
  `,
};
