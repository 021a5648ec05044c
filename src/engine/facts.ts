// What the engine learns from events as they pass (who joined the org and when, who left), so detectors
// and the new-member severity raise can read it synchronously from the store.
import type { OrgEvent } from "../events/types.js";
import type { Store } from "../store/store.js";

const JOINED = new Set(["org.add_member", "organization.member_added"]);
const LEFT = new Set(["org.remove_member", "organization.member_removed"]);

export function learnFacts(store: Store, event: OrgEvent): void {
  const user = event.details.user;
  if (!event.org || !user) {
    return;
  }
  if (JOINED.has(event.action)) store.setMember(event.org, user, true, event.at, event.at);
  else if (LEFT.has(event.action)) store.setMember(event.org, user, false, null, event.at);
  else if (typeof event.details.userIsOrgMember === "boolean" && !store.memberStatus(event.org, user)) {
    store.setMember(event.org, user, event.details.userIsOrgMember, null, event.at);
  }
}
