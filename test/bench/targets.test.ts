// The benchmarks' judgement, without running them: which runs may be compared at all (every run did the whole
// work; both servers were at their limit) and which targets a set of figures misses. Speed itself is only
// measured by `npm run bench`.
import { describe, expect, it } from "vitest";
import { checkTargets, countProblem, type AnalyzeBenchSize, type ChildRun } from "../../bench/analyze.js";
import { refusal, type WebhookRun } from "../../bench/webhook.js";

const child = (kind: ChildRun["kind"], extra: Partial<ChildRun> = {}): ChildRun => ({
  kind,
  events: 1000,
  seconds: 1,
  eventsPerSecond: 1000,
  maxRssMiB: 100,
  ...extra,
});

const size = (events: number, ratioA: number, ratioB: number, analyzeRss: number): AnalyzeBenchSize => ({
  events,
  fileMiB: 1,
  floorA: child("floor-a"),
  floorB: child("floor-b"),
  analyze: child("analyze", { maxRssMiB: analyzeRss }),
  ratioA,
  ratioB,
});

describe("countProblem", () => {
  it("accepts runs that each handled every event written", () => {
    expect(countProblem(1000, [child("floor-a", { stored: 1000 }), child("floor-b"), child("analyze", { stored: 1000, duplicates: 0, bad: 0 })])).toBeUndefined();
  });

  it("refuses a run that read fewer events, stored fewer, or took some for duplicates", () => {
    expect(countProblem(1000, [child("floor-b", { events: 999 })])).toMatch(/floor-b read 999 events of the 1000/);
    expect(countProblem(1000, [child("floor-a", { stored: 10 })])).toMatch(/floor-a stored 10 events/);
    expect(countProblem(1000, [child("analyze", { stored: 1000, duplicates: 3 })])).toMatch(/took 3 events for duplicates/);
    expect(countProblem(1000, [child("analyze", { stored: 1000, bad: 1 })])).toMatch(/1 bad lines/);
  });
});

describe("checkTargets", () => {
  it("passes figures at or past every target", () => {
    expect(checkTargets([size(1_000_000, 1.0, 0.4, 200), size(4_000_000, 1.2, 0.5, 220)])).toEqual([]);
  });

  it("names each target missed", () => {
    const misses = checkTargets([size(1_000_000, 0.99, 0.39, 256)]);
    expect(misses).toHaveLength(3);
    expect(misses[0]).toMatch(/0\.99× floor A/);
    expect(misses[1]).toMatch(/0\.39× floor B/);
    expect(misses[2]).toMatch(/peaked at 256 MiB/);
  });

  it("misses memory that grows with the log, even under the cap", () => {
    const misses = checkTargets([size(4_000_000, 1, 0.5, 240), size(1_000_000, 1, 0.5, 200)]);
    expect(misses).toEqual([expect.stringMatching(/grows with the log: 200 MiB at 1,000,000 events, 240 MiB at 4,000,000/)]);
  });
});

describe("refusal", () => {
  const run = (server: WebhookRun["server"], serverBusy: number): WebhookRun => ({
    server,
    round: 0,
    deliveries: 10_000,
    seconds: 10,
    settleSeconds: 0,
    perSecond: 1000,
    p50Ms: 5,
    p99Ms: 10,
    maxMs: 20,
    non2xx: 0,
    errors: 0,
    serverBusy,
    serverCpu: serverBusy,
    generatorBusy: 0.3,
  });

  it("gives a ratio only when both servers were at least 85% busy", () => {
    expect(refusal(run("bare-probot", 0.85), run("exfil-monitor", 0.99))).toBeUndefined();
    expect(refusal(run("bare-probot", 0.84), run("exfil-monitor", 0.99))).toMatch(/^bare-probot was 84% busy \(needs ≥ 85%\)/);
    expect(refusal(run("bare-probot", 0.9), run("exfil-monitor", 0.5))).toMatch(/^exfil-monitor was 50% busy/);
  });
});
