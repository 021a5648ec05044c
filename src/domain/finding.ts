// What a finding is, apart from where it is kept: the draft a detector hands the engine, and the fingerprint
// that makes the same incident one finding however it was seen (webhook, audit log, sweep, `analyze`).
import type { Severity } from "./severity.js";

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
