// The detector registry: an explicit list, sorted by id, never built by scanning a directory. A test checks
// that ids are unique and sorted, and that each detector has its test file and its documentation entry.
import { bulkExport } from "./bulk-export.js";
import { credentialAdded } from "./credential-added.js";
import { deployKeyAdded } from "./deploy-key-added.js";
import { destructiveChange } from "./destructive-change.js";
import { forkingPolicyChanged } from "./forking-policy-changed.js";
import { massClone } from "./mass-clone.js";
import { monitoringTampered } from "./monitoring-tampered.js";
import { multiCountry } from "./multi-country.js";
import { newCountry } from "./new-country.js";
import { outsideCollaboratorAdded } from "./outside-collaborator-added.js";
import { personalFork } from "./personal-fork.js";
import { repoMadePublic } from "./repo-made-public.js";
import { repoTransferred } from "./repo-transferred.js";
import { sharedIdentity } from "./shared-identity.js";
import type { Detector } from "./types.js";

export const DETECTORS: readonly Detector[] = [
  bulkExport,
  credentialAdded,
  deployKeyAdded,
  destructiveChange,
  forkingPolicyChanged,
  massClone,
  monitoringTampered,
  multiCountry,
  newCountry,
  outsideCollaboratorAdded,
  personalFork,
  repoMadePublic,
  repoTransferred,
  sharedIdentity,
] as unknown as readonly Detector[];

export function detectorById(id: string): Detector | undefined {
  return DETECTORS.find((d) => d.id === id);
}
