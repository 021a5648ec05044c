// Posts a large body the way a flooding script does: over a plain TCP socket, streamed in 64 KiB writes, with
// a Content-Length or chunked, and stops sending as soon as the answer arrives (as curl does). A raw socket,
// not fetch or http.request, so nothing on the client side buffers the body or waits for it to be sent.
import net from "node:net";

export interface RawPostResult {
  status: number;
  /** From the connection to the answer's status line. */
  ms: number;
  /** Body bytes handed to the socket before the answer came. */
  sent: number;
  body: string;
}

export interface RawPostOptions {
  headers: Record<string, string>;
  /** Body size in bytes. */
  size: number;
  /** Transfer-Encoding: chunked, no Content-Length. */
  chunked?: boolean;
  /** The body is made of this byte. */
  fill?: number;
  /** Request target sent as is (a URL parser would resolve `..` and `%2e` before sending). */
  rawPath?: string;
}

const PIECE = 64 * 1024;

export function rawPost(url: string, opts: RawPostOptions): Promise<RawPostResult> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(Number(u.port), u.hostname);
    let sent = 0;
    let answered = false;
    let reply = "";

    const head =
      `POST ${opts.rawPath ?? `${u.pathname}${u.search}`} HTTP/1.1\r\nHost: ${u.host}\r\n` +
      Object.entries(opts.headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("") +
      (opts.chunked ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${opts.size}\r\n`) +
      "\r\n";
    const piece = Buffer.alloc(PIECE, opts.fill ?? 0x61);
    // One write per piece: with chunked encoding, the piece framed as one chunk.
    const frame = (data: Buffer) => (opts.chunked ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from("\r\n")]) : data);
    const full = frame(piece);

    const pump = () => {
      while (!answered && sent < opts.size) {
        const n = Math.min(PIECE, opts.size - sent);
        sent += n;
        if (!socket.write(n === PIECE ? full : frame(piece.subarray(0, n)))) {
          socket.once("drain", pump);
          return;
        }
      }
      if (!answered && opts.chunked) socket.write("0\r\n\r\n");
    };

    socket.on("connect", () => {
      socket.write(head);
      pump();
    });
    socket.on("data", (c: Buffer) => {
      reply += c.toString("latin1");
      const end = reply.indexOf("\r\n\r\n");
      if (answered || end < 0) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(reply.slice(0, end))?.[1] ?? 0);
      if (reply.length < end + 4 + length) return;
      answered = true;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1]);
      socket.destroy();
      resolve({ status, ms: performance.now() - started, sent, body: reply.slice(end + 4, end + 4 + length) });
    });
    // Once the answer is in, a reset while the rest was still being written is expected.
    socket.on("error", (err) => {
      if (!answered) reject(err);
    });
    socket.on("close", () => {
      if (!answered) reject(new Error(`connection closed without an answer after ${sent} bytes:\n${reply}`));
    });
  });
}
