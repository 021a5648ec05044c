// Rate limiting for GitHub calls that Probot's own throttling does not cover well. The org audit log has
// its own budget (1,750 queries per hour per user and IP) on top of the installation's primary limit, so
// every audit-log request goes through one Bottleneck limiter that stays far below it, and `withRetries`
// waits out rate limits (`retry-after`, `x-ratelimit-reset`) and backs off on 5xx a bounded number of times.
// The clock and the sleep are injectable so tests never wait.
import Bottleneck from "bottleneck";

/** Audit-log requests per hour: about a third of GitHub's 1,750, leaving room for people and other tools. */
export const AUDIT_LOG_REQUESTS_PER_HOUR = 600;
/** Spacing between two audit-log requests. */
export const AUDIT_LOG_MIN_TIME_MS = 1_000;

export interface AuditLogLimiterOptions {
  perHour?: number;
  minTimeMs?: number;
}

/**
 * The limiter shared by every audit-log request of the process. Create it once and hand the same instance
 * to every poller: two limiters would each allow the full budget.
 */
export function createAuditLogLimiter(opts: AuditLogLimiterOptions = {}): Bottleneck {
  const perHour = opts.perHour ?? AUDIT_LOG_REQUESTS_PER_HOUR;
  return new Bottleneck({
    maxConcurrent: 1,
    minTime: opts.minTimeMs ?? AUDIT_LOG_MIN_TIME_MS,
    reservoir: perHour,
    reservoirRefreshAmount: perHour,
    reservoirRefreshInterval: 60 * 60 * 1000,
  });
}

/** What a failed Octokit request looks like, read defensively (RequestError or anything shaped like it). */
export interface HttpFailure {
  status: number | null;
  headers: Record<string, string | undefined>;
  message: string;
}

export function httpFailure(err: unknown): HttpFailure {
  const e = (err ?? {}) as { status?: unknown; message?: unknown; response?: { headers?: unknown } };
  const raw = e.response && typeof e.response.headers === "object" && e.response.headers ? e.response.headers : {};
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (v !== undefined && v !== null) headers[k.toLowerCase()] = String(v);
  }
  return {
    status: typeof e.status === "number" ? e.status : null,
    headers,
    message: typeof e.message === "string" ? e.message : String(err),
  };
}

/** 429 always; 403 only with rate-limit headers or message (a plain 403 is a permission problem). */
export function isRateLimited(f: HttpFailure): boolean {
  if (f.status === 429) return true;
  if (f.status !== 403) return false;
  return (
    f.headers["retry-after"] !== undefined ||
    f.headers["x-ratelimit-remaining"] === "0" ||
    /rate limit/i.test(f.message)
  );
}

/** 5xx, or no status at all (the connection failed before an answer). */
export function isServerError(f: HttpFailure): boolean {
  return f.status === null || (f.status >= 500 && f.status <= 599);
}

/**
 * How long to wait before retrying a rate-limited request: `retry-after` when given, else until
 * `x-ratelimit-reset` when the budget is spent, else at least a minute, doubling with each attempt
 * (GitHub's documented guidance for secondary limits).
 */
export function rateLimitWaitMs(f: HttpFailure, now: number, attempt: number): number {
  const retryAfter = Number(f.headers["retry-after"]);
  if (f.headers["retry-after"] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) {
    return retryAfter * 1000;
  }
  const reset = Number(f.headers["x-ratelimit-reset"]);
  if (f.headers["x-ratelimit-remaining"] === "0" && Number.isFinite(reset) && reset > 0) {
    // One extra second because the reset time is rounded down to the second.
    return Math.max(0, reset * 1000 - now) + 1000;
  }
  return 60_000 * 2 ** attempt;
}

export class GiveUpError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = "GiveUpError";
  }
}

export interface RetryOptions {
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Retries after a rate limit (so at most 1 + this many attempts). */
  rateLimitRetries?: number;
  /** Retries after a 5xx or a failed connection. */
  serverErrorRetries?: number;
  /** First 5xx backoff; doubles each time. */
  backoffMs?: number;
  /** A rate-limit wait longer than this is not waited out: the caller tries again on its next run. */
  maxWaitMs?: number;
  onRetry?: (info: { attempt: number; waitMs: number; status: number | null; reason: "rate-limit" | "server-error" }) => void;
}

export const DEFAULT_RETRY = {
  rateLimitRetries: 3,
  serverErrorRetries: 4,
  backoffMs: 2_000,
  maxWaitMs: 15 * 60 * 1000,
} as const;

/**
 * Runs `fn` through `limiter` (every attempt, retries included, counts against its budget). Rate limits
 * and 5xx are retried a bounded number of times; anything else, and the last failure, is thrown as is
 * (a `GiveUpError` wrapping it when retries ran out or the wait would be too long).
 */
export async function withRetries<T>(limiter: Bottleneck, fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const rateLimitRetries = opts.rateLimitRetries ?? DEFAULT_RETRY.rateLimitRetries;
  const serverErrorRetries = opts.serverErrorRetries ?? DEFAULT_RETRY.serverErrorRetries;
  const backoffMs = opts.backoffMs ?? DEFAULT_RETRY.backoffMs;
  const maxWaitMs = opts.maxWaitMs ?? DEFAULT_RETRY.maxWaitMs;
  let rateLimited = 0;
  let serverErrors = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await limiter.schedule(fn);
    } catch (err) {
      const f = httpFailure(err);
      let waitMs: number;
      let reason: "rate-limit" | "server-error";
      if (isRateLimited(f)) {
        if (rateLimited >= rateLimitRetries) {
          throw new GiveUpError(`still rate limited after ${rateLimited + 1} attempts: ${f.message}`, err);
        }
        waitMs = rateLimitWaitMs(f, opts.now(), rateLimited);
        if (waitMs > maxWaitMs) {
          throw new GiveUpError(
            `rate limited for ${Math.ceil(waitMs / 60_000)} more minutes; the next run tries again: ${f.message}`,
            err,
          );
        }
        rateLimited++;
        reason = "rate-limit";
      } else if (isServerError(f)) {
        if (serverErrors >= serverErrorRetries) {
          throw new GiveUpError(`GitHub kept failing (${f.status ?? "no answer"}) after ${serverErrors + 1} attempts: ${f.message}`, err);
        }
        waitMs = backoffMs * 2 ** serverErrors;
        serverErrors++;
        reason = "server-error";
      } else {
        throw err;
      }
      opts.onRetry?.({ attempt: attempt + 1, waitMs, status: f.status, reason });
      await opts.sleep(waitMs);
    }
  }
}
