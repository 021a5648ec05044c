// The webhook route on its own, behind a bare HTTP server on 127.0.0.1 with small limits: how much of a body
// it reads, the budget shared by the bodies being read at once, the exact bytes it hashes, and how refusals
// are logged under a flood.
import { createHash } from "node:crypto";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../../src/log.js";
import type { RawBody } from "../../src/app/runtime.js";
import { RefusalLog, webhookRoute } from "../../src/app/webhook-route.js";
import { sign, waitFor } from "../helpers/app-process.js";
import { rawPost } from "../helpers/raw-http.js";

const SECRET = "route-secret";
const MAX_BODY = 1000;
const MAX_BUFFERED = 1500;

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function recordingLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => {
    lines.push(typeof obj === "string" ? { level, fields: {}, msg: obj } : { level, fields: obj as Record<string, unknown>, msg: msg ?? "" });
  };
  return { lines, log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function serve(lingerMs?: number) {
  const { log, lines } = recordingLog();
  const accepted: { name: string; id: string; payload: unknown; raw: RawBody }[] = [];
  const counters = { refused: 0 };
  const route = webhookRoute({
    path: "/hook",
    secret: SECRET,
    log,
    accept: async (name, id, payload, raw) => {
      accepted.push({ name, id, payload, raw });
      return true;
    },
    counters,
    maxBodyBytes: MAX_BODY,
    maxBufferedBytes: MAX_BUFFERED,
    ...(lingerMs !== undefined ? { lingerMs } : {}),
  });
  const server = http.createServer((req, res) => {
    void Promise.resolve(route(req, res)).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  // Nothing but the route ends a connection while a test runs.
  server.keepAliveTimeout = 60_000;
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, lines, accepted, counters };
}

function headers(id: string, body: string, secret = SECRET): Record<string, string> {
  return { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": id, "x-hub-signature-256": sign(body, secret) };
}

/** A JSON object of exactly `size` bytes. */
function jsonOfSize(size: number): string {
  const shell = JSON.stringify({ pad: "" });
  return JSON.stringify({ pad: "p".repeat(size - shell.length) });
}

/** Opens a request and sends only `part` of its body, leaving it in flight. */
async function partialUpload(port: number, id: string, body: string, part: number): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  const head = Object.entries({ ...headers(id, body), "content-length": String(Buffer.byteLength(body)) })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  socket.write(`POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}\r\n${body.slice(0, part)}`);
  return socket;
}

function reply(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    socket.on("data", (c: Buffer) => {
      text += c.toString();
      if (text.includes("\r\n\r\n")) resolve(text.split("\r\n")[0]!);
    });
  });
}

