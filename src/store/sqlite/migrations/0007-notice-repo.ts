// Where a notice goes when it must not follow `alerts.repo`: the announcement that `alerts.repo` itself was
// changed is filed in the repository it replaced too, where the people who read alerts still look.
import type { Migration } from "./index.js";

export const noticeRepo: Migration = {
  version: 7,
  name: "notice-repo",
  up: `
    -- Repository (in the notice's org) to file the notice in; NULL means the alerts.repo in force.
    ALTER TABLE config_reports ADD COLUMN repo TEXT;
  `,
};
