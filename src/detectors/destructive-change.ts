// destructive-change: history or a whole repository destroyed, or its branch protection removed or bypassed:
// the moves that hold code hostage after it has been copied. Protection is either a branch protection rule or
// its newer form, a ruleset (of one repository or of the whole org); a ruleset stops protecting when it is
// deleted or when its enforcement is switched from active to disabled or evaluate (evaluate only reports).
// Force-pushes to a default branch, and protection overrides, are grouped per UTC day, so a day of rewriting
// is one incident with a count rather than a flood of issues.
import { z } from "zod";
import { isAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector } from "./types.js";

function day(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

function text(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : null;
}

function branchOfProtection(event: OrgEvent): string {
  const { ref, extra } = event.details;
  // Audit entries name the protected branch (or pattern) in fields the converter keeps as extras; overrides
  // give it as a full ref.
  for (const v of [ref, extra?.name, extra?.branch, extra?.pattern]) {
    const t = text(v);
    if (t) return t.replace(/^refs\/heads\//, "");
  }
  return "*";
}

/**
 * Whether a ruleset enforcement value protects anything: `active` (the API's word) or `enabled` (the audit
 * log's) does; `disabled` does not, nor `evaluate`, which only reports what the rules would have blocked.
 * Null when the entry does not say.
 */
function enforcing(v: unknown): boolean | null {
  const t = text(v)?.toLowerCase();
  if (t === "active" || t === "enabled") return true;
  if (t === "disabled" || t === "evaluate") return false;
  return null;
}

/**
 * A ruleset deleted or switched off. Deleting one that enforced nothing (disabled or evaluate) and switching
 * one off that was not enforcing before remove no protection and give nothing. An update that leaves it off
 * without saying what it was before may have just switched it off: medium, for someone to check.
 */
function rulesetFinding(event: OrgEvent, scope: string): FindingDraft[] {
  const extra = event.details.extra ?? {};
  const now = enforcing(extra.ruleset_enforcement);
  let severity: "high" | "medium";
  let change: string;
  if (isAction(event, "repository_ruleset.destroy")) {
    if (now === false) return [];
    severity = "high";
    change = "ruleset deleted";
  } else {
    if (now !== false) return [];
    const before = enforcing(extra.ruleset_old_enforcement);
    if (before === false) return [];
    severity = before === true ? "high" : "medium";
    change = before === true ? "ruleset enforcement switched off" : "ruleset left not enforcing; whether it enforced before is unknown";
  }
  const name = text(extra.ruleset_name) ?? text(extra.name);
  const level = text(extra.ruleset_source_type) ?? (event.repo ? "Repository" : "Organization");
  const gone = isAction(event, "repository_ruleset.destroy") ? "deleted" : "no longer enforced";
  return [
    {
      subject: `${scope}:ruleset-removed:${name ?? "*"}`,
      severity,
      summary: `${name ? `Ruleset ${name}` : "A ruleset"} of ${scope} ${gone}`,
      actor: event.actor,
      repos: event.repo ? [event.repo] : [],
      evidence: {
        [event.repo ? "repository" : "org"]: scope,
        ruleset: name,
        "ruleset of": level,
        enforcement: text(extra.ruleset_enforcement) ?? "unknown",
        "enforcement before": text(extra.ruleset_old_enforcement) ?? "unknown",
        change,
      },
    },
  ];
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
  source:
    "`push` webhook (default branch force-pushed or deleted); audit `repo.destroy`, `protected_branch.destroy`, `protected_branch.policy_override`, `repository_ruleset.destroy`, `repository_ruleset.update` (enforcement switched off)",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: [
    "protected_branch.destroy",
    "protected_branch.policy_override",
    "push",
    "repo.destroy",
    "repository_ruleset.destroy",
    "repository_ruleset.update",
  ],
  settings: z.object({}),
  nextSteps: [
    "Ask the person who made the change why; confirm with the repository's owners.",
    "Force-push or deletion: restore the branch from the `before` commit (it stays reachable for a while) or a clone, then protect the branch.",
    "Deleted repository: an org owner can restore it within 90 days (org Settings → Deleted repositories).",
    "Removed protection: restore the branch protection rule, or set the ruleset's enforcement back to Active (recreate it if deleted), and review who may administer the repository.",
    "Bypassed protection: look at what the override let through (the `before` and `after` commits), and whether the actor needs bypass rights.",
  ],
  detect(event) {
    // Org-wide rulesets name no repository: the org is what lost the protection.
    if (isAction(event, "repository_ruleset.destroy", "repository_ruleset.update")) {
      const scope = event.repo ?? event.org;
      return scope ? rulesetFinding(event, scope) : [];
    }
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
    if (isAction(event, "protected_branch.policy_override")) {
      // A one-off push past the rules, not their removal; the push itself, when it rewrote or deleted the
      // default branch, is reported high through the push webhook.
      const branch = branchOfProtection(event);
      const extra = event.details.extra ?? {};
      return [
        {
          subject: `${repo}:protection-bypassed:${branch}:${day(event.at)}`,
          severity: "medium",
          summary: `Branch protection of ${branch === "*" ? "a branch" : branch} of ${repo} bypassed`,
          actor: event.actor,
          repos: [repo],
          evidence: {
            repository: repo,
            branch: branch === "*" ? null : branch,
            change: "branch protection bypassed",
            before: text(extra.before),
            after: text(extra.after),
            "actor is a bot": event.actorIsBot,
          },
        },
      ];
    }
    return [];
  },
});
