// Which events may add up. Detector state (windows, baselines), findings and their fingerprints are kept per
// scope, so one org's clones never count toward another org's threshold and one org's repository names never
// reach another org's alerts repository. The app watches each installation on its own: its scope is the org.
// An enterprise's own export (`analyze`) is the one exception: entries carrying the same `business` belong to
// one owner, so one person's copying across that enterprise's orgs adds up there.
import type { OrgEvent } from "../events/types.js";

/** `org`: each org on its own (the app). `business`: entries of one enterprise together, others per org. */
export type ScopeMode = "org" | "business";

/** The scope of events that name no org (an export without `org` and without `--org`). */
export const NO_ORG_SCOPE = "org:";

/**
 * `org:<login>` or `business:<slug>`, lower-cased: GitHub logins and slugs are case-insensitive, and `Acme`
 * and `acme` are one org.
 */
export function scopeOf(event: Pick<OrgEvent, "org" | "business">, mode: ScopeMode = "org"): string {
  if (mode === "business" && event.business) return `business:${event.business.toLowerCase()}`;
  return event.org ? `org:${event.org.toLowerCase()}` : NO_ORG_SCOPE;
}
