// bulk-export: the whole org, or a set of its repositories, packed up to leave in one go. GitHub's migration
// API (`migration.create` builds an archive of repositories with their history, issues and pull requests;
// `migration.download` fetches it) and moving the org to another enterprise (`org.transfer_outgoing` on the
// sending side, `org.transfer` in the org's own log) are the bulk channels the audit log names. Archive
// downloads of single repositories (`repo.download_zip`) are counted by mass-clone, not here. A GitHub App
// installed on the org (`integration_installation.create`) is the standing form of the same channel: an app
// that may read contents can copy every repository it is given, at any time, with no user's clone in the log.
// Its entry names the app and whether it got all repositories or selected ones, never its permissions, so an
// installation is low, and medium when it covers all repositories (those created later included).
//
// Subject: `<org>:<kind>:<migration id or YYYY-MM-DD>`. The migration id, when the entry carries one, ties
// repeated downloads of one archive together; the org transfer's two entries share the kind `org.transfer`.
// An installation is `<org>:app-installed:<app>`: installing the same app again is the same finding.
import { z } from "zod";
import { actionsOf, entryOf, isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
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

/** The app's slug (`integration`), else its display name (`name`), made safe for a subject. */
function appKey(e: OrgEvent): string | null {
  for (const v of [e.details.extra?.integration, e.details.extra?.name]) {
    if (typeof v !== "string") continue;
    const key = v.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
    if (key) return key;
  }
  return null;
}

function appInstalled(e: OrgEvent, org: string, known: readonly string[]): FindingDraft[] {
  const extra = e.details.extra ?? {};
  const slug = typeof extra.integration === "string" && extra.integration.trim() ? extra.integration.trim() : null;
  const name = typeof extra.name === "string" && extra.name.trim() ? extra.name.trim() : null;
  const vetted = new Set(known.map((k) => k.toLowerCase()));
  if ([slug, name].some((n) => n !== null && vetted.has(n.toLowerCase()))) return [];
  const app = name ?? slug ?? "an unnamed app";
  const selection = typeof extra.repository_selection === "string" ? extra.repository_selection.toLowerCase() : null;
  const all = selection === "all";
  const on = all ? "all repositories" : selection === "selected" ? "selected repositories" : "repositories not named";
  return [
    {
      subject: `${org}:app-installed:${appKey(e) ?? dayOf(e.at)}`,
      severity: all ? "medium" : "low",
      summary: `${org}: GitHub App ${app} installed (${on})`,
      actor: e.actor,
      repos: e.repo ? [e.repo] : [],
      evidence: {
        action: e.action,
        time: Number.isFinite(e.at) ? new Date(e.at).toISOString() : "unknown",
        app,
        "app slug": slug ?? "not named",
        repositories: selection ?? "unknown",
        // GitHub's entry for an installation carries no permissions: whether the app reads contents is on its
        // settings page, not here.
        permissions: "not in the audit entry",
        "installed by": e.actor ?? e.details.user ?? "unknown",
        "actor is a bot": e.actorIsBot,
      },
    },
  ];
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
  source:
    "audit `migration.create`, `migration.download`, `org.transfer_outgoing`, `org.transfer`; GitHub Apps installed (`integration_installation.create`)",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: [...actionsOf(WHAT), "integration_installation.create"],
  settings: z.object({
    bots_severity: z
      .enum(["ignore", "low", "medium", "high"])
      .default("medium")
      .describe(
        "Severity when a bot or GitHub App runs the export (backup services use the migration API routinely); `ignore` reports nothing.",
      )
      .register(watches, { weaker: "earlier", order: ["ignore", "low", "medium", "high"] }),
    known_apps: z
      .array(z.string().trim().min(1).max(100))
      .max(100)
      .default([])
      .describe(
        "GitHub Apps whose installation on the org is not reported, by slug or display name (case-insensitive): apps the org has vetted, such as its CI or chat integration.",
      )
      .register(watches, { weaker: "added" }),
  }),
  nextSteps: [
    "Ask the actor why an export was needed and where the archive went; migration archives hold full history, issues and pull requests.",
    "If it was not a planned backup or move: revoke the actor's and the token's access, and delete the archive (`DELETE /orgs/{org}/migrations/{migration_id}/archive`).",
    "For an org transfer: confirm with the enterprise owners on both sides; GitHub Support can help reverse it.",
    "Add a known backup service's account to `allow.actors` instead of turning this detector off.",
    "For an app installation: check the app's permissions and repository access under Settings → GitHub Apps; uninstall it or narrow it to selected repositories if Contents: read is not needed, or add a vetted app to `known_apps`.",
  ],
  detect(event, ctx) {
    const org = event.org;
    if (isAction(event, "integration_installation.create")) {
      return org ? appInstalled(event, org, ctx.settings.known_apps) : [];
    }
    const what = entryOf(WHAT, event.action);
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