describe("webhookRoute", () => {
  it("hands over the exact bytes received, hashed, with any whitespace and non-ASCII text", async () => {
    const s = await serve();
    const body = '{ "name": "Zoë \u{1F680}",\n\t"n": 1 }';
    const res = await fetch(`${s.url}/hook/?from=test`, { method: "POST", headers: headers("exact-1", body), body });
    expect(res.status).toBe(200);
    expect(s.accepted).toEqual([
      {
        name: "push",
        id: "exact-1",
        payload: { name: "Zoë \u{1F680}", n: 1 },
        raw: { sha256: createHash("sha256").update(body).digest("hex"), bytes: Buffer.byteLength(body), text: body },
      },
    ]);
  });

  it("leaves other paths to the next handler", async () => {
    const s = await serve();
    expect((await fetch(`${s.url}/hooks`, { method: "POST", headers: headers("other-1", "{}"), body: "{}" })).status).toBe(404);
    expect(s.counters.refused).toBe(0);
  });

  it("refuses a body without Content-Length (GitHub always sends one) with 411, without reading it", async () => {
    const s = await serve();
    const res = await rawPost(`${s.url}/hook`, { headers: headers("chunked-1", "{}"), size: 200_000, chunked: true });
    expect(res.status).toBe(411);
    expect(s.accepted).toEqual([]);
    expect(s.lines.find((l) => l.fields.reason === "length-required")?.fields).toMatchObject({ bytes: 0, status: 411 });
  });

  it("answers 503 to a body that would take the bodies being read past the shared budget, and 2xx once they are done", async () => {
    const s = await serve();
    const body = jsonOfSize(MAX_BODY);
    const first = await partialUpload(s.port, "budget-1", body, 600);
    const firstReply = reply(first);
    // 600 bytes held: a declared 1000 more would pass 1500.
    await waitFor(async () => {
      const r = await rawPost(`${s.url}/hook`, { headers: headers("budget-2", body), size: MAX_BODY });
      return r.status === 503;
    });
    first.write(body.slice(600));
    expect(await firstReply).toBe("HTTP/1.1 200 OK");
    first.destroy();
    const later = await fetch(`${s.url}/hook`, { method: "POST", headers: headers("budget-4", body), body });
    expect(later.status).toBe(200);
    expect(s.accepted.map((a) => a.id)).toEqual(["budget-1", "budget-4"]);
    expect(s.lines.find((l) => l.fields.reason === "busy")?.fields).toMatchObject({ status: 503 });
  });

  it("gives the budget back when the sender goes away mid-body", async () => {
    const s = await serve();
    const body = jsonOfSize(MAX_BODY);
    const gone = await partialUpload(s.port, "abort-1", body, 900);
    // Held: a declared 1000 more is refused.
    await waitFor(async () => (await rawPost(`${s.url}/hook`, { headers: headers("abort-probe", body), size: MAX_BODY })).status === 503);
    gone.destroy();
    await waitFor(() => s.lines.some((l) => l.fields.reason === "aborted"));
    const res = await fetch(`${s.url}/hook`, { method: "POST", headers: headers("abort-2", body), body });
    expect(res.status).toBe(200);
  });

  it("keeps the connection usable after refusing a small body from its headers", async () => {
    const s = await serve();
    const socket = net.connect(s.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString()));
    // Headers only: the refusal is sent before the body arrives.
    socket.write(`POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n`);
    await waitFor(() => text.includes("\r\n\r\n"));
    expect(text).toMatch(/^HTTP\/1\.1 415 /);
    const body = JSON.stringify({ n: 1 });
    const next = Object.entries({ ...headers("reuse-2", body), "content-length": String(body.length) }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`${"x".repeat(100)}POST /hook HTTP/1.1\r\nHost: x\r\n${next.join("")}\r\n${body}`);
    await waitFor(() => text.includes("HTTP/1.1 200"));
    socket.destroy();
    expect(s.accepted.map((a) => a.id)).toEqual(["reuse-2"]);
  });

  it("ends the connection after refusing a large body unread, so no other request is sent on it", async () => {
    // Longer than the test may run: the end seen is the one sent after the answer, not the final cut.
    const s = await serve(60_000);
    const socket = net.connect(s.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    let text = "";
    socket.on("data", (c: Buffer) => (text += c.toString()));
    // A clean end of the connection, not a reset when the unread body is finally dropped.
    const ended = new Promise((resolve) => {
      socket.once("end", () => resolve("end"));
      socket.once("error", (err) => resolve(`error: ${err.message}`));
    });
    const head = Object.entries({ ...headers("large-1", "{}"), "content-length": "200000" }).map(([k, v]) => `${k}: ${v}\r\n`);
    socket.write(`POST /hook HTTP/1.1\r\nHost: x\r\n${head.join("")}\r\n${"a".repeat(1000)}`);
    expect(await ended).toBe("end");
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
  });

  it("answers a forged body 400 and logs its size and reason, never its content", async () => {
    const s = await serve();
    const body = JSON.stringify({ secret: "FORGED-CONTENT" });
    const res = await fetch(`${s.url}/hook`, { method: "POST", headers: headers("forged-1", body, "another-secret"), body });
    expect(res.status).toBe(400);
    expect(s.accepted).toEqual([]);
    expect(s.lines).toEqual([
      {
        level: "warn",
        fields: expect.objectContaining({ delivery: "forged-1", event: "push", bytes: Buffer.byteLength(body), reason: "signature-mismatch", status: 400 }),
        msg: expect.stringContaining("signature does not match"),
      },
    ]);
    expect(JSON.stringify(s.lines)).not.toContain("FORGED-CONTENT");
  });

  it("answers 500, and keeps serving, when storing a signed delivery throws before it is queued", async () => {
    const { log, lines } = recordingLog();
    const route = webhookRoute({
      path: "/hook",
      secret: SECRET,
      log,
      accept: () => {
        throw new Error("cannot normalize this payload");
      },
      counters: { refused: 0 },
    });
    const server = http.createServer((req, res) => void route(req, res));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    for (const id of ["throws-1", "throws-2"]) {
      const res = await fetch(url, { method: "POST", headers: headers(id, "{}"), body: "{}" });
      expect(res.status).toBe(500);
    }
    expect(lines.filter((l) => l.level === "error")).toHaveLength(2);
  });

  it("refuses every delivery, naming the fix, when no webhook secret is configured", async () => {
    const { log, lines } = recordingLog();
    const route = webhookRoute({ path: "/hook", secret: undefined, log, accept: async () => true, counters: { refused: 0 } });
    const server = http.createServer((req, res) => void route(req, res));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const res = await fetch(url, { method: "POST", headers: headers("nosecret-1", "{}"), body: "{}" });
    expect(res.status).toBe(500);
    expect(lines[0]?.msg).toContain("WEBHOOK_SECRET is not set");
  });
});

describe("RefusalLog", () => {
  it("logs the first refusals of a minute one by one and sums up the rest in one line", () => {
    const { log, lines } = recordingLog();
    let now = Date.UTC(2026, 0, 1);
    const refusals = new RefusalLog(log, () => now);
    for (let i = 0; i < 25; i++) refusals.note(i % 5 === 0 ? "too-large" : "signature-mismatch", { delivery: `d-${i}` }, "webhook request refused");
    expect(lines).toHaveLength(10);
    now += 60_000;
    refusals.note("too-large", { delivery: "d-25" }, "webhook request refused");
    expect(lines).toHaveLength(12);
    expect(lines[10]).toMatchObject({ level: "warn", fields: { suppressed: 15, reasons: { "signature-mismatch": 12, "too-large": 3 } } });
    expect(lines[10]!.msg).toMatch(/^15 more webhook requests refused/);
    expect(lines[11]!.fields).toMatchObject({ delivery: "d-25", reason: "too-large" });
  });

  it("writes the summary when the minute ends, even if no refusal follows", () => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
    try {
      const { log, lines } = recordingLog();
      const refusals = new RefusalLog(log, () => Date.now());
      for (let i = 0; i < 12; i++) refusals.note("busy", {}, "webhook request refused");
      expect(lines).toHaveLength(10);
      vi.advanceTimersByTime(60_000);
      expect(lines).toHaveLength(11);
      expect(lines[10]!.fields).toEqual({ suppressed: 2, reasons: { busy: 2 } });
    } finally {
      vi.useRealTimers();
    }
  });
});
