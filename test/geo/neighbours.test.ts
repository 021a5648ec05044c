// The neighbour table behind "impossible travel": every code is a country the project knows, the relation is
// symmetric, and a few borders people cross daily are in it while long trips are not.
import { describe, expect, it } from "vitest";
import { COUNTRIES } from "../../src/geo/countries.js";
import { areNeighbours, neighboursOf } from "../../src/geo/neighbours.js";
import { DEFAULT_HIGH_RISK_COUNTRIES } from "../../src/geo/risk.js";

describe("neighbours", () => {
  it("names only known countries, never a country beside itself, and reads the same both ways", () => {
    let pairs = 0;
    for (const code of Object.keys(COUNTRIES)) {
      for (const other of neighboursOf(code)) {
        pairs++;
        expect(COUNTRIES[other], `${code} borders unknown ${other}`).toBeDefined();
        expect(other).not.toBe(code);
        expect(areNeighbours(other, code), `${other}-${code}`).toBe(true);
      }
    }
    // Each pair is seen from both sides.
    expect(pairs % 2).toBe(0);
    expect(pairs).toBeGreaterThan(500);
  });

  it("holds the borders people cross to work and leaves out trips no one makes in an hour", () => {
    for (const [a, b] of [["AT", "CH"], ["US", "MX"], ["US", "CA"], ["FR", "GB"], ["DK", "SE"], ["MY", "SG"], ["CN", "KP"]]) {
      expect(areNeighbours(a!, b!), `${a}-${b}`).toBe(true);
    }
    for (const [a, b] of [["US", "CN"], ["DE", "PT"], ["KP", "JP"], ["US", "CU"], ["BR", "DE"]]) {
      expect(areNeighbours(a!, b!), `${a}-${b}`).toBe(false);
    }
  });

  it("lists known countries as high risk by default", () => {
    for (const code of DEFAULT_HIGH_RISK_COUNTRIES) expect(COUNTRIES[code]).toBeDefined();
  });
});
