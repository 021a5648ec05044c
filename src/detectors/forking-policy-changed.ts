// forking-policy-changed: the org (or one repository) starts allowing forks of private and internal
// repositories, which opens the channel personal-fork watches. Seen through the audit log
// (`private_repository_forking.enable` / `.clear`) and through the org-settings sweep
// (`members_can_fork_private_repositories`), which also covers orgs without the audit-log API.
//
// Subject: `<org or repo>:<YYYY-MM-DD>` where the date is the day the policy was first seen open. While it
// stays open, every later signal (the sweep noticing what the audit log already told, a second enable) reuses
// that date, so one opening is one finding whichever channel reports it first and however many days apart.
// Seeing it closed (`.disable`, or a sweep reading false) ends the episode; a later opening is a new finding.
import { z } from "zod";
import type { KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector, type DetectorState } from "./types.js";
import { watches } from "../domain/watch.js";

const ENABLE = "private_repository_forking.enable" satisfies KnownAction;
const CLEAR = "private_repository_forking.clear" satisfies KnownAction;
const DISABLE = "private_repository_forking.disable" satisfies KnownAction;
const SWEEP = "sweep.org_settings" satisfies KnownAction;
const SETTING = "members_can_fork_private_repositories";

/** State is kept long: it is only rewritten when the policy changes, which may be years apart. */
const KEEP = 2 * 365 * 24 * 60 * 60 * 1000;

interface Episode {
  day: string;
  at: number;
}

function dayOf(at: number): string {
  return Number.isFinite(at) ? new Date(at).toISOString().slice(0, 10) : "unknown-date";
}

/** The scope a forking policy belongs to: the repository when the entry names one, else the org. */
function scopeOf(e: OrgEvent): string | null {
  if (e.repo && e.action !== SWEEP) return e.repo;
  return e.org;
}

function openEpisode(state: DetectorState, scope: string, at: number): Episode {
  const key = `open:${scope.toLowerCase()}`;
  const open = state.get<Episode>(key);
  if (open && typeof open.day === "string") return open;
  const episode = { day: dayOf(at), at };
  state.set(key, episode, at + KEEP);
  return episode;
}

function closeEpisode(state: DetectorState, scope: string): void {
  state.delete(`open:${scope.toLowerCase()}`);
}

function draft(e: OrgEvent, scope: string, episode: Episode, summary: string, how: string): FindingDraft {
  return {
    subject: `${scope}:${episode.day}`,
    severity: "medium",
    summary,
    actor: e.actor,
    repos: e.repo && e.action !== SWEEP ? [e.repo] : [],
    evidence: {
      action: e.action,
      scope,
      "seen by": how,
      [SETTING]: e.action === SWEEP ? true : e.action === ENABLE ? true : "org policy removed; repositories decide",
    },
  };
}

export const forkingPolicyChanged = defineDetector({
  id: "forking-policy-changed",
  title: "Forking of private repositories allowed",
  warningSign: "opens the fork channel",
  source: "audit `private_repository_forking.enable` / `.clear`; org-settings sweep",
  defaultSeverity: "medium",
  enabledByDefault: true,
  actions: [ENABLE, CLEAR, DISABLE, SWEEP],
  settings: z.object({
    report_clear: z
      .boolean()
      .default(true)
      .describe("Report `private_repository_forking.clear` (the policy removed, so each repository decides).")
      .register(watches, { weaker: "off" }),
    report_first_sweep: z
      .boolean()
      .default(true)
      .describe("Report once when the first sweep of an org finds forking of private repositories already allowed.")
      .register(watches, { weaker: "off" }),
  }),
  nextSteps: [
    "Confirm with the org owner who changed the forking policy and why.",
    "If nobody needs it, turn it off: `PATCH /orgs/{org}` with `members_can_fork_private_repositories: false`, or Settings → Member privileges → Repository forking.",
    "While it was on, forks into personal accounts were possible: review personal-fork findings and `GET /repos/{owner}/{repo}/forks` for the org's private repositories.",
  ],
  detect(event, ctx) {
    const scope = scopeOf(event);
    if (!scope) return [];
    const lastKey = `last:${scope.toLowerCase()}`;

    if (event.action === SWEEP) {
      const value = event.details.extra?.[SETTING];
      if (typeof value !== "boolean") return [];
      const last = ctx.state.get<boolean>(lastKey);
      ctx.state.set(lastKey, value, event.at + KEEP);
      if (!value) {
        closeEpisode(ctx.state, scope);
        return [];
      }
      if (last === true) return [];
      if (last === undefined && !ctx.settings.report_first_sweep) {
        openEpisode(ctx.state, scope, event.at);
        return [];
      }
      const episode = openEpisode(ctx.state, scope, event.at);
      const summary =
        last === undefined
          ? `${scope} allows members to fork private repositories (found by the first settings sweep)`
          : `${scope} now allows members to fork private repositories`;
      return [draft(event, scope, episode, summary, "org settings sweep")];
    }

    if (event.action === DISABLE) {
      if (scope === event.org) ctx.state.set(lastKey, false, event.at + KEEP);
      closeEpisode(ctx.state, scope);
      return [];
    }

    if (event.action === CLEAR && !ctx.settings.report_clear) return [];
    // An org-level enable is what the sweep will read next; noting it keeps the sweep from adding evidence.
    if (event.action === ENABLE && scope === event.org) ctx.state.set(lastKey, true, event.at + KEEP);
    const episode = openEpisode(ctx.state, scope, event.at);
    const what = event.repo ? "repository" : "org";
    const summary =
      event.action === ENABLE
        ? `Forking of private repositories allowed for ${what} ${scope}`
        : `Forking policy cleared for ${what} ${scope}: repositories now decide`;
    return [draft(event, scope, episode, summary, "audit log")];
  },
});
