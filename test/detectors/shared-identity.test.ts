import { describe, expect, it } from "vitest";
import { inCidr, ipNetwork, parseCidr, parseIp } from "../../src/detectors/shared.js";
import type { OrgEvent } from "../../src/events/types.js";
import { DAY, HOUR, MINUTE, T0, makeConfig, makeEngine, makeEvent } from "../helpers/engine.js";

type Over = Partial<OrgEvent>;

const IP = "203.0.113.7";

/** `actor` clones each of `repos` from `ip`, one every `step` from `start`. */
const copies = (actor: string, repos: string[], start: number, ip = IP, step = 4 * MINUTE, over: Over = {}) =>
  repos.map((repo, i) =>
    makeEvent({ action: "git.clone", actor, repo, visibility: "private", ip, at: start + i * step, ...over }),
  );

const repos = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `acme/${prefix}-${i + 1}`);

/** Three accounts copying 3 + 3 + 2 disjoint repositories from one address within 40 minutes. */
const trio = (ip = IP, over: Over = {}) => [
  ...copies("alice-w", repos("billing", 3), T0, ip, 4 * MINUTE, over),
  ...copies("bob-w", repos("infra", 3), T0 + 15 * MINUTE, ip, 4 * MINUTE, over),
  ...copies("carol-w", repos("mobile", 2), T0 + 30 * MINUTE, ip, 4 * MINUTE, over),
];

/** Ordinary work from an office: `n` colleagues each pushing from `ip` every day from `fromDay` to `toDay` (days from T0). */
const office = (n: number, ip: string, fromDay: number, toDay: number) =>
  Array.from({ length: toDay - fromDay + 1 }, (_, d) =>
    Array.from({ length: n }, (_, k) =>
      makeEvent({ action: "git.push", actor: `colleague-${k + 1}`, repo: "acme/web", visibility: "private", ip, at: T0 + (fromDay + d) * DAY + k * MINUTE }),
    ),
  ).flat();

