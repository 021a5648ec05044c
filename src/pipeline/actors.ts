// The actor check: raises a finding one step when its actor's GitHub account was younger than 30 days when
// the finding was first seen. The rule itself lives in the engine (engine/raise.ts), which applies it when it
// records a finding and the directory already knows the actor's account. An account's creation date is a fact
// the app must fetch from GitHub, and judging never waits for the network, so this is the enrichment step
// that fetches it: the app's drain loop runs it over findings whose actor was not checked yet, caches each
// answer in the directory (where the engine finds it for later events) and applies the same rule. The CLI has
// no credentials and never runs it: it raises only from the facts it has.
//
// A finding held below `alerts.min_severity` and raised here is released by the dispatcher's next flush.
import { raiseSeverity } from "../domain/severity.js";
import { youngAccountReason } from "../engine/raise.js";
import { accountCreatedAt, isFreshAccount } from "../github/accounts.js";
import type { OctokitLike } from "../github/octokit.js";
import type { Storage } from "../store/storage.js";

/** GitHub lookups per pass, so one pass stays short; the rest wait for the next. */
export const MAX_CHECKS_PER_PASS = 50;
/**
 * Findings looked at per pass. Most need no lookup (the actor's account is known from an earlier finding), and
 * findings of an installation the app cannot act as are passed over without one: reading well past the lookup
 * budget keeps them from holding the head of the queue.
 */
export const MAX_FINDINGS_PER_PASS = 1000;
/**
 * A finding whose actor's account could not be learned for this long after it was recorded is marked checked
 * as it is: findings that fail for good (an installation that is gone) must not hold the oldest places of the
 * queue for ever and keep every newer finding from being checked.
 */
export const GIVE_UP_AFTER_MS = 24 * 60 * 60 * 1000;

export interface CheckActorsOptions {
  storage: Storage;
  octokitFor: (installationId: number) => Promise<OctokitLike>;
  /** Epoch ms of this pass: the time account answers are cached at. */
  now: number;
  log: { warn(obj: object, msg: string): void };
}

/**
 * Checks the actors of findings not checked yet, those without an issue first, with at most
 * MAX_CHECKS_PER_PASS lookups on GitHub (an account already known costs none). A lookup that fails (rate limit, GitHub down)
 * leaves its finding unchecked and ends the pass: the next pass asks again rather than spend the budget now.
 * An installation the app cannot act as leaves only its own findings unchecked. Answers how many it raised.
 */
export async function checkActors(opts: CheckActorsOptions): Promise<number> {
  const { storage, now, log } = opts;
  const clients = new Map<number, Promise<OctokitLike | null>>();
  const client = (installationId: number): Promise<OctokitLike | null> => {
    let c = clients.get(installationId);
    if (!c) {
      c = opts.octokitFor(installationId).catch((err: unknown) => {
        log.warn({ err, installationId }, "could not act as the installation to look up actors' accounts; its findings are checked on a later pass");
        return null;
      });
      clients.set(installationId, c);
    }
    return c;
  };

  let raised = 0;
  let lookups = 0;
  for (const f of await storage.findings.actorsToCheck(MAX_FINDINGS_PER_PASS)) {
    // Offline findings (an export judged without credentials) have no installation to ask through.
    if (f.actor === null || f.installationId === null) {
      await storage.findings.markActorChecked(f.id);
      continue;
    }
    const octokit = await client(f.installationId);
    const known = await storage.directory.account(f.actor);
    const fresh = isFreshAccount(known, now);
    if (!fresh && octokit) {
      // Out of lookups for this pass: findings of accounts already known are still checked.
      if (lookups >= MAX_CHECKS_PER_PASS) continue;
      lookups++;
    }
    const createdAt = fresh ? known.createdAt : octokit ? await accountCreatedAt(f.actor, { octokit, storage, now }) : undefined;
    if (createdAt === undefined) {
      if (now - f.createdAt >= GIVE_UP_AFTER_MS) {
        await storage.findings.markActorChecked(f.id);
        log.warn(
          { finding: f.fingerprint, actor: f.actor, installationId: f.installationId },
          "the actor's GitHub account could not be looked up for a day; the finding keeps its severity",
        );
      }
      if (!octokit) continue;
      log.warn(
        { finding: f.fingerprint, actor: f.actor, installationId: f.installationId },
        "could not look up the actor's GitHub account; this finding and the rest are checked on the next pass",
      );
      break;
    }
    if (await settle(storage, f.id, f.actor, createdAt)) raised++;
  }
  return raised;
}

/** Applies the rule to the finding as it is now (events recorded during the lookup may have changed it). */
function settle(storage: Storage, id: number, actor: string, createdAt: number | null): Promise<boolean> {
  return storage.unitOfWork(async (tx) => {
    const current = await tx.findings.getById(id);
    if (!current || current.actorChecked) return false;
    const reason = youngAccountReason(actor, createdAt, current.firstSeen);
    if (reason !== null && current.raisedReason === null) {
      await tx.findings.raise(current.id, raiseSeverity(current.severity), reason);
      return true;
    }
    await tx.findings.markActorChecked(current.id);
    return false;
  });
}
