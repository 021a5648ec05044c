// repo-made-public: a company repository became public, the way code is published to extort its owner.
// Webhooks (`repository.publicized`, `public`) and the audit log (`repo.access`, `repo.create`) report the
// same change; the subject is the repository alone so every channel lands on one finding.
import { z } from "zod";
import { actionSet, isAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector } from "./types.js";
import { watches } from "../domain/watch.js";
import type { Severity } from "../domain/severity.js";

const PUBLICIZED = actionSet("repository.publicized", "public");
const CREATED = actionSet("repo.create", "repository.created");

function draft(event: OrgEvent, repo: string, severity: Severity, summary: string, how: string): FindingDraft {
  return {
    subject: repo,
    severity,
    summary,
    actor: event.actor,
    repos: [repo],
    evidence: {
      repository: repo,
      change: how,
      "previous visibility": event.details.previousVisibility ?? "unknown",
      "reported by": event.source,
    },
  };
}

export const repoMadePublic = defineDetector({
  id: "repo-made-public",
  title: "Repository made public",
  warningSign: "publishing code (extortion)",
  source: "`repository.publicized` and `public` webhooks; audit `repo.access`, `repo.create`",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: ["public", "repo.access", "repo.create", "repository.created", "repository.publicized"],
  settings: z.object({
    new_public_repos: z
      .boolean()
      .default(false)
      .describe("Also report repositories created public (medium); off because many orgs publish open source.")
      .register(watches, { weaker: "off" }),
  }),
  nextSteps: [
    "Check the repository's contents: if it holds private code, make it private again at once (Settings → Danger Zone).",
    "Ask the person who changed the visibility why; confirm with their manager or the repository's owners.",
    "Assume the code was copied while public: look for forks, mirrors and clones, and rotate any secrets it contains.",
    "Preserve this issue's evidence; it supports a takedown notice or a case.",
  ],
  detect(event, ctx) {
    const repo = event.repo;
    if (!repo) return [];
    if (PUBLICIZED.has(event.action)) {
      return [draft(event, repo, "high", `${repo} was made public`, "made public")];
    }
    if (isAction(event, "repo.access")) {
      // Only a change INTO public from something that was not public; unknown previous visibility counts,
      // since old audit entries lack it and missing a publication costs more than a duplicate.
      if (event.visibility !== "public" || event.details.previousVisibility === "public") return [];
      const from = event.details.previousVisibility ?? "unknown";
      return [draft(event, repo, "high", `${repo} was made public (was ${from})`, "made public")];
    }
    if (CREATED.has(event.action)) {
      if (!ctx.settings.new_public_repos || event.visibility !== "public") return [];
      return [draft(event, repo, "medium", `${repo} was created public`, "created public")];
    }
    return [];
  },
});
