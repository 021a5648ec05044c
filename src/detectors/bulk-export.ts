// bulk-export: the whole org, or a set of its repositories, packed up to leave in one go. GitHub's migration
// API (`migration.create` builds an archive of repositories with their history, issues and pull requests;
// `migration.download` fetches it) and moving the org to another enterprise (`org.transfer_outgoing` on the
// sending side, `org.transfer` in the org's own log) are the bulk channels the audit log names. Archive
// downloads of single repositories (`repo.download_zip`) are counted by mass-clone, not here.
//
// Subject: `<org>:<kind>:<migration id or YYYY-MM-DD>`. The migration id, when the entry carries one, ties
// repeated downloads of one archive together; the org transfer's two entries share the kind `org.transfer`.
import { z } from "zod";
import { actionsOf, entryOf, isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import { defineDetector } from "./types.js";
import { watches } from "../domain/watch.js";

const WHAT = {
  "migration.create": { kind: "migration.create", summary: "migration archive of repositories created" },
  "migration.download": { kind: "migration.download", summary: "migration archive of repositories downloaded" },
  "org.transfer_outgoing": { kind: "org.transfer", summary: "organization transferred to another enterprise" },
  "org.transfer": { kind: "org.transfer", summary: "organization transferred between enterprises" },
} satisfies Partial<Record<KnownAction, { kind: string; summary: string }>>;

function dayOf(at: number): string {
  return Number.isFinite(at) ? new Date(at).toISOString().slice(0, 10) : "unknown-date";
}

function migrationId(e: OrgEvent): string | null {
  const v = e.details.extra?.migration_id;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (typeof v === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(v)) return v;
  return null;
}

export const bulkExport = defineDetector({
  id: "bulk-export",
  title: "Bulk export of the org's repositories",
  warningSign: "bulk copying",
  source: "audit `migration.create`, `migration.download`, `org.transfer_outgoing`, `org.transfer`",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: actionsOf(WHAT),
  settings: z.object({
    bots_severity: z
      .enum(["ignore", "low", "medium", "high"])
      .default("medium")
      .describe(
        "Severity when a bot or GitHub App runs the export (backup services use the migration API routinely); `ignore` reports nothing.",
      )
      .register(watches, { weaker: "earlier", order: ["ignore", "low", "medium", "high"] }),
  }),
  nextSteps: [
    "Ask the actor why an export was needed and where the archive went; migration archives hold full history, issues and pull requests.",
    "If it was not a planned backup or move: revoke the actor's and the token's access, and delete the archive (`DELETE /orgs/{org}/migrations/{migration_id}/archive`).",
    "For an org transfer: confirm with the enterprise owners on both sides; GitHub Support can help reverse it.",
    "Add a known backup service's account to `allow.actors` instead of turning this detector off.",
  ],
  detect(event, ctx) {
    const what = entryOf(WHAT, event.action);
    const org = event.org;
    if (!what || !org) return [];
    let severity: "low" | "medium" | "high" = "high";
    if (event.actorIsBot) {
      if (ctx.settings.bots_severity === "ignore") return [];
      severity = ctx.settings.bots_severity;
    }
    const id = isAction(event, "migration.create", "migration.download") ? migrationId(event) : null;
    return [
      {
        subject: `${org}:${what.kind}:${id ?? dayOf(event.at)}`,
        severity,
        summary: `${org}: ${what.summary}${id ? ` (migration ${id})` : ""}`,
        actor: event.actor,
        repos: event.repo ? [event.repo] : [],
        evidence: {
          action: event.action,
          // Two downloads of one archive are two facts; the time keeps them from reading as one repeated.
          time: Number.isFinite(event.at) ? new Date(event.at).toISOString() : "unknown",
          migration: id ?? "unknown",
          repository: event.repo ?? "not named",
          "actor is a bot": event.actorIsBot,
          "token type": event.tokenType ?? "unknown",
        },
      },
    ];
  },
});
