// The baseline of the webhook benchmark: a bare Probot server (Probot's own run()) with the same settings as
// the app and a no-op handler, so the ratio measures only what exfil-monitor adds to each delivery. The
// benchmark loads probe.ts into it as into the app, to read how busy its event loop was.
import { run } from "probot";

await run((app) => {
  app.onAny(async () => {});
});
