// repo-transferred: a company repository moved to another owner, or simply gone. GitHub never tells the old
// owner's installation about a transfer (only the new owner gets `repository.transferred`), so the audit log
// (`repo.transfer_start`, `repo.transfer_outgoing`, `repo.transfer`) and the inventory sweep
// (`sweep.repo_missing`) are the only channels. All of them build the subject from the repository's name
// inside the org, so the request, the move and the sweep noticing the hole are one finding.
import { z } from "zod";
import { isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const TRANSFER_ACTIONS = ["repo.transfer_start", "repo.transfer_outgoing", "repo.transfer"] as const satisfies readonly KnownAction[];
const MISSING = "sweep.repo_missing" satisfies KnownAction;
const DESTROY = "repo.destroy" satisfies KnownAction;
const DAY = 24 * 60 * 60 * 1000;
/** How long a seen deletion or allowed transfer explains a later hole in the inventory; sweeps run hourly. */
const EXPLAINED_MEMORY = 30 * DAY;
/** How long an org's enterprise, learned from an entry, is remembered: orgs rarely change enterprise. */
const BUSINESS_MEMORY = 365 * DAY;

function sameLogin(a: string | null | undefined, b: string | null | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

function ownerOf(fullName: string | null | undefined): string | null {
  if (typeof fullName !== "string") return null;
  const slash = fullName.indexOf("/");
  return slash > 0 ? fullName.slice(0, slash) : null;
}

function nameOf(fullName: string): string {
  return fullName.slice(fullName.indexOf("/") + 1);
}

function extraString(e: OrgEvent, key: string): string | null {
  const v = e.details.extra?.[key];
  return typeof v === "string" && v.length > 0 ? v : null;
}

/**
 * The repository's full name as it was inside the org. `repo.transfer` may already name the new location,
 * so `repo_was` (GitHub's own field) wins, then a name owned by the org, then the org plus the bare name.
 */
function originalName(e: OrgEvent): string | null {
  const was = extraString(e, "repo_was");
  if (was && was.includes("/")) return was;
  if (!e.repo || !e.repo.includes("/")) return null;
  if (!e.org || sameLogin(ownerOf(e.repo), e.org)) return e.repo;
  return `${e.org}/${nameOf(e.repo)}`;
}

/** Where the repository went, when the entry says: the converter's newOwner, else GitHub's `new_nwo`. */
function destination(e: OrgEvent): { owner: string | null; ownerType: string | null; newName: string | null } {
  const newNwo = extraString(e, "new_nwo");
  let owner = e.details.newOwner ?? ownerOf(newNwo);
  if (!owner && isAction(e, "repo.transfer")) {
    // `repo.transfer` is the accepting side: `old_user` the previous owner, `owner` (or the repository's new
    // name) the new one. A previous owner other than the org means the repository came in, not out.
    const oldUser = extraString(e, "old_user");
    if (oldUser && e.org && !sameLogin(oldUser, e.org)) owner = e.org;
    else owner = extraString(e, "owner") ?? ownerOf(e.repo);
  }
  return {
    owner: owner ?? null,
    ownerType: e.details.newOwnerType ?? null,
    newName: newNwo ?? (owner && e.repo && !sameLogin(ownerOf(e.repo), e.org) ? e.repo : null),
  };
}

/** The enterprise an entry names (the converter's `business`, or the raw field kept as evidence). */
function businessOf(e: OrgEvent): string | null {
  const b = e.business ?? e.details.extra?.business;
  return typeof b === "string" && b.length > 0 ? b : null;
}

function businessKey(org: string): string {
  return `business-of:${org.toLowerCase()}`;
}

/**
 * The enterprise both sides of a transfer belong to, when known: the destination is an org that an earlier
 * entry showed in the same enterprise as this one. Only a business-wide analysis (`analyze` of an enterprise's
 * export) sees other orgs' entries; a single org's log never proves it, and the move stays critical there
 * unless the destination is on `allow.fork_owners`.
 */
function sharedEnterprise(event: OrgEvent, owner: string | null, ownerType: string | null, state: DetectorState): string | null {
  if (!owner || ownerType === "User") return null;
  const business = businessOf(event);
  if (!business) return null;
  const known = state.get<string>(businessKey(owner));
  return typeof known === "string" && known.toLowerCase() === business.toLowerCase() ? business : null;
}

function transferredTo(
  event: OrgEvent,
  repo: string,
  owner: string | null,
  ownerType: string | null,
  newName: string | null,
  allowedOwner: (login: string) => boolean,
  enterprise: string | null = null,
): FindingDraft[] {
  // Into the org (the receiving side of a transfer) or a rename: nothing left the org.
  if (owner && sameLogin(owner, event.org)) return [];
  if (owner && allowedOwner(owner)) return [];
  const into = ownerType === "User" ? "personal account" : ownerType === "Organization" || enterprise ? "organization" : "account";
  const requested = isAction(event, "repo.transfer_start");
  const summary = owner
    ? `${repo} ${requested ? "requested to transfer" : "transferred"} to ${into} ${owner}${enterprise ? ` of the same enterprise (${enterprise})` : ""}`
    : `${repo} ${requested ? "transfer requested" : "transferred out"} (destination not in the entry)`;
  return [
    {
      subject: repo,
      // Any known destination outside the allowlist is critical: a user, or an org nobody vouched for. An org
      // of the same enterprise keeps the code under the company's owners, policies and audit log, so nothing
      // left the company; who can read it may still have changed, so it is recorded, as low.
      severity: enterprise ? "low" : owner ? "critical" : "high",
      summary,
      actor: event.actor,
      repos: [repo],
      evidence: {
        action: event.action,
        repository: repo,
        visibility: event.visibility ?? "unknown",
        "new owner": owner ?? "unknown",
        "owner type": ownerType ?? "unknown",
        "new name": newName ?? "unknown",
        ...(enterprise ? { enterprise } : {}),
      },
    },
  ];
}

export const repoTransferred = defineDetector({
  id: "repo-transferred",
  title: "Repository transferred out of the org or gone",
  warningSign: "copy to a personal account",
  source: "audit `repo.transfer_start`, `repo.transfer_outgoing`, `repo.transfer`; inventory sweep",
  defaultSeverity: "critical",
  enabledByDefault: true,
  actions: [...TRANSFER_ACTIONS, MISSING, DESTROY],
  settings: z.object({
    report_missing: z
      .boolean()
      .default(true)
      .describe(
        "Report repositories that vanish from the inventory sweep with no deletion seen (transferred, deleted, or no longer visible to the app).",
      )
      .register(watches, { weaker: "off" }),
  }),
  nextSteps: [
    "Find out who moved the repository and where: the org audit log (`action:repo.transfer_outgoing`) names the new owner.",
    "If the new owner is a personal account or an unknown org, ask the new owner and GitHub Support to transfer it back.",
    "Remove the actor's access and review their other activity (clones, forks, new credentials) around the same time.",
    "Preserve this issue's evidence: it records the repository's name, visibility and destination at the time.",
    "Take away members' right to transfer repositories (Settings → Member privileges → Repository deletion and transfer).",
  ],
  detect(event, ctx) {
    // Every entry that names both its org and its enterprise teaches which orgs belong to that enterprise.
    const business = businessOf(event);
    if (business && event.org) ctx.state.set(businessKey(event.org), business, event.at + BUSINESS_MEMORY);
    const repo = originalName(event);
    if (!repo) return [];
    const explainedKey = `explained:${repo.toLowerCase()}`;

    if (event.action === DESTROY) {
      // A deletion is destructive-change's finding; remembering it keeps the sweep's hole from doubling it.
      ctx.state.set(explainedKey, event.at, event.at + EXPLAINED_MEMORY);
      return [];
    }

    if (event.action === MISSING) {
      if (!ctx.settings.report_missing) return [];
      const explainedAt = ctx.state.get<number>(explainedKey);
      if (typeof explainedAt === "number" && explainedAt <= event.at && event.at - explainedAt <= EXPLAINED_MEMORY) {
        return [];
      }
      const { owner, ownerType } = destination(event);
      // The sweep may have followed the repository to where it is now (when the app can still see it).
      if (owner && !sameLogin(owner, event.org)) {
        return transferredTo(event, repo, owner, ownerType, null, ctx.allow.forkOwner);
      }
      return [
        {
          subject: repo,
          severity: "high",
          summary: `${repo} is gone from the org's repositories (deleted, transferred, or hidden from the app)`,
          actor: event.actor,
          repos: [repo],
          evidence: {
            repository: repo,
            visibility: event.visibility ?? "unknown",
            "seen by": "inventory sweep",
            destination: "unknown",
          },
        },
      ];
    }

    const { owner, ownerType, newName } = destination(event);
    const enterprise = sharedEnterprise(event, owner, ownerType, ctx.state);
    if (owner && (enterprise || ctx.allow.forkOwner(owner)) && !isAction(event, "repo.transfer_start")) {
      // An allowed move still leaves a hole in the inventory; the sweep must not report it as unexplained.
      ctx.state.set(explainedKey, event.at, event.at + EXPLAINED_MEMORY);
    }
    return transferredTo(event, repo, owner, ownerType, newName, ctx.allow.forkOwner, enterprise);
  },
});
