// destructive-change: history or a whole repository destroyed, or its branch protection removed: the moves
// that hold code hostage after it has been copied. Force-pushes to a default branch are grouped per UTC day,
// so a day of rewriting is one incident with a count rather than a flood of issues.
import { z } from "zod";
import { isAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector } from "./types.js";

function day(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

function branchOfProtection(event: OrgEvent): string {
  const { ref, extra } = event.details;
  if (ref) return ref.replace(/^refs\/heads\//, "");
  // Audit entries name the protected branch (or pattern) in fields the converter keeps as extras.
  for (const key of ["name", "branch", "pattern"]) {
    const v = extra?.[key];
    if (typeof v === "string" && v !== "") return v;
  }
  return "*";
}

function pushFinding(event: OrgEvent, repo: string): FindingDraft[] {
  const { ref, defaultBranch, forced, deleted } = event.details;
  if (!ref || !defaultBranch || ref !== `refs/heads/${defaultBranch}`) return [];
  if (!deleted && !forced) return [];
  const what = deleted ? "deleted" : "force-push";
  return [
    {
      subject: `${repo}:${defaultBranch}:${what}:${day(event.at)}`,
      severity: "high",
      summary: deleted
        ? `Default branch ${defaultBranch} of ${repo} deleted`
        : `Default branch ${defaultBranch} of ${repo} force-pushed`,
      actor: event.actor,
      repos: [repo],
      evidence: {
        repository: repo,
        branch: defaultBranch,
        change: deleted ? "branch deleted" : "force-push",
        before: event.details.before ?? null,
        after: event.details.after ?? null,
        "actor is a bot": event.actorIsBot,
      },
    },
  ];
}

export const destructiveChange = defineDetector({
  id: "destructive-change",
  title: "Destructive change to a repository",
  warningSign: "holding code hostage (extortion)",
  source: "`push` webhook (default branch force-pushed or deleted); audit `repo.destroy`, `protected_branch.destroy`",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: ["protected_branch.destroy", "push", "repo.destroy"],
  settings: z.object({}),
  nextSteps: [
    "Ask the person who made the change why; confirm with the repository's owners.",
    "Force-push or deletion: restore the branch from the `before` commit (it stays reachable for a while) or a clone, then protect the branch.",
    "Deleted repository: an org owner can restore it within 90 days (org Settings → Deleted repositories).",
    "Removed protection: restore the branch protection rule or ruleset, and review who may administer the repository.",
  ],
  detect(event) {
    const repo = event.repo;
    if (!repo) return [];
    if (isAction(event, "push")) return pushFinding(event, repo);
    if (isAction(event, "repo.destroy")) {
      return [
        {
          subject: `${repo}:destroyed`,
          severity: "high",
          summary: `Repository ${repo} deleted`,
          actor: event.actor,
          repos: [repo],
          evidence: { repository: repo, change: "repository deleted" },
        },
      ];
    }
    if (isAction(event, "protected_branch.destroy")) {
      const branch = branchOfProtection(event);
      return [
        {
          subject: `${repo}:protection-removed:${branch}`,
          severity: "high",
          summary: `Branch protection removed from ${branch === "*" ? "a branch" : branch} of ${repo}`,
          actor: event.actor,
          repos: [repo],
          evidence: { repository: repo, branch: branch === "*" ? null : branch, change: "branch protection removed" },
        },
      ];
    }
    return [];
  },
});
