// Which events may add up. Detector state (windows, baselines), findings and their fingerprints are kept per
// scope, so one org's clones never count toward another org's threshold and one org's repository names never
// reach another org's alerts repository. The app watches each installation on its own: its scope is the org.
// An enterprise's own export (`analyze`) is the one exception: entries carrying the same `business` belong to
// one owner, so one person's copying across that enterprise's orgs adds up there.
import type { OrgEvent } from "../events/types.js";

/** `org`: each org on its own (the app). `business`: entries of one enterprise together, others per org. */
export type ScopeMode = "org" | "business";

/** The scope of events that name no org and came through no installation (an export without `org`). */
export const NO_ORG_SCOPE = "org:";

/**
 * `org:<login>` or `business:<slug>`, lower-cased: GitHub logins and slugs are case-insensitive, and `Acme`
 * and `acme` are one org. An event that names no org stays with the installation it came through.
 * `business` is the enterprise the event belongs to, when known (the event's own, or one learned for its org).
 */
export function scopeOf(event: Pick<OrgEvent, "org" | "installationId">, mode: ScopeMode = "org", business?: string | null): string {
  if (mode === "business" && business) return `business:${business.toLowerCase()}`;
  if (event.org) return `org:${event.org.toLowerCase()}`;
  return event.installationId !== null ? `installation:${event.installationId}` : NO_ORG_SCOPE;
}
