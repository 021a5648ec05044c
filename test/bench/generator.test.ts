// The synthetic audit-log generator behind the benchmarks and samples/audit-log.jsonl: the same seed gives
// the same lines, every line is an audit entry the converter accepts, ids are unique and random-looking like
// GitHub's (so the benchmark's inserts land at random places in an index, as a real export's do), and the
// incidents appear only when asked for.
import { describe, expect, it } from "vitest";
import { documentIds, generateAuditLog } from "../../bench/generate-audit-log.js";
import { fromAuditLog } from "../../src/events/from-audit-log.js";

const collect = (opts: Parameters<typeof generateAuditLog>[0]) => [...generateAuditLog(opts)];

describe("generateAuditLog", () => {
  it("is deterministic for a seed and differs for another", () => {
    const a = collect({ events: 3000, seed: 7 });
    expect(collect({ events: 3000, seed: 7 })).toEqual(a);
    expect(collect({ events: 3000, seed: 8 })).not.toEqual(a);
  });

  it("writes the requested number of valid JSON lines, oldest first, with unique _document_ids", () => {
    const lines = collect({ events: 5000, seed: 3, incidents: true, perDay: 5000, developers: 40 });
    expect(lines).toHaveLength(5000);
    const ids = new Set<string>();
    let last = -Infinity;
    for (const line of lines) {
      expect(line).not.toContain("\n");
      const e = JSON.parse(line) as Record<string, unknown>;
      expect(typeof e._document_id).toBe("string");
      ids.add(e._document_id as string);
      expect(e["@timestamp"]).toBe(e.created_at);
      expect(e.created_at as number).toBeGreaterThanOrEqual(last);
      last = e.created_at as number;
      const event = fromAuditLog(e);
      expect(event?.id).toBe(`audit:${String(e.org).toLowerCase()}:${e._document_id as string}`);
    }
    expect(ids.size).toBe(5000);
  });

  it("gives _document_ids shaped like GitHub's: 22 base64url characters, in no order, the same for a seed", () => {
    const ids = collect({ events: 4000, seed: 11 }).map((l) => (JSON.parse(l) as { _document_id: string })._document_id);
    expect(new Set(ids).size).toBe(ids.length);
    // 16 bytes in base64url: 21 characters of 6 bits, then one holding the last 2 bits.
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/);
    // In file order the ids are not sorted (a counter, or a timestamp prefix, would be): about half of the
    // neighbouring pairs go up.
    const ascending = ids.slice(1).filter((id, i) => id > ids[i]!).length / (ids.length - 1);
    expect(ascending).toBeGreaterThan(0.45);
    expect(ascending).toBeLessThan(0.55);
    // Neighbours share no long prefix, and every position uses the whole alphabet about evenly.
    const shared = (a: string, b: string) => {
      let n = 0;
      while (n < a.length && a[n] === b[n]) n++;
      return n;
    };
    expect(Math.max(...ids.slice(1).map((id, i) => shared(id, ids[i]!)))).toBeLessThan(4);
    for (const position of [0, 10, 20]) {
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id[position]!, (counts.get(id[position]!) ?? 0) + 1);
      expect(counts.size).toBe(64);
      // 4,000 draws over 64 characters: 62.5 each on average.
      expect(Math.max(...counts.values())).toBeLessThan(110);
    }

    const first = documentIds(11);
    const again = documentIds(11);
    const other = documentIds(12);
    const a = Array.from({ length: 100 }, () => first());
    expect(Array.from({ length: 100 }, () => again())).toEqual(a);
    expect(a).toEqual(ids.slice(0, 100));
    expect(Array.from({ length: 100 }, () => other())).not.toEqual(a);
  });

  it("gives bots most of the clone and fetch volume, and location to a realistic share", () => {
    const entries = collect({ events: 20_000, seed: 1 }).map((l) => JSON.parse(l) as Record<string, unknown>);
    const git = entries.filter((e) => e.action === "git.clone" || e.action === "git.fetch");
    const byBots = git.filter((e) => e.actor_is_bot === true).length;
    expect(byBots / git.length).toBeGreaterThan(0.8);
    const located = entries.filter((e) => typeof (e.actor_location as { country_code?: unknown } | undefined)?.country_code === "string");
    expect(located.length / entries.length).toBeGreaterThan(0.4);
    expect(located.length / entries.length).toBeLessThan(0.9);
    const tokenEvents = entries.filter((e) => e.hashed_token !== undefined);
    expect(tokenEvents.length).toBeGreaterThan(0);
    expect(tokenEvents.every((e) => typeof e.programmatic_access_type === "string")).toBe(true);
  });

  it("writes the incidents only when asked", () => {
    const actions = (incidents: boolean) =>
      new Set(collect({ events: 3000, seed: 5, incidents, perDay: 3000, developers: 40 }).map((l) => (JSON.parse(l) as { action: string }).action));
    const incidentActions = [
      "personal_access_token.access_granted",
      "repo.access",
      "repo.transfer_outgoing",
      "audit_log_streaming.destroy",
    ];
    const with_ = actions(true);
    const without = actions(false);
    for (const a of incidentActions) {
      expect(with_.has(a)).toBe(true);
      expect(without.has(a)).toBe(false);
    }
    const countries = new Set(
      collect({ events: 3000, seed: 5, perDay: 3000, developers: 40 }).map(
        (l) => (JSON.parse(l) as { actor_location?: { country_code?: string } }).actor_location?.country_code,
      ),
    );
    expect(countries.has("KP")).toBe(false);
  });
});
