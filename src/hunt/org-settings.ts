// The org-settings sweep: reads `GET /orgs/{org}` (conditionally, with the stored ETag) and turns the
// settings that open or close exfiltration channels into one `sweep.org_settings` event whenever they change.
// It works on every plan, so forking-policy-changed still sees the fork channel open where the org has no
// audit-log API.
//
// Event ids are `sweep:org_settings:<org>:<hash of the values>:<change number>`: an unchanged setting never
// makes a new event, and a setting turned off and on again is still a new one. The record is saved before
// the event is handed back; a later sweep rebuilds the event if it never reached the storage.
import { sweepEvent } from "../events/sweep.js";
import { createHash } from "node:crypto";
import type { OrgEvent } from "../events/types.js";
import { header, statusOf, type SweepDeps } from "./inventory.js";

export type { OctokitLike, SweepDeps } from "./inventory.js";

/** Org fields worth watching; each is reported only when GitHub returns it (some need org Administration: read). */
export const WATCHED_SETTINGS = [
  "members_can_fork_private_repositories",
  "members_can_create_public_repositories",
  "two_factor_requirement_enabled",
] as const;

interface SettingsRecord {
  etag: string | null;
  values: Record<string, boolean>;
  hash: string;
  /** Incremented at each change; part of the event id. */
  seq: number;
  /** When this set of values was first read: the event's time. */
  at: number;
}

function hashOf(values: Record<string, boolean>): string {
  const canonical = JSON.stringify(Object.keys(values).sort().map((k) => [k, values[k]]));
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

function pick(data: unknown): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (!data || typeof data !== "object") return out;
  for (const k of WATCHED_SETTINGS) {
    const v = (data as Record<string, unknown>)[k];
    if (typeof v === "boolean") out[k] = v;
  }
  return out;
}

type OrgRead = { values: Record<string, boolean>; etag: string | null } | "not-modified";

async function readOrg(deps: SweepDeps, etag: string | null): Promise<OrgRead> {
  try {
    const res = await deps.octokit.request("GET /orgs/{org}", {
      org: deps.org,
      ...(etag ? { headers: { "if-none-match": etag } } : {}),
    });
    if (res.status === 304) return "not-modified";
    return { values: pick(res.data), etag: header(res.headers, "etag") };
  } catch (err) {
    const status = statusOf(err);
    if (status === 304) return "not-modified";
    const hint =
      status === 404
        ? `the org ${deps.org} does not exist any more or the app is no longer installed on it`
        : "GitHub did not answer usefully; the sweep is retried at the next tick";
    const code = status ? ` (${status})` : "";
    throw new Error(`Reading the settings of ${deps.org} failed${code}: ${hint}.`, { cause: err });
  }
}

function usable(raw: unknown): SettingsRecord | null {
  if (!raw || typeof raw !== "object") return null;
  const r = raw as Partial<SettingsRecord>;
  if (typeof r.hash !== "string" || typeof r.seq !== "number" || typeof r.at !== "number") return null;
  if (!r.values || typeof r.values !== "object") return null;
  return { etag: typeof r.etag === "string" ? r.etag : null, values: r.values, hash: r.hash, seq: r.seq, at: r.at };
}

/** Reads the org's settings and returns a `sweep.org_settings` event when they changed (or on the first read). */
export async function sweepOrgSettings(deps: SweepDeps): Promise<OrgEvent[]> {
  const { storage, org, now } = deps;
  const key = `org_settings:${org.toLowerCase()}`;
  const stored = usable(await storage.sweeps.state<unknown>(key));

  const read = await readOrg(deps, stored?.etag ?? null);
  let current: SettingsRecord;
  if (read === "not-modified") {
    // Only possible when an ETag was sent, that is with a stored record.
    if (!stored) return [];
    current = stored;
  } else {
    const hash = hashOf(read.values);
    current =
      stored && stored.hash === hash
        ? { ...stored, etag: read.etag }
        : { etag: read.etag, values: read.values, hash, seq: (stored?.seq ?? 0) + 1, at: now };
    await storage.sweeps.saveState(key, current, now);
  }

  if (Object.keys(current.values).length === 0) return [];
  const id = `sweep:org_settings:${org}:${current.hash}:${current.seq}`;
  if (await storage.events.has(id)) return [];
  return [
    sweepEvent({
      id,
      action: "sweep.org_settings",
      at: current.at,
      org,
      installationId: deps.installationId,
      details: { extra: { ...current.values } },
    }),
  ];
}
