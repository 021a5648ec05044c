// Which way each config setting watches less. Every setting declares it next to its own schema, so the
// config service can tell, for any change someone pushes to the org's `.github` repository, whether it
// reduces what exfil-monitor watches (and must be announced) or tightens it. A registry test checks that no
// setting lacks a declaration, so a new setting cannot be forgotten. It sits in the domain, not in config,
// because detectors declare it on their own settings and config is built from the detectors.
//
// Declared with `.register(watches, { weaker: ... })` as the LAST call on the setting's schema: `.describe()`
// and `.default()` return a copy, and the copy would not carry the declaration.
import { z } from "zod";

export type WatchEffect =
  /** Numbers: a higher (or lower) value reports less. */
  | { weaker: "higher" | "lower" }
  /** Switches: turning it off (or on) reports less. */
  | { weaker: "off" | "on" }
  /**
   * Lists: an added (allowlist) or a removed entry reports less. `same` gives the form two entries are
   * compared in (default: lower case, as logins, repositories and globs here are matched).
   */
  | { weaker: "added" | "removed"; same?: (entry: string) => string }
  /**
   * Choices, `order` going from the one that reports least to the one that reports most. `unset` is the place
   * of a missing optional value (a detector's own computed severity counts as the most).
   */
  | { weaker: "earlier"; order: readonly string[]; unset?: string }
  /** Any change can take alerts away from the people who read them (where they are filed, who is told). */
  | { weaker: "changed" };

export const watches = z.registry<WatchEffect>();
