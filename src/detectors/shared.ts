// Helpers several detectors share. Detectors never import each other: what two of them must agree on (what
// counts as a copy, who is automation, how an hour is named) lives here, beside them.
import type { KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";

/** Actions that hand a full copy of a repository's code to whoever ran them (credential-added counts these). */
export const COPY_ACTIONS = ["git.clone", "repo.download_zip"] as const satisfies readonly KnownAction[];

/**
 * Whether an event is a human's (or a personal token's) copy of a non-public repository: what both
 * mass-clone and credential-added count. Bots and GitHub App server-to-server tokens run CI and
 * mirrors all day; public repositories can be copied by anyone anyway. Unknown visibility (older audit
 * entries) counts, because missing is not the same as public.
 */
export function isCountedCopy(event: OrgEvent): boolean {
  if (!event.repo || !Number.isFinite(event.at)) return false;
  if (isAutomation(event)) return false;
  return event.visibility !== "public";
}

/** Bots and app tokens: excluded by every behavioural detector. */
export function isAutomation(event: OrgEvent): boolean {
  if (event.actorIsBot) return true;
  return typeof event.tokenType === "string" && /server-to-server/i.test(event.tokenType);
}

/** `2026-10-02T10`: the hour used in burst subjects. */
export function isoHour(at: number): string {
  return new Date(at).toISOString().slice(0, 13);
}

