// When a GitHub account was created, for raising findings against young accounts (the warning's pattern is
// exfiltration soon after a fresh identity appears). Answers are cached in the storage's directory and
// re-checked after a week, because a login can be renamed away and registered again by someone else.
import type { OctokitLike } from "./octokit.js";
import type { AccountRecord, Storage } from "../store/storage.js";

export const ACCOUNT_RECHECK_MS = 7 * 24 * 60 * 60 * 1000;

function statusOf(err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : undefined;
}

/**
 * Epoch ms at which `login`'s account was created; null when it does not exist (an answer: "no such user",
 * 404, is cached); undefined when it could not be learned now (rate limit, network, odd payload), which is
 * not cached, so the next call asks again.
 */
/** Whether a cached answer about an account is still to be trusted at `now`, without asking GitHub again. */
export function isFreshAccount(cached: AccountRecord | undefined, now: number): cached is AccountRecord {
  return cached !== undefined && now - cached.checkedAt < ACCOUNT_RECHECK_MS && now >= cached.checkedAt;
}

export async function accountCreatedAt(
  login: string,
  deps: { octokit: OctokitLike; storage: Pick<Storage, "directory">; now: number },
): Promise<number | null | undefined> {
  if (login.trim() === "") return null;
  const { directory } = deps.storage;
  const cached = await directory.account(login);
  if (isFreshAccount(cached, deps.now)) {
    return cached.createdAt;
  }
  let res: Awaited<ReturnType<OctokitLike["request"]>>;
  try {
    res = await deps.octokit.request("GET /users/{username}", { username: login });
  } catch (err) {
    if (statusOf(err) !== 404) return undefined;
    await directory.setAccount(login, null, deps.now);
    return null;
  }
  if (res.status === 404) {
    await directory.setAccount(login, null, deps.now);
    return null;
  }
  if (res.status < 200 || res.status > 299) return undefined;
  const raw = (res.data as { created_at?: unknown } | null)?.created_at;
  const createdAt = typeof raw === "string" ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(createdAt)) return undefined;
  await directory.setAccount(login, createdAt, deps.now);
  return createdAt;
}
