// The catalogue of normalized action names that anything in exfil-monitor reads or produces: detectors'
// `actions` lists and comparisons, the engine's membership facts, the webhook converter and the sweeps. It is
// a catalogue and not the type of `OrgEvent.action`: an audit log carries hundreds of actions nobody reads,
// and those pass through untouched. Its use is to make a misspelt name fail to compile instead of silently
// never matching: detectors list `KnownAction`s and test `event.action` through `isAction`, `actionSet` or
// `entryOf` below.

/** GitHub's own audit-log names, passed through unchanged by from-audit-log.ts. */
export const AUDIT_LOG_ACTIONS = [
  "api.request", // a REST API call made with a token (streamed audit logs); archive downloads among them
  "audit_log_streaming.destroy", // an audit-log streaming endpoint deleted
  "audit_log_streaming.update", // a streaming endpoint changed, paused or resumed
  "business.disable_oidc", // OIDC single sign-on turned off for the enterprise (Enterprise Managed Users)
  "business.disable_saml", // SAML single sign-on turned off for the enterprise
  "business.disable_source_ip_disclosure", // source IP addresses hidden from the enterprise's audit log
  "business.disable_two_factor_requirement", // two-factor authentication no longer required by the enterprise
  "git.clone", // a repository cloned over git
  "git.fetch", // objects fetched over git into a local repository, which need not be a clone of this one
  "hook.config_changed", // a webhook's target or settings changed
  "hook.create", // a webhook added to the org or a repository
  "integration_installation.create", // a GitHub App installed on the org, for all or selected repositories
  "ip_allow_list.disable", // the IP allow list turned off
  "ip_allow_list.disable_for_installed_apps", // the IP allow list no longer applied to installed GitHub Apps
  "ip_allow_list.disable_idp_ip_allowlist_for_web", // the identity provider's IP allow list off for the web
  "ip_allow_list.disable_user_level_enforcement", // the IP allow list no longer enforced per user
  "ip_allow_list_entry.create", // an address or range added to the IP allow list
  "migration.create", // a migration archive of repositories started
  "migration.download", // a migration archive downloaded
  "oauth_authorization.create", // a user authorized an OAuth app
  "org.add_member", // someone joined the org
  "org.add_outside_collaborator", // a non-member given access to an org repository
  "org.disable_oauth_app_restrictions", // OAuth apps no longer need approval to reach the org's data
  "org.disable_saml", // SAML single sign-on turned off
  "org.disable_source_ip_disclosure", // source IP addresses hidden from the audit log
  "org.disable_two_factor_requirement", // two-factor authentication no longer required
  "org.remove_member", // someone left or was removed from the org
  "org.transfer", // the org moved between enterprises, as its own log tells it
  "org.transfer_outgoing", // the org moved to another enterprise, as the sending side tells it
  "org.update_saml_provider_settings", // the org's SAML identity provider (SSO URL, issuer, certificate) changed
  "org_credential_authorization.grant", // a credential authorized for SAML single sign-on
  "personal_access_token.access_granted", // a fine-grained personal access token given access to the org
  "private_repository_forking.clear", // the org's forking policy removed: each repository decides
  "private_repository_forking.disable", // forking of private repositories forbidden
  "private_repository_forking.enable", // forking of private repositories allowed
  "protected_branch.destroy", // a branch protection rule deleted
  "protected_branch.policy_override", // a branch protection requirement bypassed by an administrator
  "public_key.create", // an SSH key added: a deploy key when the entry names a repository, else a user's own
  "repo.access", // a repository's visibility changed
  "repo.add_member", // a collaborator added to a repository
  "repo.create", // a repository created
  "repo.destroy", // a repository deleted
  "repo.download_zip", // a repository's source archive downloaded
  "repo.transfer", // a repository transferred, as the accepting side tells it
  "repo.transfer_outgoing", // a repository transferred out of the org
  "repo.transfer_start", // a repository transfer requested
  "repository_ruleset.destroy", // a ruleset (of a repository or the whole org) deleted
  "repository_ruleset.update", // a ruleset edited, its enforcement switched among them
] as const;

/** Names from-webhook.ts gives deliveries: `<event>` or `<event>.<payload action>`. */
export const WEBHOOK_ACTIONS = [
  "deploy_key.created", // a deploy key added to a repository
  "deploy_key.deleted", // a deploy key removed from a repository
  "fork", // a repository forked (delivered to the parent's owner)
  "member.added", // a collaborator added to a repository
  "member.edited", // a collaborator's permission changed
  "organization.member_added", // someone joined the org
  "organization.member_removed", // someone left or was removed from the org
  "personal_access_token_request.created", // a fine-grained token asked for access to the org
  "public", // a repository made public (the older, action-less event)
  "push", // commits or a ref pushed, force-pushes and deletions included
  "repository.created", // a repository created
  "repository.publicized", // a repository made public
] as const;

/** Facts the sweeps (src/hunt) found by looking, made into events by sweep.ts. */
export const SWEEP_ACTIONS = [
  "sweep.org_settings", // the org's settings as read by the settings sweep
  "sweep.repo_missing", // a repository gone from the inventory
] as const;

export const KNOWN_ACTIONS = [...AUDIT_LOG_ACTIONS, ...WEBHOOK_ACTIONS, ...SWEEP_ACTIONS] as const;

export type KnownAction = (typeof KNOWN_ACTIONS)[number];
export type SweepAction = (typeof SWEEP_ACTIONS)[number];

/**
 * Webhook events whose every payload action becomes `<event>.<action>`, catalogued or not, so that a
 * detector can start reading a new one without a converter change. Names outside the catalogue from these
 * events are expected; from any other event they would be a mistake.
 */
export const PASS_THROUGH_WEBHOOK_EVENTS = ["repository", "personal_access_token_request"] as const;

/** What from-webhook.ts may produce: a catalogued name, or any action of a pass-through event. */
export type WebhookAction =
  | (typeof WEBHOOK_ACTIONS)[number]
  | `${(typeof PASS_THROUGH_WEBHOOK_EVENTS)[number]}.${string}`;

/** Whether the event's action is one of `names`; narrows `event.action` to them. */
export function isAction<E extends { action: string }, A extends KnownAction>(
  event: E,
  ...names: A[]
): event is E & { action: A } {
  return (names as readonly string[]).includes(event.action);
}

/** A set of catalogued actions whose `has` takes any action text, since events carry uncatalogued ones. */
export interface ActionSet<A extends KnownAction> extends Iterable<A> {
  has(action: string): action is A;
  readonly size: number;
}

export function actionSet<A extends KnownAction>(...names: A[]): ActionSet<A> {
  // A plain Set behaves exactly so; only its declared `has` is narrower than what it accepts at run time.
  return new Set<string>(names) as unknown as ActionSet<A>;
}

/** The actions a table keyed by action lists (declare it `satisfies Partial<Record<KnownAction, T>>`). */
export function actionsOf<A extends KnownAction>(table: Readonly<Record<A, unknown>>): A[] {
  return Object.keys(table) as A[];
}

/** The table's own entry for `action`; undefined for any other, inherited names such as `toString` included. */
export function entryOf<A extends KnownAction, T>(table: Readonly<Record<A, T>>, action: string): T | undefined {
  return Object.hasOwn(table, action) ? table[action as A] : undefined;
}
