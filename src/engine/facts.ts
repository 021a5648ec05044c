// What the engine learns from events as they pass (who joined the org and when, who left), so detectors and
// the new-member severity raise can read it synchronously. The engine loads the batch's users from the
// directory before judging (BatchDirectory) and writes what it learned back in the same unit of work.
import { actionSet } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { MemberStatus } from "../store/storage.js";

const JOINED = actionSet("org.add_member", "organization.member_added");
const LEFT = actionSet("org.remove_member", "organization.member_removed");

export interface MemberChange extends MemberStatus {
  org: string;
  login: string;
  at: number;
}

/**
 * The directory entries of one batch's users, with what the batch's events taught. Logins and org names are
 * case-insensitive on GitHub (and in storage): `Mallory` joining `Acme` is `mallory` cloning from `acme`.
 */
export class BatchDirectory {
  private changes: MemberChange[] = [];
  private readonly known = new Map<string, MemberStatus>();

  constructor(loaded: Map<string, Map<string, MemberStatus>>) {
    for (const [org, members] of loaded) for (const [login, m] of members) this.known.set(keyOf(org, login), m);
  }

  get(org: string, login: string): MemberStatus | undefined {
    return this.known.get(keyOf(org, login));
  }

  /** As the store's upsert: a null `joinedAt` keeps the one known. */
  set(org: string, login: string, isMember: boolean, joinedAt: number | null, at: number): void {
    const key = keyOf(org, login);
    const kept = joinedAt ?? this.known.get(key)?.joinedAt ?? null;
    this.known.set(key, { isMember, joinedAt: kept });
    this.changes.push({ org, login, isMember, joinedAt, at });
  }

  takeChanges(): MemberChange[] {
    const out = this.changes;
    this.changes = [];
    return out;
  }
}

// Length-prefixed, so no org name can make two keys collide.
function keyOf(org: string, login: string): string {
  const o = org.toLowerCase();
  return `${o.length}:${o}${login.toLowerCase()}`;
}

export function learnFacts(directory: BatchDirectory, event: OrgEvent): void {
  const user = event.details.user;
  if (!event.org || !user) {
    return;
  }
  if (JOINED.has(event.action)) directory.set(event.org, user, true, event.at, event.at);
  else if (LEFT.has(event.action)) directory.set(event.org, user, false, null, event.at);
  else if (typeof event.details.userIsOrgMember === "boolean" && !directory.get(event.org, user)) {
    directory.set(event.org, user, event.details.userIsOrgMember, null, event.at);
  }
}
