// What a finding is, apart from where it is kept: the draft a detector hands the engine, and the fingerprint
// that makes the same incident one finding however it was seen (webhook, audit log, sweep, `analyze`).
import { createHash } from "node:crypto";
import { maxSeverity, type Severity } from "./severity.js";

export interface FindingDraft {
  /**
   * What the incident is about, stable across channels: the fingerprint is `<detector id>:<subject>`, so the
   * same incident seen through a webhook, the audit log and a sweep must build the same subject.
   * Example: `acme/api->mallory/api`.
   */
  subject: string;
  severity: Severity;
  /** One line for the issue title and the CLI. May contain attacker-chosen text: renderers make it inert. */
  summary: string;
  actor: string | null;
  repos: string[];
  /** Facts of this one event for the evidence table (attacker-chosen values allowed; rendered inert). */
  evidence: Record<string, string | number | boolean | null>;
}

/** `<detector id>:<subject>`: unique within a scope (engine/scope.ts), the same across channels. */
export function fingerprintOf(detector: string, subject: string): string {
  return `${detector}:${subject}`;
}

/** What an incident shows, folded from all its evidence: the part of a finding the domain decides. */
export interface FindingFold {
  severity: Severity;
  summary: string;
  actor: string | null;
  repos: string[];
  /** Every org whose events it holds. */
  orgs: string[];
  firstSeen: number;
  lastSeen: number;
  /** Events that added evidence. */
  count: number;
  raisedReason: string | null;
  installationId: number | null;
}

/** The event a draft came from, as far as the fold needs it. */
export interface FoldEvent {
  at: number;
  org: string | null;
  installationId: number | null;
}

/** A finding before any evidence: the fold of its first evidence starts from here. */
export function emptyFold(draft: FindingDraft, event: FoldEvent, raisedReason: string | null): FindingFold {
  return {
    severity: draft.severity,
    summary: draft.summary,
    actor: draft.actor,
    repos: [],
    orgs: [],
    firstSeen: event.at,
    lastSeen: event.at,
    count: 0,
    raisedReason,
    installationId: event.installationId,
  };
}

/**
 * Adds one piece of new evidence: the highest severity wins (and the summary follows it, so the title matches
 * the worst evidence), repos and orgs are unioned, the time span widens, the count grows. What was learned
 * first (why the severity was raised, the installation, the actor) is kept.
 */
export function foldEvidence(f: FindingFold, draft: FindingDraft, event: FoldEvent, raisedReason: string | null): FindingFold {
  const severity = maxSeverity(f.severity, draft.severity);
  return {
    severity,
    summary: severity === draft.severity ? draft.summary : f.summary,
    actor: f.actor ?? draft.actor,
    repos: union(f.repos, draft.repos),
    orgs: event.org ? union(f.orgs, [event.org]) : f.orgs,
    firstSeen: Math.min(f.firstSeen, event.at),
    lastSeen: Math.max(f.lastSeen, event.at),
    count: f.count + 1,
    raisedReason: f.raisedReason ?? raisedReason,
    installationId: f.installationId ?? event.installationId,
  };
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/**
 * What makes two pieces of evidence the same: the same facts told again (a new delivery id for the same fork,
 * a sweep finding it again) neither count nor become a comment.
 */
export function evidenceDigest(source: string, severity: Severity, data: string): string {
  return createHash("sha1").update(`${source}\u0000${severity}\u0000${data}`).digest("hex");
}
