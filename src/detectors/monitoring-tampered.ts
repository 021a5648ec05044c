// monitoring-tampered: someone turns off or redirects what lets the org see what happens to its code:
// audit-log streaming, the IP allow list, SAML single sign-on, the two-factor requirement, source-IP
// disclosure in the audit log, or a webhook that ships events to a host nobody approved. Covering tracks
// usually comes right before or after the copying, so each is worth a look on its own. Two changes open a way
// around a control without turning it off: the SAML identity provider repointed, and an address added to the
// IP allow list (a new place the org's code can be reached and copied from).
//
// Subject: `<org or repo>:<action>:<YYYY-MM-DD>`: repeated toggles of one switch on one day are one incident.
import { z } from "zod";
import { actionSet, actionsOf, entryOf, isAction, type KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { Severity } from "../domain/severity.js";
import type { FindingDraft } from "../domain/finding.js";
import { defineDetector } from "./types.js";
import { watches } from "../domain/watch.js";

const STREAM_UPDATE = "audit_log_streaming.update" satisfies KnownAction;
const HOOK_ACTIONS = actionSet("hook.create", "hook.config_changed");

/** Switches whose only effect is less protection or less visibility, with what turning them off means. */
const SWITCHED_OFF = {
  "audit_log_streaming.destroy": "audit-log streaming endpoint deleted",
  "ip_allow_list.disable": "IP allow list disabled",
  "ip_allow_list.disable_for_installed_apps": "IP allow list disabled for installed GitHub Apps",
  "ip_allow_list.disable_user_level_enforcement": "IP allow list user-level enforcement disabled",
  "ip_allow_list.disable_idp_ip_allowlist_for_web": "identity-provider IP allow list disabled for the web",
  "org.disable_saml": "SAML single sign-on disabled",
  "org.disable_two_factor_requirement": "two-factor authentication requirement disabled",
  "org.disable_source_ip_disclosure": "source IP addresses hidden from the audit log",
  // Any OAuth app a member authorizes may then read the org's repositories with that member's access.
  "org.disable_oauth_app_restrictions": "OAuth app access restrictions disabled",
  // The enterprise's own switches weaken every org of the enterprise at once; the IP allow list and
  // streaming use the same action names at both levels.
  "business.disable_saml": "SAML single sign-on disabled for the enterprise",
  "business.disable_oidc": "OIDC single sign-on disabled for the enterprise",
  "business.disable_two_factor_requirement": "two-factor authentication requirement disabled for the enterprise",
  "business.disable_source_ip_disclosure": "source IP addresses hidden from the enterprise audit log",
} satisfies Partial<Record<KnownAction, string>>;

/**
 * Changes that leave a control on but may open a way around it, medium because both are also routine: GitHub
 * writes the SAML entry for a certificate rotation too, without the previous values that would tell it from a
 * move to an identity provider someone else controls (which signs in as any member); an allow-list entry is
 * how a new office or CI runner is let in, and equally how a new egress for copying is.
 */
const OPENED = {
  "org.update_saml_provider_settings": { what: "SAML identity provider settings changed", field: "sso_url", label: "SSO URL" },
  "ip_allow_list_entry.create": { what: "address added to the IP allow list", field: "ip_allow_list_entry", label: "entry" },
} satisfies Partial<Record<KnownAction, { what: string; field: string; label: string }>>;

function dayOf(at: number): string {
  return Number.isFinite(at) ? new Date(at).toISOString().slice(0, 10) : "unknown-date";
}

/** GitHub's booleans sometimes arrive as strings in exports; anything else is unknown. */
function flag(v: unknown): boolean | null {
  if (v === true || v === "true") return true;
  if (v === false || v === "false") return false;
  return null;
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname || null;
  } catch {
    return null;
  }
}

function finding(
  e: OrgEvent,
  scope: string,
  severity: Severity,
  what: string,
  evidence: FindingDraft["evidence"],
): FindingDraft {
  return {
    subject: `${scope}:${e.action}:${dayOf(e.at)}`,
    severity,
    summary: `${what} (${scope})`,
    actor: e.actor,
    repos: e.repo ? [e.repo] : [],
    evidence: { action: e.action, scope, ...evidence },
  };
}

