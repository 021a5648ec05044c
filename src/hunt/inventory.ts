// The inventory sweep: lists the org's repositories and compares them with the last listing, because a
// repository transferred out of the org (or deleted) sends the org's installation no webhook at all. Each
// repository that was listed and is gone becomes one `sweep.repo_missing` event for repo-transferred.
//
// Cost: every page is asked with `If-None-Match` and its stored ETag; a 304 costs nothing against the rate
// limit. All stored pages are checked, not only the first: the list is sorted newest first, so removing an
// old repository changes only a later page. The first sweep of an org records a baseline and reports nothing.
//
// Crash safety: the inventory is saved before the events are handed back, so an event lost between the two
// is rebuilt from the stored row by a later sweep (for a week) until the storage holds it.
import type { OrgEvent, Visibility } from "../events/types.js";
import { sweepEvent } from "../events/sweep.js";
import type { OctokitLike } from "../github/octokit.js";
import type { InventoryListing, InventoryRepo, Storage } from "../store/storage.js";

export type { OctokitLike };

export interface SweepDeps {
  octokit: OctokitLike;
  storage: Storage;
  org: string;
  installationId: number;
  /** Epoch ms of this sweep: the time of the events it makes. */
  now: number;
}

const PER_PAGE = 100;
/** 100,000 repositories; a link header that never ends must not loop forever. */
const MAX_PAGES = 1000;
const DAY = 24 * 60 * 60 * 1000;
/**
 * Repositories looked up one by one per sweep. Far more vanishing at once usually means the installation lost
 * access, not a hundred transfers; the rest wait for the next sweeps rather than spend the rate limit now.
 */
const MAX_LOOKUPS = 100;
/** How long an event lost before it reached the storage is rebuilt by later sweeps. */
const REEMIT_FOR = 7 * DAY;

interface InventoryRecord {
  /** ETag of each page of the last complete listing, in order; null when GitHub sent none. */
  etags: (string | null)[];
  at: number;
}

export function statusOf(err: unknown): number | null {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === "number" ? status : null;
}

export function header(headers: Record<string, unknown> | undefined, name: string): string | null {
  if (!headers) return null;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name && (typeof v === "string" || typeof v === "number")) return String(v);
  }
  return null;
}

/** Whether a `link` header has a `rel="next"` entry (GitHub's pagination). */
export function hasNextPage(link: string | null): boolean {
  return link !== null && link.split(",").some((part) => /;\s*rel="?next"?\s*$/.test(part.trim()));
}

type Page =
  | { kind: "not-modified" }
  | { kind: "page"; repos: InventoryListing[]; etag: string | null; hasNext: boolean };

function toVisibility(r: Record<string, unknown>): Visibility | null {
  const v = r.visibility;
  if (v === "public" || v === "private" || v === "internal") return v;
  if (typeof r.private === "boolean") return r.private ? "private" : "public";
  return null;
}

function toListing(raw: unknown): InventoryListing | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== "number" || typeof r.full_name !== "string" || !r.full_name.includes("/")) return null;
  return {
    id: r.id,
    nodeId: typeof r.node_id === "string" ? r.node_id : null,
    fullName: r.full_name,
    visibility: toVisibility(r),
  };
}

function failure(what: string, org: string, err: unknown): Error {
  const status = statusOf(err);
  const hint =
    status === 404
      ? `the org ${org} does not exist any more or the app is no longer installed on it`
      : status === 403 || status === 401
        ? "the installation token was refused: check the installation is active and has Metadata: read"
        : "GitHub did not answer usefully; the sweep is retried at the next tick";
  return new Error(`${what} failed${status ? ` (${status})` : ""}: ${hint}.`, { cause: err });
}

async function fetchPage(deps: SweepDeps, page: number, etag: string | null): Promise<Page> {
  let res: Awaited<ReturnType<OctokitLike["request"]>>;
  try {
    res = await deps.octokit.request("GET /orgs/{org}/repos", {
      org: deps.org,
      type: "all",
      per_page: PER_PAGE,
      page,
      ...(etag ? { headers: { "if-none-match": etag } } : {}),
    });
  } catch (err) {
    if (statusOf(err) === 304) return { kind: "not-modified" };
    throw failure(`Listing the repositories of ${deps.org} (page ${page})`, deps.org, err);
  }
  if (res.status === 304) return { kind: "not-modified" };
  if (!Array.isArray(res.data)) {
    throw new Error(
      `Listing the repositories of ${deps.org} returned something other than a list; the sweep is retried at the next tick.`,
    );
  }
  const repos = res.data.map(toListing).filter((r): r is InventoryListing => r !== null);
  return { kind: "page", repos, etag: header(res.headers, "etag"), hasNext: hasNextPage(header(res.headers, "link")) };
}

/**
 * The full listing, or "unchanged" when every page of the last listing answers 304. A page that changed
 * after earlier pages answered 304 restarts the listing without ETags: the earlier pages' content is needed.
 */
