// A small stand-in for the GitHub REST API on 127.0.0.1, for end-to-end tests and the benchmark that run
// the real app in another process (Probot reaches it through GHE_HOST/GHE_PROTOCOL, under /api/v3).
// It answers what exfil-monitor asks and records every write.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeIssue {
  number: number;
  repo: string;
  title: string;
  body: string;
  labels: string[];
}

export interface FakeGitHub {
  host: string;
  issues: FakeIssue[];
  comments: { repo: string; number: number; body: string }[];
  requests: string[];
  /** Answer the next N issue creations with 502. */
  failIssueCreates(n: number): void;
  /** Serve `.github/exfil-monitor.yml` of an org's `.github` repository (null: 404, as when there is none). */
  setConfig(org: string, text: string | null): void;
  close(): Promise<void>;
}

export async function startFakeGitHub(opts: { alertsRepoPrivate?: boolean } = {}): Promise<FakeGitHub> {
  const issues: FakeIssue[] = [];
  const comments: FakeGitHub["comments"] = [];
  const requests: string[] = [];
  let failCreates = 0;
  const configs = new Map<string, string>();

  const server = http.createServer((req, res) => {
    let raw = "";
    req.on("data", (c: Buffer) => (raw += c.toString("utf8")));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      const path = url.pathname.replace(/^\/api\/v3/, "");
      requests.push(`${req.method} ${path}`);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(body === undefined ? "" : JSON.stringify(body));
      };
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      let m: RegExpMatchArray | null;
      if (req.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
        return send(201, { token: "ghs_fake", expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {} });
      }
      if (req.method === "GET" && path === "/app/installations") return send(200, []);
      if (req.method === "GET" && (m = path.match(/^\/repos\/([^/]+)\/\.github\/contents\/\.github(?:\/|%2F)exfil-monitor\.yml$/i))) {
        const text = configs.get(m[1]!.toLowerCase());
        if (text === undefined) return send(404, { message: "Not Found" });
        // As GitHub answers: the size in bytes, the content in base64 wrapped at 60 characters.
        const content = Buffer.from(text).toString("base64").replace(/(.{60})/g, "$1\n");
        return send(200, { type: "file", encoding: "base64", size: Buffer.byteLength(text), name: "exfil-monitor.yml", content });
      }
      if (req.method === "GET" && /^\/repos\/[^/]+\/\.github\/contents\//.test(path)) return send(404, { message: "Not Found" });
      if (req.method === "GET" && (m = path.match(/^\/users\/([^/]+)$/))) {
        return send(200, { login: m[1], id: 1, created_at: "2015-01-01T00:00:00Z" });
      }
      if (req.method === "GET" && /^\/orgs\/[^/]+\/members\/[^/]+$/.test(path)) return send(404, { message: "Not Found" });
      if ((m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/)) && req.method === "POST") {
        comments.push({ repo: `${m[1]}/${m[2]}`, number: Number(m[3]), body: String(body.body ?? "") });
        return send(201, { id: comments.length });
      }
      if ((m = path.match(/^\/repos\/([^/]+)\/([^/]+)\/issues$/))) {
        const repo = `${m[1]}/${m[2]}`;
        if (req.method === "GET") return send(200, issues.filter((i) => i.repo === repo).map(toApiIssue));
        if (req.method === "POST") {
          if (failCreates > 0) {
            failCreates -= 1;
            return send(502, { message: "Bad Gateway" });
          }
          const issue: FakeIssue = {
            number: issues.length + 1,
            repo,
            title: String(body.title ?? ""),
            body: String(body.body ?? ""),
            labels: ((body.labels as unknown[]) ?? []).map(String),
          };
          issues.push(issue);
          return send(201, toApiIssue(issue));
        }
      }
      if (req.method === "GET" && (m = path.match(/^\/repos\/([^/]+)\/([^/]+)$/))) {
        return send(200, { full_name: `${m[1]}/${m[2]}`, private: opts.alertsRepoPrivate ?? true, visibility: "private" });
      }
      return send(404, { message: "Not Found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    issues,
    comments,
    requests,
    failIssueCreates: (n) => {
      failCreates = n;
    },
    setConfig: (org, text) => {
      if (text === null) configs.delete(org.toLowerCase());
      else configs.set(org.toLowerCase(), text);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function toApiIssue(i: FakeIssue) {
  return {
    number: i.number,
    title: i.title,
    body: i.body,
    labels: i.labels.map((name) => ({ name })),
    state: "open",
    user: { login: "exfil-monitor[bot]", type: "Bot" },
  };
}
