// The detector contract. A detector is synchronous and pure: one normalized event and a context in, zero or
// more finding drafts (domain/finding.ts) out. No Octokit, no clock, no environment: time is the event's `at`, windows and
// baselines live in `ctx.state` (persisted by the engine), and anything learned from the network was put on
// the event before it got here.
import type { z } from "zod";
import type { KnownAction } from "../events/actions.js";
import type { OrgEvent } from "../events/types.js";
import type { FindingDraft } from "../domain/finding.js";
import type { Severity } from "../domain/severity.js";

/** The FBI warning's signs, as quoted in issues and the README. */
export type WarningSign =
  | "copy to a personal account"
  | "copy pushed outside the org"
  | "publishing code (extortion)"
  | "bulk copying"
  | "one account used from several countries"
  | "stolen or shared account"
  | "credential harvesting"
  | "access for outsiders"
  | "holding code hostage (extortion)"
  | "covering tracks"
  | "fake or shared identities"
  | "opens the fork channel";

/** Keyed state of one detector, persisted by the engine; keys are already namespaced by detector id. */
export interface DetectorState {
  get<T>(key: string): T | undefined;
  /** `expiresAt` (epoch ms, event time) lets the store drop state nobody will read again. */
  set(key: string, value: unknown, expiresAt: number): void;
  delete(key: string): void;
}

/** Facts learned from earlier events, read synchronously from the store. Never a network call. */
export interface Facts {
  /** true/false when an event told us; null when unknown. */
  isOrgMember(org: string, login: string): boolean | null;
}

export interface AllowLists {
  actor(login: string | null): boolean;
  repo(fullName: string | null): boolean;
  forkOwner(login: string): boolean;
  webhookHost(url: string): boolean;
}

export interface DetectorContext<S> {
  /** This detector's settings from the config file, defaults filled in. */
  settings: S;
  allow: AllowLists;
  state: DetectorState;
  facts: Facts;
}

export interface Detector<Shape extends z.ZodRawShape = z.ZodRawShape> {
  /** Stable kebab-case id (a contract: see shared detector catalogue). */
  id: string;
  title: string;
  warningSign: WarningSign;
  /** Where its events come from, for the README table. */
  source: string;
  /** The usual severity, for the README table; findings may carry others (tiers, context). */
  defaultSeverity: Severity;
  /** Off unless the config turns it on. */
  enabledByDefault: boolean;
  /**
   * Normalized actions it reads; the engine only calls it for these. `"*"` means every action. Catalogued
   * names only (events/actions.ts), so a misspelt one fails to compile instead of never matching.
   */
  actions: readonly (KnownAction | "*")[];
  /** Its own thresholds: each key with .describe() and .default(). Merged under `detectors.<id>`. */
  settings: z.ZodObject<Shape>;
  /** What a security lead should do, in order; shown in every issue it files. */
  nextSteps: readonly string[];
  detect(event: OrgEvent, ctx: DetectorContext<z.infer<z.ZodObject<Shape>>>): FindingDraft[];
}

/** Helper that keeps each detector file's settings type inferred. */
export function defineDetector<Shape extends z.ZodRawShape>(d: Detector<Shape>): Detector<Shape> {
  return d;
}
