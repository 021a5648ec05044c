// One pipeline: the bundled samples judged by the app's runtime (webhook intake and audit-log events through
// its queue), by `analyze` and by the demo give the same incidents with the same severities.
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { Runtime } from "../../src/app/runtime.js";
import { analyzeFiles } from "../../src/cli/analyze.js";
import { runDemo } from "../../src/cli/demo.js";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import type { OrgEvent } from "../../src/events/types.js";
import type { OctokitLike } from "../../src/github/octokit.js";
import { MEMORY } from "../../src/store/sqlite/open.js";
import { openSqliteStorage } from "../../src/store/sqlite/storage.js";
import type { FindingRow, Storage } from "../../src/store/storage.js";
import { silentLog } from "../helpers/github.js";

const SAMPLES = path.join(import.meta.dirname, "../../samples");
const LOG = path.join(SAMPLES, "audit-log.jsonl");
const WEBHOOKS = path.join(SAMPLES, "webhooks");

const opened: Storage[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

/** What must agree: the incident, its severity, its repos and how many events made it. */
function incidents(rows: readonly Pick<FindingRow, "fingerprint" | "severity" | "repos" | "count">[]) {
  return rows.map((f) => `${f.fingerprint} ${f.severity} ${f.repos.join(",")} ${f.count}`).sort();
}

function webhookSamples(): { event: string; delivery: string; payload: unknown }[] {
  return fs
    .readdirSync(WEBHOOKS)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(WEBHOOKS, f), "utf8")) as { event: string; delivery: string; payload: unknown });
}

describe("one pipeline", () => {
  it("gives the same findings and severities in the app, analyze and the demo", async () => {
    // The app: webhook deliveries through intake, the audit log as the poller hands it over. No GitHub:
    // configs fall back to the defaults and nothing is filed.
    const appStorage = openSqliteStorage(MEMORY);
    opened.push(appStorage);
    const noGitHub = async (): Promise<OctokitLike> => {
      throw new Error("no GitHub in this test");
    };
    // Deliveries dated as the demo dates them, just before the audit log starts.
    let clock = Date.UTC(2026, 8, 1, 0, 0, 0);
    const runtime = new Runtime({ storage: appStorage, log: silentLog, octokitFor: noGitHub, now: () => clock, alertWriteSpacingMs: 0 });
    for (const sample of webhookSamples()) {
      await runtime.acceptDelivery(sample.event, sample.delivery, sample.payload);
      clock += 60_000;
    }
    const entries = fs.readFileSync(LOG, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as unknown);
    const events = entries.map((e) => fromAuditLog(e, { org: "acme", installationId: 7 })).filter((e): e is OrgEvent => e !== null);
    expect(events).toHaveLength(entries.length);
    await runtime.acceptEvents(events);
    await runtime.idle();
    const app = incidents(await appStorage.findings.list());

    // analyze, on the audit log alone.
    const analyzed = await analyzeFiles([LOG]);
    const auditOnly = app.filter((line) => analyzed.findings.some((f) => line.startsWith(`${f.fingerprint} `)));
    expect(incidents(analyzed.findings.map((f) => ({ ...f, repos: f.repos })))).toEqual(auditOnly);

    // The demo, on the webhooks and the audit log.
    const demoStorage = openSqliteStorage(MEMORY);
    opened.push(demoStorage);
    await runDemo(new PassThrough(), demoStorage);
    expect(incidents(await demoStorage.findings.list())).toEqual(app);
    expect(app.length).toBeGreaterThanOrEqual(10);
  });
});
