import { describe, expect, it } from "vitest";
import { COUNTRIES, distanceKm, toCountryCode } from "../../src/geo/countries.js";

describe("COUNTRIES", () => {
  it("lists every ISO 3166-1 alpha-2 code once, upper-case, with a centroid on the globe", () => {
    const codes = Object.keys(COUNTRIES);
    // 249 assigned codes plus XK, which IP-location databases use for Kosovo.
    expect(codes).toHaveLength(250);
    for (const code of codes) {
      expect(code).toMatch(/^[A-Z]{2}$/);
      const c = COUNTRIES[code]!;
      expect(c.name.length).toBeGreaterThan(2);
      expect(Math.abs(c.lat)).toBeLessThanOrEqual(90);
      expect(Math.abs(c.lon)).toBeLessThanOrEqual(180);
    }
  });

  it("round-trips every code and every name", () => {
    for (const [code, c] of Object.entries(COUNTRIES)) {
      expect(toCountryCode(code)).toBe(code);
      expect(toCountryCode(code.toLowerCase())).toBe(code);
      expect(toCountryCode(c.name)).toBe(code);
    }
  });
});

describe("toCountryCode", () => {
  it.each([
    ["United States", "US"],
    ["United States of America", "US"],
    ["Russia", "RU"],
    ["Russian Federation", "RU"],
    ["Korea, Democratic People's Republic of", "KP"],
    ["Korea, Republic of", "KR"],
    ["korea, republic of", "KR"],
    ["Iran, Islamic Republic of", "IR"],
    ["Viet Nam", "VN"],
    ["Taiwan, Province of China", "TW"],
    ["Czech Republic", "CZ"],
    ["Turkey", "TR"],
    ["Cote d'Ivoire", "CI"],
    ["Côte d’Ivoire", "CI"],
    ["The Netherlands", "NL"],
    ["St. Lucia", "LC"],
    ["Antigua & Barbuda", "AG"],
    ["  Germany  ", "DE"],
    ["uk", "GB"],
  ])("%s → %s", (input, code) => {
    expect(toCountryCode(input)).toBe(code);
  });

  it.each([null, undefined, "", "  ", "ZZ", "Atlantis", "Korea", "X"])("returns null for %s", (input) => {
    expect(toCountryCode(input)).toBeNull();
  });
});

describe("distanceKm", () => {
  it("is zero for one country and symmetric between two", () => {
    expect(distanceKm("US", "us")).toBe(0);
    expect(distanceKm("US", "KP")).toBe(distanceKm("KP", "US"));
  });

  it("matches known centroid distances within a few per cent", () => {
    // Centroid to centroid, not capital to capital: US (Kansas) to North Korea ~ 10,400 km,
    // France to Germany ~ 816 km.
    expect(distanceKm("US", "KP")).toBeGreaterThan(10_000);
    expect(distanceKm("US", "KP")).toBeLessThan(10_900);
    expect(distanceKm("FR", "Germany")).toBeGreaterThan(780);
    expect(distanceKm("FR", "Germany")).toBeLessThan(850);
  });

  it("is null when a country is unknown", () => {
    expect(distanceKm("US", "ZZ")).toBeNull();
    expect(distanceKm("", "US")).toBeNull();
  });
});
