// The baseline of the webhook benchmark: a bare Probot server with the same settings as the app and a
// no-op handler, so the ratio measures only what exfil-monitor adds to each delivery.
import { run } from "probot";

await run((app) => {
  app.onAny(async () => {});
});
