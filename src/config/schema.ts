// The config file `.github/exfil-monitor.yml` (org `.github` repository only), defined once. The TypeScript
// types, the JSON schema for editors (schema/exfil-monitor.schema.json) and the reference table in
// docs/config.md are generated from this file by `npm run generate`; CI fails when they are stale.
//
// Each detector's own thresholds live beside the detector (its `settings`); this file adds the keys every
// detector shares (`enabled`, `severity`) and the global sections.
import { z } from "zod";
import { DETECTORS } from "../detectors/index.js";
import type { Detector } from "../detectors/types.js";
import { SEVERITIES, severitySchema, type Severity } from "../domain/severity.js";
import { MAX_GLOB_OPERATORS, MAX_PATTERNS_PER_LIST } from "./allow.js";
import { watches } from "../domain/watch.js";

/** Host names are up to 253 characters, `owner/name` up to 140: an entry longer than that matches nothing. */
const globEntry = z.string().min(1).max(255);

const globList = (what: string) =>
  z
    .array(globEntry)
    .default([])
    .describe(
      `${what}. Glob patterns (\`*\`, \`?\`, \`{a,b}\`), matched case-insensitively. An entry that matches almost anything (\`*\`, \`**\`, \`*/*\`, \`?*\`, \`<org>/*\`) or holds more than ${MAX_GLOB_OPERATORS} of \`*\`, \`{\`, \`(\` is refused, and so are more than ${MAX_PATTERNS_PER_LIST} patterns in one list.`,
    )
    .register(watches, { weaker: "added" });

function detectorSection(d: Detector) {
  return z
    .object({
      enabled: z
        .boolean()
        .default(d.enabledByDefault)
        .describe(`Run the ${d.id} detector.`)
        .register(watches, { weaker: "off" }),
      severity: severitySchema
        .optional()
        .describe("Fixed severity for every finding of this detector, replacing the computed one.")
        .register(watches, { weaker: "earlier", order: SEVERITIES, unset: "critical" }),
      ...d.settings.shape,
    })
    .strict()
    .prefault({})
    .describe(d.title);
}

/**
 * A detector section as the type system sees it. The registry erases each detector's settings type, so the
 * settings are `unknown` here (each detector reads them typed through its own schema); at run time every
 * section is still a strict object that checks each setting.
 */
type DetectorSectionInput = { enabled?: boolean; severity?: Severity; [setting: string]: unknown };
type DetectorSectionOutput = { enabled: boolean; severity?: Severity; [setting: string]: unknown };

const detectorsShape = Object.fromEntries(DETECTORS.map((d) => [d.id, detectorSection(d)])) as unknown as Record<
  string,
  z.ZodType<DetectorSectionOutput, DetectorSectionInput>
>;

export const configSchema = z
  .object({
    mode: z
      .enum(["alert", "dry-run"])
      .default("alert")
      .describe(
        "`alert` files issues; `dry-run` files no finding and only logs what it would file (notices about the config and the app itself are still filed).",
      )
      .register(watches, { weaker: "earlier", order: ["dry-run", "alert"] }),
    alerts: z
      .object({
        repo: z
          .string()
          .regex(/^[A-Za-z0-9._-]+$/, "a repository name in the same org, without the owner")
          .default("security-alerts")
          .describe("Private repository in the same org where incidents are filed. A public one is refused.")
          .register(watches, { weaker: "changed" }),
        mention: z
          .array(z.string().regex(/^@?[A-Za-z0-9-]+(\/[A-Za-z0-9._-]+)?$/, "a login or org/team"))
          .default([])
          .describe("Users (`alice`) or teams (`acme/security`) mentioned in every new issue.")
          // Whoever is no longer mentioned no longer hears of new issues; an added mention takes nothing away.
          .register(watches, { weaker: "removed", same: (m) => m.replace(/^@/, "").toLowerCase() }),
        labels: z
          .array(z.string().min(1).max(50))
          .default([])
          .describe("Extra labels added to every issue.")
          // A label someone's routing or saved search relies on, once removed, hides new issues from them.
          .register(watches, { weaker: "removed" }),
        min_severity: severitySchema
          .default("low")
          .describe("Findings below this severity are kept but not filed.")
          .register(watches, { weaker: "earlier", order: [...SEVERITIES].reverse() }),
      })
      .strict()
      .prefault({})
      .describe("Where and how incidents are filed."),
    allow: z
      .object({
        actors: globList("Logins whose actions never raise a finding (service accounts, the security team)"),
        repos: globList("Repositories (`name` or `owner/name`) that are never reported"),
        fork_owners: globList("Accounts or orgs that may hold forks (partners, a mirror org)"),
        webhook_hosts: globList("Host names that org webhooks may point to without raising monitoring-tampered"),
      })
      .strict()
      .prefault({})
      .describe("Allowlists. Prefer a narrow entry to turning a detector off."),
    audit_log: z
      .object({
        poll_minutes: z
          .number()
          .int()
          .min(1)
          .max(24 * 60)
          .default(5)
          .describe("How often the org audit log is polled (GitHub Enterprise Cloud only).")
          .register(watches, { weaker: "higher" }),
      })
      .strict()
      .prefault({})
      .describe("Polling of the org audit log."),
    detectors: z.object(detectorsShape).strict().prefault({}).describe("Per-detector switches and thresholds."),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** The config with every default filled in: what an org without a config file gets. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}

/** Settings of one detector as the detector sees them (`enabled`/`severity` included). */
export function detectorSettings(config: Config, id: string): Record<string, unknown> & { enabled: boolean; severity?: string } {
  const section = (config.detectors as Record<string, unknown>)[id];
  if (!section) throw new Error(`no config section for detector ${id}`);
  return section as Record<string, unknown> & { enabled: boolean; severity?: string };
}
