// outside-collaborator-added: someone who is not a member of the org was given access to its code. An
// outside collaborator is outside the org's SSO, onboarding and offboarding, which makes the role a
// convenient way to hand code to a personal or third-party account.
import { z } from "zod";
import { isAction } from "../events/actions.js";
import { defineDetector } from "./types.js";
import type { Severity } from "../domain/severity.js";

// Permissions worth a finding when a collaborator's access is raised (member.edited).
const ELEVATED = new Set(["write", "maintain", "admin"]);
// Rank of the built-in roles; custom role names are unranked.
const RANK: Record<string, number> = { read: 1, pull: 1, triage: 2, write: 3, push: 3, maintain: 4, admin: 5 };

function rank(permission: string | null | undefined): number | undefined {
  return permission ? RANK[permission.toLowerCase()] : undefined;
}

/** The webhook keeps it as `previousPermission`; audit entries as `old_permission` / `old_repo_permission`. */
function previousPermission(extra: Record<string, unknown> | undefined): string | undefined {
  for (const key of ["previousPermission", "old_permission", "old_repo_permission"]) {
    const v = extra?.[key];
    if (typeof v === "string" && v !== "") return v;
  }
  return undefined;
}

export const outsideCollaboratorAdded = defineDetector({
  id: "outside-collaborator-added",
  title: "Outside collaborator given access",
  warningSign: "access for outsiders",
  source: "`member` webhook; audit `repo.add_member`, `org.add_outside_collaborator`",
  defaultSeverity: "medium",
  enabledByDefault: true,
  actions: ["member.added", "member.edited", "org.add_outside_collaborator", "repo.add_member"],
  settings: z.object({}),
  nextSteps: [
    "Confirm with the repository's owners that this person should have access, and at this permission.",
    "If not: remove the collaborator (org Settings → Outside collaborators), which also deletes their private forks.",
    "Review what the account did since it was added (clones, forks, pushes) in the audit log.",
  ],
  detect(event, ctx) {
    const { user, permission } = event.details;
    if (!event.org || !user) return [];
    const permissionRank = rank(permission);

    if (isAction(event, "member.edited")) {
      // Only a raise INTO write or above; a lowered or unchanged permission gives nothing new.
      if (!permission || !ELEVATED.has(permission.toLowerCase())) return [];
      const before = rank(previousPermission(event.details.extra));
      if (before !== undefined && permissionRank !== undefined && before >= permissionRank) return [];
    }

    let isMember: boolean | null;
    if (isAction(event, "org.add_outside_collaborator")) isMember = false;
    else if (typeof event.details.userIsOrgMember === "boolean") isMember = event.details.userIsOrgMember;
    else isMember = ctx.facts.isOrgMember(event.org, user);
    if (isMember === true) return [];

    const elevated = permission ? ELEVATED.has(permission.toLowerCase()) : false;
    // Unknown membership still fires so the grant is seen, but no higher than medium.
    const severity: Severity = isMember === false && elevated ? "high" : "medium";
    const where = event.repo ?? event.org;
    const raised = isAction(event, "member.edited");
    return [
      {
        subject: `${where}:${user.toLowerCase()}`,
        severity,
        summary: `${isMember === false ? "Outside collaborator" : "User of unknown org membership"} ${user} ${raised ? "raised to" : "given"} ${permission ? `${permission} access` : "access (permission not in the entry)"} to ${where}`,
        actor: event.actor,
        repos: event.repo ? [event.repo] : [],
        evidence: {
          user,
          where,
          permission: permission ?? null,
          ...(raised ? { "previous permission": previousPermission(event.details.extra) ?? null } : {}),
          "org membership": isMember === false ? "not a member" : "unknown (could not be checked)",
        },
      },
    ];
  },
});
