// The public webhook route (WEBHOOK_PATH). Anyone on the internet can POST to it, so it refuses what GitHub
// never sends before reading a byte of the body (wrong headers, a declared size over GitHub's cap), reads at
// most that cap, checks the signature over the exact bytes received, and parses only a signed body. Probot's
// own webhook middleware read any body whole before checking it and logged forged bodies in full; this route
// answers every request on the path, so that middleware never sees one.
//
// A request body is never logged. A refusal logs the delivery id, event, size and reason, and a flood of
// refusals is summed up (RefusalLog) instead of writing one line per request.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log.js";
import type { RawBody } from "./runtime.js";

/**
 * GitHub caps webhook payloads at 25 MB and sends nothing larger. Read as 25 MiB (26,214,400 bytes), the
 * larger reading, so nothing GitHub may send is refused.
 */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

/**
 * Bytes of request bodies held at once, all requests together. A forged body cannot be told from a real one
 * before it is read whole, so without this limit many slow uploads just under the cap would add up; past it,
 * new bodies are answered 503 until the ones being read are done.
 */
export const MAX_BUFFERED_BYTES = 4 * MAX_BODY_BYTES;

export interface WebhookRouteOptions {
  path: string;
  /** The GitHub App's webhook secret; without one every delivery is refused. */
  secret: string | undefined;
  log: Logger;
  /** Stores a signed delivery; resolves true when new, false for a known delivery id. */
  accept: (name: string, id: string, payload: unknown, raw: RawBody) => Promise<boolean>;
  /** `refused` is incremented for every request answered with an error (shown by /health). */
  counters: { refused: number };
  maxBodyBytes?: number;
  maxBufferedBytes?: number;
  lingerMs?: number;
  now?: () => number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

const JSON_CONTENT_TYPE = /^\s*application\/json\s*(?:;|$)/i;
/** GitHub's event names: `push`, `pull_request_review_comment`, `projects_v2_item`, ... */
const EVENT_NAME = /^[a-z][a-z0-9_]{0,63}$/;
/** GitHub's delivery ids are GUIDs; anything printable and short is accepted, never an empty one. */
const DELIVERY_ID = /^[\x21-\x7e]{1,128}$/;
const SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

interface Refusal {
  status: number;
  reason: string;
  /** Says what was wrong and, where it is the operator's to fix, how. */
  message: string;
  headers?: Record<string, string>;
}

/**
 * After an answer sent before a large body was read to its end, the connection is closed on our side (the
 * sender sees the end after the answer, so it does not send another request on it) and left unread for at
 * most this long, then cut. Cutting it at once would reset it under a sender still writing, which then never
 * sees the answer (clients stop sending once they read it); reading the rest would cost a read of every byte
 * an attacker cares to send.
 */
export const LINGER_MS = 5_000;

/** The rest of a refused body up to this size is read and dropped, keeping the connection usable. */
const DRAIN_BYTES = 64 * 1024;

export function webhookRoute(opts: WebhookRouteOptions): Handler {
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxBuffered = opts.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  const lingerMs = opts.lingerMs ?? LINGER_MS;
  const now = opts.now ?? Date.now;
  const refusals = new RefusalLog(opts.log, now);
  const path = pathnameOf(opts.path);
  let buffered = 0;

  return (req, res) => {
    if (pathnameOf(req.url) !== path) return false;
    const started = now();
    const event = header(req, "x-github-event");
    const delivery = header(req, "x-github-delivery");
    const declared = header(req, "content-length");
    const contentLength = declared !== undefined && /^\d+$/.test(declared) ? Number(declared) : undefined;
    const seen = { delivery: clip(delivery), event: clip(event), contentLength, remote: req.socket.remoteAddress };

    const refuse = (r: Refusal, bytesRead: number): true => {
      opts.counters.refused += 1;
      refusals.note(r.reason, { ...seen, bytes: bytesRead, status: r.status }, `webhook request refused: ${r.message}`);
      const small = contentLength !== undefined && contentLength - bytesRead <= DRAIN_BYTES;
      if (!req.complete && !small) closeAfterAnswer(req, res, lingerMs);
      if (!res.headersSent) {
        const body = JSON.stringify({ error: r.message });
        res.writeHead(r.status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...r.headers });
        res.end(body);
      }
      return true;
    };

    // Everything that can be judged from the headers is, so a hopeless request costs no body read.
    const checked = checkHeaders(req, { secret: opts.secret, contentLength, maxBody });
    if ("refusal" in checked) return refuse(checked.refusal, 0);
    if (contentLength !== undefined && buffered + contentLength > maxBuffered) return refuse(busy(), 0);
    const { secret, signature } = checked;

    return new Promise<boolean>((resolve) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let held = 0;
      let settled = false;

      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        buffered -= held;
        held = 0;
        req.removeListener("data", onData);
        return true;
      };
      const stop = (r: Refusal) => {
        if (!settle()) return;
        chunks.length = 0;
        resolve(refuse(r, total));
      };
      const onData = (chunk: Buffer) => {
        if (settled) return;
        total += chunk.length;
        if (total > maxBody) return stop(tooLarge(maxBody));
        if (buffered + chunk.length > maxBuffered) return stop(busy());
        buffered += chunk.length;
        held += chunk.length;
        chunks.push(chunk);
      };
      req.on("data", onData);
      req.once("error", () => stop({ status: 400, reason: "aborted", message: "the request was aborted while its body was read" }));
      req.once("close", () => {
        if (!req.complete) stop({ status: 400, reason: "aborted", message: "the request was aborted while its body was read" });
      });
      req.once("end", () => {
        if (settled) return;
        // Hashed only once the body is complete and within the cap: a body refused for its size costs no hashing.
        // The signature and the digest cover exactly the bytes received.
        const hmac = createHmac("sha256", secret);
        const digest = createHash("sha256");
        for (const c of chunks) {
          hmac.update(c);
          digest.update(c);
        }
        if (!timingSafeEqual(hmac.digest(), Buffer.from(signature, "hex"))) {
          settle();
          chunks.length = 0;
          resolve(
            refuse(
              {
                status: 400,
                reason: "signature-mismatch",
                message: "the signature does not match (if every delivery fails so, WEBHOOK_SECRET differs from the GitHub App's secret)",
              },
              total,
            ),
          );
          return;
        }
        const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)).toString("utf8");
        chunks.length = 0;
        settle();
        let payload: unknown;
        try {
          payload = JSON.parse(text);
        } catch {
          // Not JSON at all: refused just below, like JSON that is not an object.
          payload = undefined;
        }
        if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
          resolve(refuse({ status: 400, reason: "invalid-json", message: "the signed body is not a JSON object" }, total));
          return;
        }
        const raw: RawBody = { sha256: digest.digest("hex"), bytes: total, text };
        // Through a promise, so a throw while normalizing the payload is answered 500 too, never uncaught.
        Promise.resolve()
          .then(() => opts.accept(checked.event, checked.delivery, payload, raw))
          .then(
            (fresh) => {
              const action = (payload as { action?: unknown }).action;
              opts.log.info(
                { delivery, event, ...(typeof action === "string" ? { action: clip(action) } : {}), bytes: total, ms: now() - started, redelivery: !fresh },
                "webhook delivery received",
              );
              res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
              resolve(true);
            },
            (err: unknown) => {
              // Not stored: a 5xx shows the delivery as failed on GitHub, where it can be redelivered.
              opts.log.error({ err, delivery, event, bytes: total }, "webhook delivery could not be stored; answered 500 so it can be redelivered");
              if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" }).end('{"error":"the delivery could not be stored"}');
              resolve(true);
            },
          );
      });
    });
  };
}

