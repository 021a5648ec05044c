// The one event shape every detector reads. Webhook payloads (from-webhook.ts) and audit-log entries
// (from-audit-log.ts) are both converted into it, so the same detectors run live, on the polled audit log
// and in the offline CLI, and the same incident seen through two channels produces the same fingerprint.

export type Visibility = "public" | "private" | "internal";

export type EventSource = "webhook" | "audit-log" | "sweep";

/**
 * Facts specific to one action. Every key is optional: a converter fills what its source tells and leaves
 * the rest out, and detectors treat a missing key as "unknown", never as false.
 */
export interface EventDetails {
  /** Visibility before the change (repo.access, repository.publicized). */
  previousVisibility?: Visibility | null;

  /** fork: the new fork's full name, its owner and the owner's account type (User, Organization). */
  forkFullName?: string;
  forkOwner?: string;
  forkOwnerType?: string;

  /** deploy_key / public_key: title, numeric id, SHA256 fingerprint, and whether it is read-only. */
  keyTitle?: string;
  keyId?: number;
  keyFingerprint?: string;
  keyReadOnly?: boolean | null;

  /** member / collaborator changes: the user acted upon and the permission granted. */
  user?: string;
  permission?: string | null;
  /** Whether `user` belongs to the org; null when it could not be learned. */
  userIsOrgMember?: boolean | null;

  /** push: the ref, the repo's default branch, and what happened to the ref. */
  ref?: string;
  defaultBranch?: string;
  forced?: boolean;
  deleted?: boolean;
  created?: boolean;
  before?: string;
  after?: string;
  commitCount?: number;
  /** push: distinct commit-author emails in the push. */
  authorEmails?: string[];

  /** repo transfers: where the repository went. */
  newOwner?: string;
  newOwnerType?: string;

  /** hook.create and similar: the target URL. */
  hookUrl?: string;

  /** Free-form extra facts worth showing as evidence. Values are shown inert. */
  extra?: Record<string, string | number | boolean | null>;
}

export interface OrgEvent {
  /**
   * Unique and stable across redelivery: `webhook:<X-GitHub-Delivery>` (with `#n` when one delivery yields
   * several events) or `audit:<_document_id>`. The store deduplicates on it.
   */
  id: string;
  source: EventSource;
  /**
   * Normalized action. Audit-log vocabulary wherever GitHub has one (`repo.access`, `git.clone`,
   * `public_key.create`, `repo.add_member`); webhook-only facts use `fork`, `push`, `deploy_key.created`,
   * `member.added`, `repository.publicized`, and so on. Plain text on purpose: an audit log names hundreds
   * of actions nobody reads and they pass through. The names anything reads are catalogued in actions.ts
   * (`KnownAction`); compare through its helpers so that a misspelt name fails to compile.
   */
  action: string;
  /** Epoch milliseconds. */
  at: number;
  /** Org login the event belongs to (lower-case is NOT applied: GitHub logins keep their case). */
  org: string | null;
  /**
   * Slug of the enterprise that owns the org, when the source names one (audit-log `business`). Only
   * `analyze` reads it, to add up one enterprise's orgs (see engine/scope.ts); absent means unknown.
   */
  business?: string | null;
  actor: string | null;
  actorId: number | null;
  /** True for bots and GitHub App server-to-server tokens: they are excluded by the behavioural detectors. */
  actorIsBot: boolean;
  /** `owner/name` of the repository concerned, when there is one. */
  repo: string | null;
  /** Visibility of `repo` as of this event, when known. */
  visibility: Visibility | null;
  /** ISO 3166-1 alpha-2, upper-case; only the audit log carries it. */
  country: string | null;
  ip: string | null;
  /** `hashed_token` of the credential used, when the audit log names one. */
  token: string | null;
  /** `programmatic_access_type`, for example "OAuth access token" or "GitHub App server-to-server token". */
  tokenType: string | null;
  /** GitHub App installation the event came through; null offline. */
  installationId: number | null;
  details: EventDetails;
}
