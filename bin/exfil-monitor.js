#!/usr/bin/env node
// The installed `exfil-monitor` command: a shim over the compiled CLI (`npm ci` runs `prepare`, which builds
// dist/ from src/).
let cli;
try {
  ({ cli } = await import("../dist/cli/main.js"));
} catch (err) {
  if (err && err.code === "ERR_MODULE_NOT_FOUND" && String(err.message).includes("dist/cli/main.js")) {
    console.error("exfil-monitor is not built: run `npm run build` (or `npm ci`, which builds it) first.");
    process.exit(2);
  }
  throw err;
}
await cli();
