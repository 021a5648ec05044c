// Converts one webhook delivery into normalized events. Payloads are attacker-influenced and arrive in many
// shapes (GitHub changes them, old redeliveries keep old shapes), so every field is read defensively: an
// unexpected shape yields fewer facts or no event at all, never an exception that would drop the delivery.
import { createHash } from "node:crypto";
import type { KnownAction, WebhookAction } from "./actions.js";
import type { EventDetails, OrgEvent, Visibility } from "./types.js";

export interface WebhookInput {
  /** The `X-GitHub-Event` header: `push`, `fork`, `repository`... */
  name: string;
  /** The `X-GitHub-Delivery` guid; stays the same on redelivery, so event ids do too. */
  id: string;
  payload: unknown;
  /** Epoch milliseconds when the delivery was accepted; webhooks carry no reliable time of their own. */
  receivedAt: number;
}

type Obj = Record<string, unknown>;
type Extra = NonNullable<EventDetails["extra"]>;

function obj(v: unknown): Obj | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function bool(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}

// Actions become part of the normalized action name; anything outside GitHub's vocabulary is dropped.
const ACTION = /^[a-z][a-z_]{0,63}$/;

function visibilityOf(repo: Obj | undefined): Visibility | null {
  if (!repo) return null;
  const v = repo.visibility;
  if (v === "public" || v === "private" || v === "internal") return v;
  const priv = bool(repo.private);
  return priv === undefined ? null : priv ? "private" : "public";
}

function orgOf(payload: Obj, repo: Obj | undefined): string | null {
  const fromOrg = str(obj(payload.organization)?.login);
  if (fromOrg) return fromOrg;
  const owner = obj(repo?.owner);
  // Push payloads describe the owner with `name` (and sometimes `login`).
  if (owner && owner.type === "Organization") return str(owner.login) ?? str(owner.name) ?? null;
  // Push payloads also carry the org login as a plain string on the repository.
  return str(repo?.organization) ?? null;
}

/**
 * GitHub's SHA256 fingerprint of an OpenSSH public key (`ssh-keygen -l` format): "SHA256:" and the unpadded
 * base64 of the SHA-256 of the decoded key blob. Undefined when the text is not a key.
 */
export function sshKeyFingerprint(key: unknown): string | undefined {
  const blob = str(key)?.trim().split(/\s+/)[1];
  if (!blob || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return undefined;
  const bytes = Buffer.from(blob, "base64");
  if (bytes.length === 0) return undefined;
  return `SHA256:${createHash("sha256").update(bytes).digest("base64").replace(/=+$/, "")}`;
}

function permissionsSummary(p: unknown): string | null {
  const groups = obj(p);
  if (!groups) return null;
  const parts: string[] = [];
  for (const [group, perms] of Object.entries(groups)) {
    const entries = Object.entries(obj(perms) ?? {})
      .filter(([, level]) => typeof level === "string")
      .map(([name, level]) => `${name}=${String(level)}`);
    if (entries.length > 0) parts.push(`${group}: ${entries.join(", ")}`);
  }
  return parts.length > 0 ? parts.join("; ") : null;
}

function distinctAuthorEmails(commits: unknown[]): string[] {
  const seen = new Set<string>();
  for (const c of commits) {
    const email = str(obj(obj(c)?.author)?.email);
    if (email) seen.add(email);
  }
  return [...seen];
}

function withoutUndefined(d: EventDetails): EventDetails {
  return Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) as EventDetails;
}

const REPO_EVENTS = new Set(["fork", "public", "repository", "deploy_key", "member", "push"]);

/** What one delivery says, before the common fields are added. */
interface Mapped {
  /** Checked against the catalogue (actions.ts): only pass-through events may name uncatalogued actions. */
  action: WebhookAction;
  details: EventDetails;
  visibility?: Visibility | null;
}

