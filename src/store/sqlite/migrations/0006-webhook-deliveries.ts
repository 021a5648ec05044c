// Remembers which body each webhook delivery id came with, so a delivery id seen again with a different body
// is kept as evidence instead of being dropped as an ordinary redelivery. Only a holder of the webhook secret
// (or GitHub itself) can sign such a body, which is exactly why it must not vanish silently.
import type { Migration } from "./index.js";

export const webhookDeliveries: Migration = {
  version: 6,
  name: "webhook-deliveries",
  up: `
    -- sha256 (hex) of the raw request body, the exact bytes the signature covers. NULL for deliveries stored
    -- before this migration, or handed over without their raw body (Probot's receive(), used by tests).
    ALTER TABLE deliveries ADD COLUMN body_sha256 TEXT;

    -- One row per (delivery id, different body): the body as received, both digests, and how often it came.
    CREATE TABLE delivery_conflicts (
      seq INTEGER PRIMARY KEY,
      delivery_id TEXT NOT NULL,
      name TEXT NOT NULL,
      action TEXT,
      installation_id INTEGER,
      first_body_sha256 TEXT NOT NULL,
      body_sha256 TEXT NOT NULL,
      body_bytes INTEGER NOT NULL,
      body TEXT NOT NULL,
      first_received_at INTEGER NOT NULL,
      last_received_at INTEGER NOT NULL,
      times INTEGER NOT NULL DEFAULT 1,
      UNIQUE (delivery_id, body_sha256)
    ) STRICT;
    CREATE INDEX delivery_conflicts_received ON delivery_conflicts (last_received_at);
  `,
};
