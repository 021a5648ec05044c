// The detector registry: an explicit list, sorted by id, never built by scanning a directory. A test checks
// that ids are unique and sorted, and that each detector has its test file and its documentation entry.
import { personalFork } from "./personal-fork.js";
import type { Detector } from "./types.js";

export const DETECTORS: readonly Detector[] = [
  personalFork,
] as unknown as readonly Detector[];

export function detectorById(id: string): Detector | undefined {
  return DETECTORS.find((d) => d.id === id);
}