export const monitoringTampered = defineDetector({
  id: "monitoring-tampered",
  title: "Monitoring or access controls weakened",
  warningSign: "covering tracks",
  source:
    "audit `audit_log_streaming.*`, `ip_allow_list.disable*`, `ip_allow_list_entry.create`, `org.disable_saml`, `org.update_saml_provider_settings`, `org.disable_two_factor_requirement`, `org.disable_source_ip_disclosure`, `hook.create`",
  defaultSeverity: "high",
  enabledByDefault: true,
  actions: [...actionsOf(SWITCHED_OFF), ...actionsOf(OPENED), STREAM_UPDATE, ...HOOK_ACTIONS],
  settings: z.object({
    unknown_hook_urls: z
      .boolean()
      .default(true)
      .describe(
        "Report new webhooks whose audit entry does not name the target URL (GitHub's entries usually do not), as low, so someone checks where they point.",
      )
      .register(watches, { weaker: "off" }),
  }),
  nextSteps: [
    "Confirm with the actor and an org owner that the change was planned; if not, treat the account as compromised.",
    "Turn the control back on (streaming, IP allow list, SAML, two-factor requirement, source-IP disclosure) or delete the webhook.",
    "Review what the actor and others did while it was off: clones, transfers, forks, new credentials.",
    "For a webhook: check its URL and events under Settings → Webhooks; add approved hosts to `allow.webhook_hosts`.",
    "SAML provider changed: confirm the SSO URL and issuer are the company's identity provider (Settings → Authentication security).",
    "IP allow-list entry added: confirm who owns the address or range and why it needs access.",
  ],
  detect(event, ctx) {
    // Streaming is configured on the enterprise: its entries may name only the business.
    const business = event.details.extra?.business;
    const scope = event.repo ?? event.org ?? (typeof business === "string" && business ? business : null);
    if (!scope) return [];

    const off = entryOf(SWITCHED_OFF, event.action);
    if (off) return [finding(event, scope, "high", off, {})];

    const opened = entryOf(OPENED, event.action);
    if (opened) {
      const v = event.details.extra?.[opened.field];
      return [finding(event, scope, "medium", opened.what, { [opened.label]: typeof v === "string" && v ? v : "not named" })];
    }

    if (event.action === STREAM_UPDATE) {
      const extra = event.details.extra ?? {};
      const enabled = flag(extra.audit_log_stream_enabled) ?? flag(extra.enabled);
      const sink = typeof extra.audit_log_stream_sink === "string" ? extra.audit_log_stream_sink : "unknown";
      if (enabled === false) {
        return [finding(event, scope, "high", "audit-log streaming paused or disabled", { sink })];
      }
      if (enabled === true) {
        // The stream keeps running (a rotated credential, a renamed bucket): nothing went dark, but the
        // endpoint may now point elsewhere, so it is recorded for someone to glance at.
        const updated = "audit-log streaming endpoint updated, stream left enabled";
        return [finding(event, scope, "low", updated, { sink, enabled: true })];
      }
      // The entry does not say whether the stream still runs: it may have been paused.
      const changed = "audit-log streaming configuration changed";
      return [finding(event, scope, "medium", changed, { sink, enabled: "unknown" })];
    }

    if (HOOK_ACTIONS.has(event.action)) {
      const url = event.details.hookUrl;
      if (typeof url !== "string" || url.length === 0) {
        if (!isAction(event, "hook.create") || !ctx.settings.unknown_hook_urls) return [];
        const what = "webhook added; the audit entry does not say where it points";
        return [finding(event, scope, "low", what, { url: "unknown" })];
      }
      if (ctx.allow.webhookHost(url)) return [];
      const verb = isAction(event, "hook.create") ? "webhook added" : "webhook changed";
      const host = hostOf(url);
      const what = `${verb} pointing to ${host ?? "an invalid URL"}, not an approved host`;
      return [finding(event, scope, "high", what, { url, host: host ?? "invalid URL" })];
    }
    return [];
  },
});