type Checked = { refusal: Refusal } | { secret: string; event: string; delivery: string; signature: string };

function checkHeaders(req: IncomingMessage, h: { secret: string | undefined; contentLength: number | undefined; maxBody: number }): Checked {
  const refusal = (status: number, reason: string, message: string, headers?: Record<string, string>): Checked => ({
    refusal: { status, reason, message, ...(headers ? { headers } : {}) },
  });
  if (req.method !== "POST") {
    return refusal(405, "method", `${clip(req.method)} is not accepted: GitHub delivers with POST`, { allow: "POST" });
  }
  if (!h.secret) return refusal(500, "no-secret", "WEBHOOK_SECRET is not set: set it to the webhook secret on the GitHub App's settings page");
  if (!JSON_CONTENT_TYPE.test(header(req, "content-type") ?? "")) {
    return refusal(415, "content-type", 'Content-Type must be "application/json" (the content type set on the GitHub App\'s webhook)');
  }
  const event = header(req, "x-github-event");
  if (event === undefined || !EVENT_NAME.test(event)) return refusal(400, "event", "X-GitHub-Event is missing or not an event name");
  const delivery = header(req, "x-github-delivery");
  if (delivery === undefined || !DELIVERY_ID.test(delivery)) {
    return refusal(400, "delivery-id", "X-GitHub-Delivery is missing or not a delivery id");
  }
  const signature = SIGNATURE.exec(header(req, "x-hub-signature-256") ?? "")?.[1];
  if (signature === undefined) return refusal(400, "signature-header", "X-Hub-Signature-256 is missing or malformed");
  // GitHub always declares the size of a delivery. A body without one could only be judged by reading it to the
  // cap, holding 25 MiB per forged request before its signature can be checked: refused unread instead.
  if (h.contentLength === undefined) {
    return refusal(411, "length-required", "Content-Length is required: GitHub always sends it with a delivery");
  }
  if (h.contentLength > h.maxBody) return { refusal: tooLarge(h.maxBody) };
  return { secret: h.secret, event, delivery, signature };
}

