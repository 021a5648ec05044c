// `npm run demo`: what exfil-monitor does, without a GitHub App. A few real-shaped webhook deliveries and a
// sample org audit log (benign background with incidents written into it) go through the same normalizers,
// detectors and embedded SQLite store the app uses, and the findings are printed.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultConfig } from "../config/schema.js";
import { Engine } from "../engine/engine.js";
import { fromWebhook } from "../events/from-webhook.js";
import { judgeBatch } from "../pipeline/judge.js";
import { MEMORY, openStorage } from "../store/open.js";
import type { Storage } from "../store/storage.js";
import { analyzeFiles, toOutput } from "./analyze.js";
import { renderTable } from "./main.js";

const SAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../samples");

interface SampleDelivery {
  description: string;
  event: string;
  delivery: string;
  payload: unknown;
}

/** `into`: judge into this storage and leave it open (tests compare it with the app's); default a fresh one. */
export async function runDemo(out: NodeJS.WritableStream = process.stdout, into?: Storage): Promise<number> {
  const storage = into ?? openStorage(MEMORY);
  const config = defaultConfig();
  const engine = new Engine();
  try {
    out.write("exfil-monitor demo: detectors over bundled samples, embedded SQLite, no GitHub credentials.\n\n");

    const dir = path.join(SAMPLES, "webhooks");
    const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
    out.write(`1. ${files.length} webhook deliveries (samples/webhooks/):\n`);
    // Deliveries are dated just before the audit log starts, as if the app had been receiving them live.
    const receivedAt = Date.UTC(2026, 8, 1, 0, 0, 0);
    for (const [i, file] of files.entries()) {
      const sample = JSON.parse(readFileSync(path.join(dir, file), "utf8")) as SampleDelivery;
      out.write(`   - ${sample.event}: ${sample.description}\n`);
      const events = fromWebhook({ name: sample.event, id: sample.delivery, payload: sample.payload, receivedAt: receivedAt + i * 60_000 });
      await judgeBatch(
        events.map((event) => ({ event, config })),
        {
          storage,
          engine,
          record: "seen",
          onEventError: (_event, err) => {
            throw err;
          },
        },
      );
    }

    const log = path.join(SAMPLES, "audit-log.jsonl");
    const result = await analyzeFiles([log], { storage, config });
    out.write(`\n2. the org audit log (samples/audit-log.jsonl): ${result.events.toLocaleString("en-US")} events, `);
    out.write("developers, bots and CI with a few incidents written in.\n\n");

    const findings = [];
    for (const row of await storage.findings.list()) findings.push(await toOutput(row, storage));
    out.write(`Findings (${findings.length}), one per incident, as they would be filed in the alerts repository:\n\n`);
    out.write(renderTable(findings, process.stdout.columns));
    out.write(
      "\nIn the app each finding becomes one issue in your private alerts repository, with the evidence and next steps.\n" +
        "Analyze your own export: npx exfil-monitor analyze <audit-log.json|.jsonl|.csv|.gz> --format table\n",
    );
    return findings.length > 0 ? 0 : 1;
  } finally {
    if (!into) await storage.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = await runDemo();
}
