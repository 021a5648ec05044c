// Countries where a login to a company's account is, by itself, worth a person's look. The FBI's January
// 2025 warning describes North Korean IT workers who work from North Korea or, more often, from China and
// Russia, reaching company systems through laptop farms and VPNs abroad; those three are the default. An
// org with staff in one of them removes it from its list; one that also wants other sanctioned or
// often-abused locations (IR, SY, CU, LA...) adds them.
export const DEFAULT_HIGH_RISK_COUNTRIES: readonly string[] = Object.freeze(["KP", "CN", "RU"]);
