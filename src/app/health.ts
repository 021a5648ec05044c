// GET /health: answers 200 when the app and its database are up, 503 otherwise, with counters an operator
// can watch (deliveries, redeliveries ignored, webhook requests refused, delivery ids seen with a different
// body, detector failures).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Runtime } from "./runtime.js";

export function healthHandler(runtime: Runtime) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/health" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const report = await runtime.health();
    res.writeHead(report.status === "ok" ? 200 : 503, { "content-type": "application/json" });
    res.end(req.method === "HEAD" ? undefined : JSON.stringify(report));
    return true;
  };
}
