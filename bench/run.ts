// `npm run bench`: every benchmark against baselines measured in the same run on the same machine, reported
// as ratios (machines are noisy; absolute figures only mean something beside their baseline).
//   webhook intake: signed push deliveries over loopback, exfil-monitor vs a bare Probot server with a no-op
//                   handler, each server's event-loop utilization shown (no ratio from an idle server);
//   analyze:        a synthetic audit log with random ids (1M and 4M events), analyze vs floor A (parse +
//                   raw insert into SQLite) and floor B (parse only).
// `npm run bench -- --quick` is a smoke run at small sizes: it checks that every benchmark runs and prints
// its figures, which are too small to judge the targets by, so missed targets do not fail it.
// `--only webhook` or `--only analyze` runs one.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { benchAnalyze, TARGET_FLOOR_A, TARGET_FLOOR_B, TARGET_RSS_MIB } from "./analyze.js";
import { BUSY_FLOOR, benchWebhook, formatRun, TARGET_P99, TARGET_SLOWEST_MS, TARGET_THROUGHPUT, type WebhookRun } from "./webhook.js";

const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && only !== "webhook" && only !== "analyze") {
  console.error("--only takes webhook or analyze");
  process.exit(2);
}
const misses: string[] = [];
/** Faults that fail even a quick run: deliveries not answered 2xx. */
const failures: string[] = [];
const summary: string[] = [];
const cpus = os.cpus();
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
/** The code measured: figures belong to a commit, and to uncommitted changes when src/ has any. */
function measuredCode(): string {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = git("status", "--porcelain", "--", "src") !== "";
    return `commit ${git("rev-parse", "--short", "HEAD")}${dirty ? " with uncommitted changes in src/" : ""}`;
  } catch (err) {
    return `not a git checkout (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`;
  }
}
/** Each run as it ends, on stderr: a full run takes many minutes. */
const progress = (line: string) => process.stderr.write(`   … ${line}\n`);

console.log("exfil-monitor benchmarks" + (quick ? " (quick: sizes too small to judge the targets)" : ""));
console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}`);
console.log(`code: ${measuredCode()}`);
console.log(`load average before: ${load()}\n`);

/**
 * A server that had far less CPU than its event loop was busy either waited for a core (other work competed)
 * or blocked in a system call (a synchronous disk write): both worth knowing when reading its figures.
 */
const starved = (r: WebhookRun) => r.serverCpu < 0.7 * r.serverBusy;

if (only !== "analyze") {
  console.log(`1. webhook intake: signed push deliveries over loopback, autocannon in its own process, ${quick ? "1 round" : "best of 3 alternating rounds"}`);
  const web = await benchWebhook(quick ? { seconds: 3, warmupSeconds: 1, rounds: 1, progress } : { progress });
  console.log(`   ${formatRun(web.bare)}`);
  console.log(`   ${formatRun(web.app)}`);
  for (const r of [web.bare, web.app]) {
    if (starved(r)) {
      console.log(`   warning: ${r.server} used ${r.serverCpu.toFixed(2)} cores while its loop was ${Math.round(r.serverBusy * 100)}% busy: other processes took its core (figures are noisy) or it blocked on disk writes`);
    }
  }
  if (web.ratio !== undefined && web.p99Ratio !== undefined) {
    const line = `exfil-monitor / bare Probot: ${web.ratio.toFixed(2)}× deliveries/s (target ≥ ${TARGET_THROUGHPUT}), p99 ${web.p99Ratio.toFixed(2)}× (target ≤ ${TARGET_P99}); slowest answer ${web.app.maxMs.toFixed(0)} ms (target ≤ ${TARGET_SLOWEST_MS})`;
    console.log(`   ${line}\n`);
    summary.push(`webhook: ${line}`);
  } else {
    console.log(`   no ratio: ${web.refused}\n`);
    summary.push(`webhook: no ratio (a server under ${Math.round(BUSY_FLOOR * 100)}% busy)`);
  }
  misses.push(...web.misses);
  failures.push(...web.failures);
}

if (only !== "webhook") {
  console.log("2. analyze (synthetic benign audit log, random ids) vs floor A (parse + raw insert) and floor B (parse only)");
  const analyze = await benchAnalyze({ events: quick ? [100_000, 200_000] : [1_000_000, 4_000_000], progress });
  console.log(analyze.report.split("\n").map((l) => `   ${l}`).join("\n"));
  console.log(
    `   targets: ≥ ${TARGET_FLOOR_A.toFixed(1)}× floor A, ≥ ${TARGET_FLOOR_B}× floor B; ` +
      `analyze peak RSS < ${TARGET_RSS_MIB} MiB and flat from the smallest to the largest log\n`,
  );
  for (const s of analyze.sizes) {
    const by = Object.entries(s.analyze.findingsBy ?? {}).map(([k, n]) => `${n} ${k}`).join(", ");
    if (by) console.log(`   findings at ${s.events.toLocaleString("en-US")} events: ${by}`);
  }
  for (const s of analyze.sizes) {
    summary.push(
      `analyze, ${s.events.toLocaleString("en-US")} events: ${s.analyze.eventsPerSecond.toLocaleString("en-US")} events/s = ` +
        `${s.ratioA.toFixed(2)}× floor A, ${s.ratioB.toFixed(2)}× floor B, peak RSS ${s.analyze.maxRssMiB} MiB`,
    );
  }
  misses.push(...analyze.misses);
}

console.log("Summary");
for (const line of summary) console.log(`- ${line}`);
console.log(`load average after: ${load()}`);
if (misses.length === 0) console.log("All targets met.");
else console.log(`${quick ? "Targets missed (not judged: quick run)" : "Targets missed"}:\n${misses.map((m) => `- ${m}`).join("\n")}`);
if (failures.length > 0) console.log(`Failures:\n${failures.map((f) => `- ${f}`).join("\n")}`);
process.exitCode = failures.length > 0 || (misses.length > 0 && !quick) ? 1 : 0;
