// deploy-key-added: an SSH deploy key added to a company repository. A deploy key is a credential tied to
// no person, so it is a quiet channel for mirroring code out (read) or rewriting it (write). The audit log
// names deploy keys and users' own SSH keys alike `public_key.create`; only entries that name a repository
// are deploy keys (a user's own key is credential-added's business).
import { z } from "zod";
import { defineDetector } from "./types.js";
import { watches } from "../domain/watch.js";

export const deployKeyAdded = defineDetector({
  id: "deploy-key-added",
  title: "Deploy key added to a repository",
  warningSign: "copy pushed outside the org",
  source: "`deploy_key` webhook; audit `public_key.create` on a repository",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: ["deploy_key.created", "public_key.create"],
  settings: z.object({
    read_only: z
      .boolean()
      .default(true)
      .describe("Also report read-only deploy keys (medium): read access is enough to mirror a repository.")
      .register(watches, { weaker: "off" }),
  }),
  nextSteps: [
    "Ask the person who added the key what system uses it; a key nobody can account for should be deleted (Settings → Deploy keys).",
    "Compare the key's fingerprint with the keys of known CI and deployment systems.",
    "If the key has write access and is not needed, delete it or re-add it read-only.",
    "Check the audit log for clones and fetches made with the key since it was added.",
  ],
  detect(event, ctx) {
    const repo = event.repo;
    if (!repo) return [];
    const { keyTitle, keyId, keyFingerprint, keyReadOnly } = event.details;
    const readOnly = keyReadOnly === true;
    if (readOnly && !ctx.settings.read_only) return [];
    const access = keyReadOnly === true ? "read-only" : keyReadOnly === false ? "read and write" : "unknown (judged as write)";
    const keyName = keyFingerprint ?? keyTitle ?? (keyId !== undefined ? String(keyId) : "unknown-key");
    return [
      {
        subject: `${repo}:${keyName}`,
        severity: readOnly ? "medium" : "high",
        summary: readOnly ? `Read-only deploy key added to ${repo}` : `Deploy key with write access added to ${repo}`,
        actor: event.actor,
        repos: [repo],
        evidence: {
          repository: repo,
          "key title": keyTitle ?? null,
          "key fingerprint": keyFingerprint ?? null,
          "key id": keyId ?? null,
          access,
        },
      },
    ];
  },
});
