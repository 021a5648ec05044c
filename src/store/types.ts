// The rows the storage layer hands out, the same for every backend.
import type { Severity } from "../domain/severity.js";
import type { Visibility } from "../events/types.js";

export interface DeliveryRecord {
  id: string;
  name: string;
  action: string | null;
  installationId: number | null;
  receivedAt: number;
  /** sha256 (hex) of the raw request body; absent when the raw body is not known (Probot's receive()). */
  bodySha256?: string | null;
}

/** A delivery id seen again with a different body (migration 0006): kept as evidence, never processed. */
export interface DeliveryConflict {
  deliveryId: string;
  name: string;
  action: string | null;
  installationId: number | null;
  firstBodySha256: string;
  bodySha256: string;
  bodyBytes: number;
  body: string;
  firstReceivedAt: number;
  lastReceivedAt: number;
  times: number;
}

export interface FindingRow {
  id: number;
  /** What the finding may add up: `org:<login>`, or `business:<slug>` in an enterprise export (engine/scope.ts). */
  scope: string;
  /** `<detector>:<subject>`; unique within its scope. */
  fingerprint: string;
  detector: string;
  subject: string;
  org: string | null;
  /** Every org whose events it holds (one, except in an enterprise export). */
  orgs: string[];
  installationId: number | null;
  severity: Severity;
  summary: string;
  actor: string | null;
  repos: string[];
  firstSeen: number;
  lastSeen: number;
  count: number;
  raisedReason: string | null;
  actorChecked: boolean;
  issueRepo: string | null;
  issueNumber: number | null;
  filedSeq: number;
  filingStartedAt: number | null;
  lastError: string | null;
  createdAt: number;
}

export interface EvidenceRow {
  seq: number;
  findingId: number;
  eventId: string;
  at: number;
  source: string;
  severity: Severity;
  summary: string;
  data: Record<string, string | number | boolean | null>;
}

export interface RecordedFinding {
  finding: FindingRow;
  /** The finding did not exist before this event. */
  isNew: boolean;
  /** This event added evidence (false when the same event had already been counted). */
  added: boolean;
}

/** Where the audit-log poller stands for one org (see migrations/0003-audit-log.ts). */
export interface AuditLogPosition {
  org: string;
  installationId: number | null;
  /** Newest `created` time read (epoch ms); null before the first entry. */
  createdAt: number | null;
  /** `_document_id`s already read whose time falls in the boundary second the next query starts from. */
  boundaryIds: string[];
  lastSuccessAt: number | null;
  /** Set while the org answers that it has no audit-log API; cleared by the first successful poll. */
  unavailableAt: number | null;
  unavailableReason: string | null;
  /** Key of the last gap notice sent, so each gap is reported once. */
  gapNotice: string | null;
}

/** One repository as a sweep lists it. */
export interface InventoryListing {
  id: number;
  nodeId: string | null;
  fullName: string;
  visibility: Visibility | null;
}

/** One repository of the stored inventory. */
export interface InventoryRepo extends InventoryListing {
  firstSeen: number;
  lastSeen: number;
  /** When a sweep first found it missing; null while it is listed. */
  goneAt: number | null;
}
