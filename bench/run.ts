// `npm run bench`: every benchmark, each against a baseline measured in the same run on the same machine,
// reported as ratios (machines are noisy; absolute figures only mean something beside their baseline).
//   webhook intake: signed push deliveries over loopback, exfil-monitor vs a bare Probot server.
//   analyze: a synthetic benign audit log (1M and 4M events), analyze vs parse + insert into SQLite.
// `npm run bench -- --quick` runs smaller sizes for a smoke test; `--only webhook` or `--only analyze` runs one.
import { benchAnalyze } from "./analyze.js";
import { benchWebhook } from "./webhook.js";

const WEBHOOK_TARGET = 0.7;
/** GitHub counts a delivery as failed after 10 s; "well inside" means an order of magnitude less. */
const LATENCY_TARGET_MS = 1_000;

const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && only !== "webhook" && only !== "analyze") {
  console.error("--only takes webhook or analyze");
  process.exit(2);
}
const misses: string[] = [];

console.log("exfil-monitor benchmarks" + (quick ? " (quick)" : ""));
console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);

if (only !== "analyze") {
  console.log("1. webhook intake (signed push deliveries over loopback, best of 3 alternating rounds)");
  const web = await benchWebhook(quick ? { deliveries: 1000, rounds: 1 } : {});
  const row = (r: typeof web.bare) =>
    `   ${r.server.padEnd(14)} ${r.perSecond.toFixed(0).padStart(6)} deliveries/s   p99 ${r.p99Ms.toFixed(0).padStart(4)} ms   max ${r.maxMs.toFixed(0).padStart(4)} ms   non-2xx ${r.non2xx}`;
  console.log(row(web.bare));
  console.log(row(web.app));
  console.log(`   ratio exfil-monitor / bare Probot: ${web.ratio.toFixed(2)} (target ≥ ${WEBHOOK_TARGET})\n`);
  if (web.ratio < WEBHOOK_TARGET) misses.push(`webhook intake ratio ${web.ratio.toFixed(2)} < ${WEBHOOK_TARGET}`);
  if (web.app.maxMs > LATENCY_TARGET_MS) misses.push(`slowest delivery answered in ${web.app.maxMs.toFixed(0)} ms`);
  if (web.app.non2xx > 0) misses.push(`${web.app.non2xx} deliveries not answered 2xx`);
}

if (only !== "webhook") {
  console.log("2. analyze (synthetic benign audit log) vs floor (parse every line + batched SQLite inserts)");
  const analyze = await benchAnalyze({ events: quick ? [100_000, 200_000] : [1_000_000, 4_000_000], progress: () => {} });
  console.log(analyze.report.split("\n").map((l) => `   ${l}`).join("\n"));
  console.log("   targets: ratio ≥ 0.5; analyze peak RSS < 512 MiB and flat from the smallest to the largest log\n");
  misses.push(...analyze.misses);
}

console.log(misses.length === 0 ? "All targets met." : `Targets missed:\n${misses.map((m) => `- ${m}`).join("\n")}`);
process.exitCode = misses.length === 0 ? 0 : 1;