/**
 * Stops reading a refused body, ends the connection once the answer is out, and cuts it `lingerMs` later
 * unless the sender closes it first. (A `Connection: close` header would make Node cut it at once.)
 */
function closeAfterAnswer(req: IncomingMessage, res: ServerResponse, lingerMs: number): void {
  // Marks the body as being consumed, so Node does not read and drop the rest itself once the answer is out.
  req.read(0);
  req.pause();
  const socket = req.socket;
  res.once("finish", () => socket.end());
  const timer = setTimeout(() => socket.destroy(), lingerMs).unref();
  socket.once("close", () => clearTimeout(timer));
}

function tooLarge(maxBody: number): Refusal {
  return { status: 413, reason: "too-large", message: `the body is larger than ${maxBody} bytes, more than GitHub ever sends` };
}

function busy(): Refusal {
  return {
    status: 503,
    reason: "busy",
    message: "too many large request bodies are being read at once; try again shortly",
    headers: { "retry-after": "10" },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(", ") : v;
}

/**
 * The path a request names, resolved the way a URL parser does (dot segments, `%2e`, a fragment, repeated
 * slashes at the end): every spelling of the webhook path must reach this route, never another handler.
 */
export function pathnameOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let pathname: string;
  try {
    pathname = new URL(url, "http://localhost").pathname;
  } catch {
    // Not a URL at all: it names no route of ours.
    return undefined;
  }
  // As Probot's middleware did: a trailing slash names the same route.
  return pathname.replace(/(?<=.)\/+$/, "");
}

/** Header values are attacker text: logged short. */
function clip(v: string | undefined): string | undefined {
  return v === undefined || v.length <= 80 ? v : `${v.slice(0, 80)}…`;
}

/**
 * Refusals are logged one line each up to `perWindow` a window; after that they are counted by reason and
 * written as one summary line when the window ends, so a flood of forged requests costs a few lines a minute.
 */
export class RefusalLog {
  private windowStart = Number.NEGATIVE_INFINITY;
  private logged = 0;
  private readonly suppressed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly windowMs = 60_000,
    private readonly perWindow = 10,
  ) {}

  note(reason: string, fields: Record<string, unknown>, message: string): void {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.flush();
      this.windowStart = t;
      this.logged = 0;
    }
    if (this.logged < this.perWindow) {
      this.logged += 1;
      this.log.warn({ ...fields, reason }, message);
      return;
    }
    this.suppressed.set(reason, (this.suppressed.get(reason) ?? 0) + 1);
    this.timer ??= setTimeout(() => this.flush(), this.windowStart + this.windowMs - t).unref();
  }

  /** Writes the summary of refusals not logged one by one, if any. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed.size === 0) return;
    const reasons = Object.fromEntries(this.suppressed);
    const total = [...this.suppressed.values()].reduce((a, b) => a + b, 0);
    this.suppressed.clear();
    this.log.warn(
      { suppressed: total, reasons },
      `${total} more webhook requests refused in the last ${Math.round(this.windowMs / 1000)} s (not logged one by one)`,
    );
  }
}