async function listRepos(
  deps: SweepDeps,
  etags: readonly (string | null)[],
): Promise<"unchanged" | { repos: InventoryListing[]; etags: (string | null)[] }> {
  let conditional = etags.length > 0 && etags.every((e) => e !== null);
  const pages: { repos: InventoryListing[]; etag: string | null }[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const got = await fetchPage(deps, page, conditional ? (etags[page - 1] ?? null) : null);
    if (got.kind === "not-modified") {
      if (page >= etags.length) return "unchanged";
      continue;
    }
    if (conditional && page > 1) {
      conditional = false;
      page = 0;
      continue;
    }
    conditional = false;
    pages.push({ repos: got.repos, etag: got.etag });
    if (!got.hasNext) return { repos: pages.flatMap((p) => p.repos), etags: pages.map((p) => p.etag) };
  }
  throw new Error(
    `Listing the repositories of ${deps.org} went past ${MAX_PAGES} pages; the sweep stopped without judging.`,
  );
}

type Whereabouts =
  | { kind: "here"; listing: InventoryListing }
  | { kind: "moved"; owner: string; ownerType: string | null; fullName: string }
  | { kind: "gone" }
  | { kind: "unknown" };

/**
 * A repository absent from the listing is looked up by id before it is called missing: a listing that
 * shifted while it was paged can skip one, and a repository moved somewhere the app can still see (a public
 * one, or into another org that installed the app) tells where it went.
 */
async function lookUp(deps: SweepDeps, repo: InventoryRepo): Promise<Whereabouts> {
  try {
    const res = await deps.octokit.request("GET /repositories/{repository_id}", { repository_id: repo.id });
    const data = res.data as { owner?: { login?: unknown; type?: unknown } } | null;
    const listing = toListing(res.data);
    const owner = data?.owner?.login;
    if (!listing || typeof owner !== "string") return { kind: "unknown" };
    if (owner.toLowerCase() === deps.org.toLowerCase()) return { kind: "here", listing };
    return {
      kind: "moved",
      owner,
      ownerType: typeof data?.owner?.type === "string" ? data.owner.type : null,
      fullName: listing.fullName,
    };
  } catch (err) {
    const status = statusOf(err);
    if (status === 404 || status === 403 || status === 410 || status === 451) return { kind: "gone" };
    // Rate limits and server errors decide nothing: the repository is checked again at the next sweep.
    return { kind: "unknown" };
  }
}

export function missingEventId(repo: Pick<InventoryRepo, "fullName" | "nodeId" | "id">, goneAt: number): string {
  // goneAt keeps a repository that comes back and leaves again from reusing the first event's id.
  return `sweep:repo_missing:${repo.fullName}:${repo.nodeId ?? repo.id}:${goneAt}`;
}

function missingEvent(
  deps: SweepDeps,
  repo: InventoryRepo,
  goneAt: number,
  moved: Extract<Whereabouts, { kind: "moved" }> | undefined,
): OrgEvent {
  const extra: Record<string, string | number | boolean | null> = {
    repo_id: repo.id,
    node_id: repo.nodeId,
    last_listed_at: new Date(repo.lastSeen).toISOString(),
  };
  if (moved) extra.new_nwo = moved.fullName;
  return sweepEvent({
    id: missingEventId(repo, goneAt),
    action: "sweep.repo_missing",
    at: goneAt,
    org: deps.org,
    repo: repo.fullName,
    visibility: repo.visibility,
    installationId: deps.installationId,
    details: {
      ...(moved ? { newOwner: moved.owner, ...(moved.ownerType ? { newOwnerType: moved.ownerType } : {}) } : {}),
      extra,
    },
  });
}

/** Lists the org's repositories and returns one `sweep.repo_missing` event per repository gone since last time. */
export async function sweepInventory(deps: SweepDeps): Promise<OrgEvent[]> {
  const { storage, org, now } = deps;
  const key = `inventory:${org.toLowerCase()}`;
  const record = await storage.sweeps.state<InventoryRecord>(key);
  const known = await storage.sweeps.inventory(org);
  const storedEtags = record && Array.isArray(record.etags) ? record.etags : [];

  const listing = await listRepos(deps, storedEtags);
  const moved = new Map<number, Extract<Whereabouts, { kind: "moved" }>>();

  if (listing !== "unchanged") {
    const seen = new Map(listing.repos.map((r) => [r.id, r]));
    const goneIds: number[] = [];
    let undecided = false;
    // The first sweep only sets the baseline: nothing listed before it can be missing.
    if (record) {
      let lookups = 0;
      for (const repo of known) {
        if (repo.goneAt !== null || seen.has(repo.id)) continue;
        if (++lookups > MAX_LOOKUPS) {
          undecided = true;
          continue;
        }
        const where = await lookUp(deps, repo);
        if (where.kind === "here") seen.set(repo.id, where.listing);
        else if (where.kind === "unknown") undecided = true;
        else {
          goneIds.push(repo.id);
          if (where.kind === "moved") moved.set(repo.id, where);
        }
      }
    }
    await storage.unitOfWork(async (tx) => {
      await tx.sweeps.saveInventory(org, [...seen.values()], goneIds, now);
      // An undecided repository must be looked at again next time, so no ETag may short-cut that sweep.
      await tx.sweeps.saveState(key, { etags: undecided ? [] : listing.etags, at: now } satisfies InventoryRecord, now);
    });
  }

  const events: OrgEvent[] = [];
  for (const repo of await storage.sweeps.inventory(org)) {
    if (repo.goneAt === null || now - repo.goneAt > REEMIT_FOR) continue;
    const event = missingEvent(deps, repo, repo.goneAt, moved.get(repo.id));
    if (!(await storage.events.has(event.id))) events.push(event);
  }
  return events;
}
