// When a GitHub account was created, for raising findings against young accounts (the warning's pattern is
// exfiltration soon after a fresh identity appears). Answers are cached in the store and re-checked after a
// week, because a login can be renamed away and registered again by someone else.
import type { OctokitLike } from "./octokit.js";
import type { Store } from "../store/store.js";

export const ACCOUNT_RECHECK_MS = 7 * 24 * 60 * 60 * 1000;

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

/**
 * Epoch ms at which `login`'s account was created, or null when it does not exist or could not be learned.
 * "No such user" (404) is an answer and is cached; a failure (rate limit, network, odd payload) is not, so
 * the next call asks again.
 */
export async function accountCreatedAt(
  login: string,
  deps: { octokit: OctokitLike; store: Store; now: number },
): Promise<number | null> {
  if (login.trim() === "") return null;
  const cached = deps.store.account(login);
  if (cached && deps.now - cached.checkedAt < ACCOUNT_RECHECK_MS && deps.now >= cached.checkedAt) {
    return cached.createdAt;
  }
  let res: Awaited<ReturnType<OctokitLike["request"]>>;
  try {
    res = await deps.octokit.request("GET /users/{username}", { username: login });
  } catch (err) {
    if (statusOf(err) === 404) {
      deps.store.setAccount(login, null, deps.now);
    }
    return null;
  }
  if (res.status === 404) {
    deps.store.setAccount(login, null, deps.now);
    return null;
  }
  if (res.status < 200 || res.status > 299) return null;
  const raw = (res.data as { created_at?: unknown } | null)?.created_at;
  const createdAt = typeof raw === "string" ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(createdAt)) return null;
  deps.store.setAccount(login, createdAt, deps.now);
  return createdAt;
}