describe("shared-identity", () => {
  it("reports three accounts copying disjoint repositories from one address within an hour as one finding naming all three", async () => {
    const t = makeEngine();
    await t.run(...trio());
    const all = await t.findings("shared-identity");
    expect(all).toHaveLength(1);
    const f = all[0];
    expect(f).toMatchObject({ fingerprint: "shared-identity:ip:203.0.113.7:2026-10-02T10", severity: "medium" });
    for (const who of ["alice-w", "bob-w", "carol-w"]) expect(f?.summary).toContain(who);
    expect(f?.repos).toHaveLength(8);
    // None of them is a mass copy alone.
    expect(await t.findings("mass-clone")).toHaveLength(0);
    const ev = await t.storage.findings.evidence(f?.id as number);
    const last = ev[ev.length - 1]?.data ?? {};
    expect(last.accounts).toBe("alice-w, bob-w, carol-w");
    expect(last["copies by account"]).toContain("carol-w: acme/mobile-1, acme/mobile-2");
  });

  it("fires only once the accounts together pass the threshold: 3 + 2 is quiet, 3 + 3 fires", async () => {
    const t = makeEngine();
    await t.run(...copies("alice-w", repos("billing", 3), T0), ...copies("bob-w", repos("infra", 2), T0 + 15 * MINUTE));
    expect(await t.findings("shared-identity")).toHaveLength(0);
    await t.run(...copies("bob-w", ["acme/infra-3"], T0 + 30 * MINUTE));
    expect(await t.findings("shared-identity")).toHaveLength(1);
  });

  it("stays quiet for two accounts each copying one repository", async () => {
    const t = makeEngine();
    await t.run(...copies("alice-w", ["acme/api"], T0), ...copies("bob-w", ["acme/web"], T0 + 5 * MINUTE));
    expect(await t.findings("shared-identity")).toHaveLength(0);
  });

  it("stays quiet when the accounts copy the same repositories (a pair working together)", async () => {
    const t = makeEngine();
    const same = repos("billing", 4);
    await t.run(...copies("alice-w", same, T0), ...copies("bob-w", same, T0 + 10 * MINUTE), ...copies("carol-w", same, T0 + 20 * MINUTE));
    expect(await t.findings("shared-identity")).toHaveLength(0);
  });

  it("stays quiet for one account alone, however much it copies (mass-clone's case)", async () => {
    const t = makeEngine();
    await t.run(...copies("alice-w", repos("billing", 8), T0));
    expect(await t.findings("shared-identity")).toHaveLength(0);
    expect(await t.findings("mass-clone")).toHaveLength(1);
  });

  it("stays quiet from a learned shared exit: many accounts on the same /24 over the previous days", async () => {
    const t = makeEngine();
    // Six colleagues work from 203.0.113.0/24 (other addresses of the same gateway) for the week before.
    await t.run(...office(6, "203.0.113.20", -7, -1), ...trio());
    expect(await t.findings("shared-identity")).toHaveLength(0);
  });

  it("does not learn an exit as shared from accounts first seen there the same day", async () => {
    const t = makeEngine();
    // Six accounts appear on the address two hours before: an operator's own, not an office's past.
    const today = Array.from({ length: 6 }, (_, k) =>
      makeEvent({ action: "git.push", actor: `fresh-${k + 1}`, repo: "acme/web", visibility: "private", ip: IP, at: T0 - 2 * HOUR + k * MINUTE }),
    );
    await t.run(...today, ...trio());
    expect(await t.findings("shared-identity")).toHaveLength(1);
  });

  it("forgets an exit's accounts after `shared_exit_days`, and needs `shared_exit_accounts` of them", async () => {
    const old = makeEngine();
    // Seen 20 days ago only: beyond the 14-day memory.
    await old.run(...office(6, "203.0.113.20", -20, -20), ...trio());
    expect(await old.findings("shared-identity")).toHaveLength(1);

    const few = makeEngine();
    // Four colleagues are fewer than the five an office needs.
    await few.run(...office(4, "203.0.113.20", -7, -1), ...trio());
    expect(await few.findings("shared-identity")).toHaveLength(1);

    const tuned = makeEngine({ detectors: { "shared-identity": { shared_exit_accounts: 4 } } });
    await tuned.run(...office(4, "203.0.113.20", -7, -1), ...trio());
    expect(await tuned.findings("shared-identity")).toHaveLength(0);
  });

  it("stays quiet from an allowlisted CIDR or address, IPv4 and IPv6", async () => {
    const v4 = makeEngine({ detectors: { "shared-identity": { shared_exits: ["203.0.112.0/23"] } } });
    await v4.run(...trio());
    expect(await v4.findings("shared-identity")).toHaveLength(0);

    const v6 = makeEngine({ detectors: { "shared-identity": { shared_exits: ["2001:db8:40::/48", "198.51.100.9"] } } });
    await v6.run(...trio("2001:db8:40:7::1234"), ...trio("198.51.100.9"));
    expect(await v6.findings("shared-identity")).toHaveLength(0);

    // An entry elsewhere does not cover this address.
    const other = makeEngine({ detectors: { "shared-identity": { shared_exits: ["203.0.114.0/24"] } } });
    await other.run(...trio());
    expect(await other.findings("shared-identity")).toHaveLength(1);
  });

  it("refuses an allowlist entry that is not an address or CIDR", async () => {
    for (const bad of ["office", "203.0.113.0/33", "203.0.113.256", "2001:db8::/129", "1:2:3:4:5:6:7:8:9"]) {
      expect(() => makeConfig({ detectors: { "shared-identity": { shared_exits: [bad] } } }), bad).toThrow();
    }
    expect(() => makeConfig({ detectors: { "shared-identity": { shared_exits: ["10.0.0.0/8", "::ffff:10.0.0.1", "fe80::1%eth0"] } } })).not.toThrow();
  });

  it("ignores bots, app tokens and [bot] logins", async () => {
    const t = makeEngine();
    await t.run(
      ...copies("alice-w", repos("billing", 3), T0),
      ...copies("bob-w", repos("infra", 2), T0 + 10 * MINUTE),
      ...copies("ci-runner", repos("mobile", 3), T0 + 20 * MINUTE, IP, MINUTE, { actorIsBot: true }),
      ...copies("deployer", repos("web", 3), T0 + 25 * MINUTE, IP, MINUTE, { tokenType: "GitHub App server-to-server token" }),
      ...copies("renovate[bot]", repos("docs", 3), T0 + 30 * MINUTE),
    );
    expect(await t.findings("shared-identity")).toHaveLength(0);
  });

  it("does not add up copies from different addresses, even in one /24", async () => {
    const t = makeEngine();
    await t.run(
      ...copies("alice-w", repos("billing", 3), T0, "203.0.113.7"),
      ...copies("bob-w", repos("infra", 3), T0 + 15 * MINUTE, "203.0.113.8"),
      ...copies("carol-w", repos("mobile", 2), T0 + 30 * MINUTE, "198.51.100.7"),
    );
    expect(await t.findings("shared-identity")).toHaveLength(0);
  });

  it("adds up IPv6 copies by their /64, and names the network", async () => {
    const t = makeEngine();
    await t.run(
      ...copies("alice-w", repos("billing", 3), T0, "2001:db8:5:6::a"),
      ...copies("bob-w", repos("infra", 3), T0 + 15 * MINUTE, "2001:db8:5:6:ffff::b"),
    );
    const all = await t.findings("shared-identity");
    expect(all.map((f) => f.fingerprint)).toEqual(["shared-identity:ip:2001:db8:5:6::/64:2026-10-02T10"]);
  });

  it("stays quiet when the copies are further apart than the window", async () => {
    const t = makeEngine();
    await t.run(...copies("alice-w", repos("billing", 3), T0), ...copies("bob-w", repos("infra", 3), T0 + 70 * MINUTE));
    expect(await t.findings("shared-identity")).toHaveLength(0);
  });

  it("counts a first fetch and a zip download as copies, but not a fetch of a repository the account already has", async () => {
    const t = makeEngine();
    const fetch = (actor: string, repo: string, at: number) =>
      makeEvent({ action: "git.fetch", actor, repo, visibility: "internal", ip: IP, at });
    // bob-w has had acme/infra-1..3 for days: fetching them again is ordinary work.
    await t.run(...repos("infra", 3).map((r) => fetch("bob-w", r, T0 - 2 * DAY)));
    await t.run(
      ...copies("alice-w", repos("billing", 3), T0),
      ...repos("infra", 3).map((r, i) => fetch("bob-w", r, T0 + 15 * MINUTE + i * MINUTE)),
    );
    expect(await t.findings("shared-identity")).toHaveLength(0);
    await t.run(
      fetch("bob-w", "acme/new-1", T0 + 20 * MINUTE),
      makeEvent({ action: "repo.download_zip", actor: "bob-w", repo: "acme/new-2", visibility: null, ip: IP, at: T0 + 21 * MINUTE }),
    );
    // 3 + 2: not yet more than 5.
    expect(await t.findings("shared-identity")).toHaveLength(0);
    await t.run(fetch("bob-w", "acme/new-3", T0 + 22 * MINUTE));
    expect((await t.findings("shared-identity"))[0]?.repos).toEqual([...repos("billing", 3), ...repos("new", 3)].sort());
  });

  it("keeps one finding while the copying goes on past the hour, and ignores public repositories", async () => {
    const t = makeEngine();
    await t.run(
      ...trio(),
      ...copies("dave-w", repos("data", 2), T0 + 70 * MINUTE),
      ...copies("erin-w", repos("site", 4), T0 + 80 * MINUTE, IP, MINUTE, { visibility: "public" }),
    );
    const all = await t.findings("shared-identity");
    expect(all).toHaveLength(1);
    expect(all[0]?.summary).toContain("dave-w");
    expect(all[0]?.repos).not.toContain("acme/site-1");
  });
});

