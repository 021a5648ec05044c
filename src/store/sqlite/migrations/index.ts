// Numbered, append-only migrations. Each runs in one transaction together with its `user_version` bump;
// never edit one that has shipped: add the next number instead.
import { initial } from "./0001-initial.js";
import { alerts } from "./0002-alerts.js";
import { auditLog } from "./0003-audit-log.js";
import { sweeps } from "./0004-sweeps.js";
import { orgScope } from "./0005-org-scope.js";
import { webhookDeliveries } from "./0006-webhook-deliveries.js";
import { noticeRepo } from "./0007-notice-repo.js";
import { seenEvents } from "./0008-seen-events.js";

export interface Migration {
  version: number;
  name: string;
  /** SQL run with `db.exec`. */
  up: string;
}

export const MIGRATIONS: readonly Migration[] = [initial, alerts, auditLog, sweeps, orgScope, webhookDeliveries, noticeRepo, seenEvents];
