// Loaded with `--import` into each server the webhook benchmark starts (bare Probot and exfil-monitor alike),
// so that the server itself reports how busy its event loop was while it was under load, over the IPC
// channel the benchmark opens; the server's own code is not touched. Messages:
//   { type: "start" }  → { type: "started" }   marks the start of the measured window
//   { type: "stop" }   → { type: "stopped", ... } event-loop utilization and CPU time over the window, then
//                        how long the loop stayed busy after it (work the server put off until after it
//                        answered: the load generator does not see it, the benchmark must).
import { performance, type EventLoopUtilization } from "node:perf_hooks";

export interface ProbeReport {
  type: "stopped";
  /** Share of the window the event loop was busy, 0 to 1. */
  utilization: number;
  windowMs: number;
  /** CPU time of the process over the window (all threads: SQLite, GC, libuv). */
  cpuMs: number;
  /** Time after the window until the loop went quiet (two windows of SETTLE_STEP_MS under 10% busy). */
  settleMs: number;
}

const SETTLE_STEP_MS = 25;
/** A server still busy this long after the load stopped is reported as such, not waited for further. */
const SETTLE_LIMIT_MS = 120_000;

let start: { elu: EventLoopUtilization; cpu: NodeJS.CpuUsage; at: number } | undefined;

async function settle(): Promise<number> {
  const t0 = performance.now();
  let prev = performance.eventLoopUtilization();
  let busyUntil = t0;
  let quiet = 0;
  while (quiet < 2 && performance.now() - t0 < SETTLE_LIMIT_MS) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_STEP_MS));
    const now = performance.eventLoopUtilization();
    if (performance.eventLoopUtilization(now, prev).utilization < 0.1) quiet++;
    else {
      quiet = 0;
      busyUntil = performance.now();
    }
    prev = now;
  }
  return busyUntil - t0;
}

if (process.send) {
  process.on("message", (msg: { type?: string }) => {
    if (msg.type === "start") {
      start = { elu: performance.eventLoopUtilization(), cpu: process.cpuUsage(), at: performance.now() };
      process.send!({ type: "started" });
    } else if (msg.type === "stop" && start) {
      const elu = performance.eventLoopUtilization(start.elu);
      const cpu = process.cpuUsage(start.cpu);
      const windowMs = performance.now() - start.at;
      start = undefined;
      void settle().then((settleMs) => {
        const report: ProbeReport = { type: "stopped", utilization: elu.utilization, windowMs, cpuMs: (cpu.user + cpu.system) / 1000, settleMs };
        process.send!(report);
      });
    }
  });
}
