// Keys findings and detector state by scope (engine/scope.ts): before this, the same login's clones in two
// orgs added up to one finding that named both orgs' repositories and was filed in one org's alerts
// repository. Findings keep their ids, evidence and issue links; their scope is their org's. Detector state
// carried no org: in a database that only ever saw one org it is that org's and is kept; where several orgs
// were mixed it cannot be split and is dropped (windows refill within their length, baselines relearn).
import type { Migration } from "./index.js";

export const orgScope: Migration = {
  version: 5,
  name: "org-scope",
  up: `
    CREATE TABLE findings_v5 (
      id INTEGER PRIMARY KEY,
      scope TEXT NOT NULL,
      fingerprint TEXT NOT NULL,
      detector TEXT NOT NULL,
      subject TEXT NOT NULL,
      org TEXT,
      -- Every org whose events the finding holds, as a JSON array: one org, except in an enterprise export.
      orgs TEXT NOT NULL DEFAULT '[]',
      installation_id INTEGER,
      severity TEXT NOT NULL,
      summary TEXT NOT NULL,
      actor TEXT,
      repos TEXT NOT NULL,
      first_seen INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      count INTEGER NOT NULL,
      raised_reason TEXT,
      actor_checked INTEGER NOT NULL DEFAULT 0,
      issue_repo TEXT,
      issue_number INTEGER,
      filed_seq INTEGER NOT NULL DEFAULT 0,
      filing_started_at INTEGER,
      last_error TEXT,
      created_at INTEGER NOT NULL,
      held_seq INTEGER,
      dry_run_seq INTEGER NOT NULL DEFAULT 0,
      UNIQUE (scope, fingerprint)
    ) STRICT;
    INSERT INTO findings_v5 (id, scope, fingerprint, detector, subject, org, orgs, installation_id, severity, summary,
      actor, repos, first_seen, last_seen, count, raised_reason, actor_checked, issue_repo, issue_number, filed_seq,
      filing_started_at, last_error, created_at, held_seq, dry_run_seq)
    SELECT id, 'org:' || lower(coalesce(org, '')), fingerprint, detector, subject, org,
      CASE WHEN org IS NULL OR org = '' THEN '[]' ELSE json_array(org) END, installation_id, severity, summary,
      actor, repos, first_seen, last_seen, count, raised_reason, actor_checked, issue_repo, issue_number, filed_seq,
      filing_started_at, last_error, created_at, held_seq, dry_run_seq
    FROM findings;

    CREATE TABLE evidence_v5 (
      seq INTEGER PRIMARY KEY,
      finding_id INTEGER NOT NULL REFERENCES findings_v5 (id),
      event_id TEXT NOT NULL,
      at INTEGER NOT NULL,
      source TEXT NOT NULL,
      severity TEXT NOT NULL,
      summary TEXT NOT NULL,
      data TEXT NOT NULL,
      digest TEXT NOT NULL,
      UNIQUE (finding_id, event_id)
    ) STRICT;
    INSERT INTO evidence_v5 SELECT seq, finding_id, event_id, at, source, severity, summary, data, digest FROM evidence;

    -- Children first, so no foreign key ever points at a missing row; renaming findings_v5 rewrites the
    -- reference in evidence_v5.
    DROP TABLE evidence;
    DROP TABLE findings;
    ALTER TABLE findings_v5 RENAME TO findings;
    ALTER TABLE evidence_v5 RENAME TO evidence;
    CREATE INDEX findings_org ON findings (org, last_seen);
    CREATE INDEX findings_held ON findings (org) WHERE held_seq IS NOT NULL;
    CREATE INDEX findings_unfiled ON findings (id) WHERE issue_number IS NULL;
    CREATE INDEX evidence_digest ON evidence (finding_id, digest);

    CREATE TABLE detector_state_v5 (
      scope TEXT NOT NULL,
      detector TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (scope, detector, key)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO detector_state_v5 (scope, detector, key, value, expires_at)
    SELECT only.scope, s.detector, s.key, s.value, s.expires_at
    FROM detector_state s,
      (SELECT 'org:' || coalesce(max(o), '') AS scope FROM (
         SELECT DISTINCT lower(org) AS o FROM (
           SELECT org FROM findings UNION ALL SELECT org FROM events UNION ALL SELECT org FROM members
           UNION ALL SELECT org FROM audit_log_positions UNION ALL SELECT org FROM org_config
           UNION ALL SELECT org FROM repo_inventory)
         WHERE org IS NOT NULL AND org <> '')
       HAVING count(*) <= 1) AS only;
    DROP TABLE detector_state;
    ALTER TABLE detector_state_v5 RENAME TO detector_state;
  `,
};