describe("IP helpers", () => {
  it("parses IPv4, IPv6 and IPv4-mapped addresses, and names networks", () => {
    expect(parseIp("203.0.113.7")).toEqual([203, 0, 113, 7]);
    expect(parseIp("::ffff:203.0.113.7")).toEqual([203, 0, 113, 7]);
    expect(parseIp("[2001:db8::1]")).toHaveLength(16);
    for (const bad of ["", "1.2.3", "1.2.3.4.5", "300.1.1.1", "2001:db8::1::2", "gg::1", "1:2:3:4:5:6:7"]) expect(parseIp(bad), bad).toBeNull();
    expect(ipNetwork(parseIp("203.0.113.7") as number[], 24)).toBe("203.0.113.0/24");
    expect(ipNetwork(parseIp("2001:db8:0:0:1::9") as number[], 64)).toBe("2001:db8::/64");
    const net = parseCidr("10.64.0.0/10");
    expect(net && inCidr(parseIp("10.127.255.1") as number[], net)).toBe(true);
    expect(net && inCidr(parseIp("10.128.0.1") as number[], net)).toBe(false);
    expect(net && inCidr(parseIp("::a40:1") as number[], net)).toBe(false);
  });

  it("takes no fetch for a first copy on its first day of watching: colleagues pulling their checkouts", async () => {
    const t = makeEngine();
    const fetch = (actor: string, repo: string, at: number) =>
      makeEvent({ action: "git.fetch", actor, repo: `acme/${repo}`, visibility: "private", ip: "198.51.100.7", at });
    await t.run(...["a", "b", "c"].map((r, i) => fetch("dev1", r, T0 + i * MINUTE)), ...["d", "e", "f"].map((r, i) => fetch("dev2", r, T0 + (10 + i) * MINUTE)));
    expect(await t.findings("shared-identity")).toEqual([]);
  });

  it("remembers what accounts fetched at a shared exit, so the same pulls from home are not first copies", async () => {
    const t = makeEngine();
    const office = "203.0.113.9";
    const fetch = (actor: string, repo: string, at: number, ip: string) =>
      makeEvent({ action: "git.fetch", actor, repo: `acme/${repo}`, visibility: "private", ip, at });
    const people = ["u1", "u2", "u3", "u4", "u5", "dev1", "dev2"];
    for (let d = -5; d < 0; d++) await t.run(...people.map((u, k) => makeEvent({ action: "repo.access", actor: u, ip: office, at: T0 + d * DAY + k * MINUTE })));
    const work = [["dev1", ["a", "b", "c"]], ["dev2", ["d", "e", "f"]]] as const;
    for (let d = -3; d < 0; d++) for (const [u, rs] of work) await t.run(...rs.map((r, i) => fetch(u, r, T0 + d * DAY + HOUR + i * MINUTE, office)));
    // Two flatmates behind one home address pull the same repositories in the morning.
    for (const [u, rs] of work) await t.run(...rs.map((r, i) => fetch(u, r, T0 + i * MINUTE + (u === "dev2" ? 5 * MINUTE : 0), "192.0.2.44")));
    expect(await t.findings("shared-identity")).toEqual([]);
  });
});
