// Adds to an event the facts a detector needs but the payload does not carry, before the pure detectors
// run. Today: whether a user given access to a repository belongs to the org (the member webhook does not
// say). A lookup that fails leaves the fact unknown; enrichment never stops an event from being processed.
import type { OrgEvent } from "../events/types.js";
import type { Storage } from "../store/storage.js";
import type { OctokitLike } from "./octokit.js";

export interface EnrichDeps {
  /** An installation-authenticated Octokit (only `request` is used). */
  octokit: OctokitLike;
  storage: Pick<Storage, "directory">;
  /** Epoch ms, recorded as the time the membership was learned. */
  now: number;
  /** Told about lookups that failed for another reason than "not a member" (permissions, rate limits). */
  log?: { warn(obj: object, msg: string): void };
}

const MEMBERSHIP_ACTIONS = new Set(["member.added", "member.edited"]);

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

/**
 * Whether `user` is a member of `org`: true (204), false (404), or null when GitHub did not say (a 302
 * means the installation may not see private memberships; errors and rate limits are unknown too).
 */
async function lookUpMembership(deps: EnrichDeps, org: string, user: string): Promise<boolean | null> {
  try {
    const res = await deps.octokit.request("GET /orgs/{org}/members/{username}", {
      org,
      username: user,
      // A 302 points at the public-membership check, whose 404 would wrongly read as "not a member".
      request: { redirect: "manual" },
    });
    return res.status === 204 ? true : null;
  } catch (err) {
    // Octokit throws on 404, which is the documented answer for "not a member".
    if (statusOf(err) === 404) return false;
    deps.log?.warn(
      { err, org, user },
      "org membership lookup failed; judging the user as of unknown membership (check the app's Members: read permission)",
    );
    return null;
  }
}

export async function enrichEvent(event: OrgEvent, deps: EnrichDeps): Promise<OrgEvent> {
  const user = event.details.user;
  if (!MEMBERSHIP_ACTIONS.has(event.action) || !event.org || !user) return event;
  if (typeof event.details.userIsOrgMember === "boolean") return event;

  const known = await deps.storage.directory.member(event.org, user);
  let isMember: boolean | null;
  if (known) {
    isMember = known.isMember;
  } else {
    isMember = await lookUpMembership(deps, event.org, user);
    if (isMember !== null) await deps.storage.directory.setMember(event.org, user, isMember, null, deps.now);
  }
  return { ...event, details: { ...event.details, userIsOrgMember: isMember } };
}