function mapDelivery(name: string, payload: Obj, repo: Obj | undefined): Mapped[] {
  const action = str(payload.action);
  switch (name) {
    case "fork": {
      const forkee = obj(payload.forkee);
      const owner = obj(forkee?.owner);
      return [
        {
          action: "fork",
          details: {
            forkFullName: str(forkee?.full_name),
            forkOwner: str(owner?.login),
            forkOwnerType: str(owner?.type),
          },
        },
      ];
    }
    case "public":
      return [{ action: "public", details: { previousVisibility: null }, visibility: "public" }];
    case "repository": {
      if (!action || !ACTION.test(action)) return [];
      if (action === "publicized") {
        return [
          { action: "repository.publicized" satisfies KnownAction, details: { previousVisibility: null }, visibility: "public" },
        ];
      }
      return [{ action: `repository.${action}`, details: {} }];
    }
    case "deploy_key": {
      if (action !== "created" && action !== "deleted") return [];
      const key = obj(payload.key);
      const readOnly = bool(key?.read_only);
      return [
        {
          action: `deploy_key.${action}`,
          details: {
            keyTitle: str(key?.title),
            keyId: num(key?.id),
            keyFingerprint: sshKeyFingerprint(key?.key),
            keyReadOnly: readOnly ?? null,
          },
        },
      ];
    }
    case "member": {
      if (action !== "added" && action !== "edited") return [];
      const changes = obj(payload.changes);
      const permission = str(obj(changes?.permission)?.to) ?? str(obj(changes?.role_name)?.to) ?? null;
      const previous = str(obj(changes?.old_permission)?.from) ?? str(obj(changes?.permission)?.from);
      return [
        {
          action: `member.${action}`,
          details: {
            user: str(obj(payload.member)?.login),
            permission,
            extra: previous ? { previousPermission: previous } : undefined,
          },
        },
      ];
    }
    case "push": {
      const commits = Array.isArray(payload.commits) ? payload.commits : undefined;
      return [
        {
          action: "push",
          details: {
            ref: str(payload.ref),
            defaultBranch: str(repo?.default_branch) ?? str(repo?.master_branch),
            forced: bool(payload.forced),
            deleted: bool(payload.deleted),
            created: bool(payload.created),
            before: str(payload.before),
            after: str(payload.after),
            commitCount: commits?.length,
            authorEmails: commits ? distinctAuthorEmails(commits) : undefined,
          },
        },
      ];
    }
    case "organization": {
      if (action !== "member_added" && action !== "member_removed") return [];
      return [
        { action: `organization.${action}`, details: { user: str(obj(obj(payload.membership)?.user)?.login) } },
      ];
    }
    case "personal_access_token_request": {
      if (!action || !ACTION.test(action)) return [];
      const request = obj(payload.personal_access_token_request);
      const extra: Extra = {
        tokenId: num(request?.token_id) ?? null,
        tokenName: str(request?.token_name) ?? null,
        requestId: num(request?.id) ?? null,
        permissions: permissionsSummary(request?.permissions_result ?? request?.permissions_added),
        repositorySelection: str(request?.repository_selection) ?? null,
        repositoryCount: num(request?.repository_count) ?? null,
      };
      return [
        {
          action: `personal_access_token_request.${action}`,
          details: { user: str(obj(request?.owner)?.login), extra },
        },
      ];
    }
    default:
      // installation, installation_repositories and every other event carry nothing a detector reads.
      return [];
  }
}

/**
 * Normalized events of one webhook delivery: none for events no detector reads or payloads that are not
 * what GitHub sends. Never throws.
 */
export function fromWebhook(input: WebhookInput): OrgEvent[] {
  // The declared type is not trusted: the input is built from an HTTP request.
  const raw = obj(input as unknown);
  const payload = obj(raw?.payload);
  if (!payload || typeof input.name !== "string" || typeof input.id !== "string") return [];
  const repo = obj(payload.repository);
  const org = orgOf(payload, repo);
  // An event about nothing identifiable is noise: repository events need the repository, org events the org.
  const scope = REPO_EVENTS.has(input.name) ? str(repo?.full_name) : org;
  if (!scope) return [];
  const mapped = mapDelivery(input.name, payload, repo);
  const sender = obj(payload.sender);
  const at = num(input.receivedAt) ?? 0;
  return mapped.map((m, i) => ({
    id: mapped.length === 1 ? `webhook:${input.id}` : `webhook:${input.id}#${i + 1}`,
    source: "webhook",
    action: m.action,
    at,
    org,
    actor: str(sender?.login) ?? null,
    actorId: num(sender?.id) ?? null,
    actorIsBot: sender?.type === "Bot",
    repo: str(repo?.full_name) ?? null,
    visibility: m.visibility !== undefined ? m.visibility : visibilityOf(repo),
    country: null,
    ip: null,
    token: null,
    tokenType: null,
    installationId: num(obj(payload.installation)?.id) ?? null,
    details: withoutUndefined(m.details),
  }));
}
