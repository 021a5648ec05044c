// The first schema: deliveries, normalized events, findings with their evidence, detector state, what the
// app learned about members and accounts, and the config-error reports.
import type { Migration } from "./index.js";

export const initial: Migration = {
  version: 1,
  name: "initial",
  up: `
    CREATE TABLE deliveries (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      action TEXT,
      installation_id INTEGER,
      received_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE events (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      source TEXT NOT NULL,
      action TEXT NOT NULL,
      at INTEGER NOT NULL,
      org TEXT,
      actor TEXT,
      repo TEXT,
      installation_id INTEGER,
      body TEXT NOT NULL,
      processed INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX events_pending ON events (seq) WHERE processed = 0;

    CREATE TABLE findings (
      id INTEGER PRIMARY KEY,
      fingerprint TEXT NOT NULL UNIQUE,
      detector TEXT NOT NULL,
      subject TEXT NOT NULL,
      org TEXT,
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
      created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX findings_org ON findings (org, last_seen);

    CREATE TABLE evidence (
      seq INTEGER PRIMARY KEY,
      finding_id INTEGER NOT NULL REFERENCES findings (id),
      event_id TEXT NOT NULL,
      at INTEGER NOT NULL,
      source TEXT NOT NULL,
      severity TEXT NOT NULL,
      summary TEXT NOT NULL,
      data TEXT NOT NULL,
      digest TEXT NOT NULL,
      UNIQUE (finding_id, event_id)
    ) STRICT;
    CREATE INDEX evidence_digest ON evidence (finding_id, digest);

    CREATE TABLE detector_state (
      detector TEXT NOT NULL,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      PRIMARY KEY (detector, key)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE members (
      org TEXT NOT NULL COLLATE NOCASE,
      login TEXT NOT NULL COLLATE NOCASE,
      is_member INTEGER NOT NULL,
      joined_at INTEGER,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (org, login)
    ) STRICT;

    CREATE TABLE accounts (
      login TEXT PRIMARY KEY COLLATE NOCASE,
      created_at INTEGER,
      checked_at INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE config_reports (
      org TEXT NOT NULL COLLATE NOCASE,
      problem_hash TEXT NOT NULL,
      issue_number INTEGER,
      reported_at INTEGER NOT NULL,
      PRIMARY KEY (org, problem_hash)
    ) STRICT;

    CREATE TABLE org_config (
      org TEXT PRIMARY KEY COLLATE NOCASE,
      good_yaml TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    ) STRICT;
  `,
};
