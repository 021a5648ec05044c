// personal-fork: a company repository forked into an account outside the org. The audit log has no fork
// action, so the fork webhook on the parent (and the forks sweep) is the only way to see it.
import { z } from "zod";
import { defineDetector } from "./types.js";
import { watches } from "../domain/watch.js";

export const personalFork = defineDetector({
  id: "personal-fork",
  title: "Repository forked outside the org",
  warningSign: "copy to a personal account",
  source: "`fork` webhook",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: ["fork"],
  settings: z.object({
    public_sources: z
      .boolean()
      .default(false)
      .describe("Also report forks of public repositories (anyone may fork those; off to stay quiet).")
      .register(watches, { weaker: "off" }),
  }),
  nextSteps: [
    "Ask the person who forked why a copy outside the org was needed; confirm with their manager.",
    "If unexpected: remove their access to the repository (a private fork is deleted with the access; local clones are not).",
    "Preserve this issue's evidence before the fork disappears; it supports a takedown or a case.",
    "Consider turning off `members_can_fork_private_repositories` for the org.",
  ],
  detect(event, ctx) {
    const { forkFullName, forkOwner, forkOwnerType } = event.details;
    if (!event.repo || !forkFullName || !forkOwner) return [];
    // A fork inside the same org is not a copy leaving it.
    if (event.org && forkOwner.toLowerCase() === event.org.toLowerCase()) return [];
    if (ctx.allow.forkOwner(forkOwner)) return [];
    const isPublicSource = event.visibility === "public";
    if (isPublicSource && !ctx.settings.public_sources) return [];
    const into = forkOwnerType === "Organization" ? "organization" : "personal account";
    return [
      {
        subject: `${event.repo}->${forkFullName}`,
        severity: isPublicSource ? "low" : "high",
        summary: `${event.repo} forked into ${into} ${forkOwner}`,
        actor: event.actor,
        repos: [event.repo],
        evidence: {
          fork: forkFullName,
          "fork owner": forkOwner,
          "owner type": forkOwnerType ?? "unknown",
          "source visibility": event.visibility ?? "unknown",
        },
      },
    ];
  },
});
