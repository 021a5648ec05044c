// A deterministic generator of a synthetic, benign org audit log in GitHub's JSON-lines export shape, for the
// benchmarks, the demo sample and tests. It models an org of a few hundred developers, each working from one
// home country during their working hours (a few travel, slowly, between countries over days), with bots and
// GitHub App tokens doing most of the clone and fetch volume. Humans clone only their own few repositories,
// so with the default config the detectors should report almost nothing on it; `incidents: true` writes in a
// handful of incidents that they must catch. The same options always give the same lines.
//
//   tsx bench/generate-audit-log.ts --events 1000000 --out FILE [--incidents] [--seed N] [--per-day N] [--developers N]
//
// samples/audit-log.jsonl (the demo's input) is exactly:
//   tsx bench/generate-audit-log.ts --events 2000 --per-day 2000 --developers 40 --incidents --out samples/audit-log.jsonl
import fs from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface GenerateOptions {
  /** Lines to write, incidents included. */
  events: number;
  seed?: number;
  /** Epoch ms of the first event. */
  start?: number;
  incidents?: boolean;
  /** Average events per day: sets how much time the log covers. */
  perDay?: number;
  developers?: number;
  org?: string;
}

export const DEFAULT_START = Date.UTC(2026, 8, 1, 0, 0, 0);
export const DEFAULT_PER_DAY = 125_000;
export const DEFAULT_DEVELOPERS = 300;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Rng = () => number;

/** mulberry32: small, fast and good enough for synthetic data; never used for anything secret. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}
function weighted<T>(rng: Rng, xs: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of xs) total += w;
  let r = rng() * total;
  for (const [x, w] of xs) {
    r -= w;
    if (r < 0) return x;
  }
  return xs[xs.length - 1]![0];
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

const B62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64 = B62 + "+/";
function randomString(rng: Rng, n: number, alphabet = B62): string {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rng() * alphabet.length)];
  return s;
}
/** Looks like GitHub's `hashed_token`: base64 of a SHA-256. */
const hashedToken = (rng: Rng) => randomString(rng, 43, B64) + "=";

/**
 * `_document_id`s as GitHub writes them: 16 random bytes in base64url, 22 characters, in no order. A store
 * that indexes them inserts at random places in its index, which is what a real export costs; ids with a
 * counter in them would insert in order and flatter every index. They come from their own stream (seeded
 * from `seed`), so the rest of the log does not depend on how ids are made.
 */
export function documentIds(seed: number): () => string {
  const rng = mulberry32(Math.imul((seed >>> 0) ^ 0x5f3759df, 0x9e3779b1));
  const bytes = Buffer.alloc(16);
  return () => {
    // mulberry32 yields k / 2^32: multiplying back gives its 32 bits exactly.
    for (let i = 0; i < 16; i += 4) bytes.writeUInt32LE(rng() * 4294967296, i);
    return bytes.toString("base64url");
  };
}

/** Home countries with their weight and a rough UTC offset (hours) for working hours. */
const COUNTRIES: readonly (readonly [code: string, weight: number, utcOffset: number])[] = [
  ["US", 34, -6], ["DE", 9, 1], ["GB", 8, 0], ["IN", 9, 5.5], ["PL", 5, 1], ["BR", 4, -3], ["CA", 5, -5],
  ["FR", 4, 1], ["NL", 3, 1], ["ES", 3, 1], ["JP", 2, 9], ["UA", 2, 2], ["PT", 2, 0], ["SE", 2, 1],
  ["AU", 2, 10], ["MX", 2, -6], ["AR", 1, -3], ["IE", 2, 0], ["IL", 1, 2],
];
const OFFSET = new Map(COUNTRIES.map(([c, , o]) => [c, o]));

const FIRST = ["alex", "sam", "maria", "li", "priya", "jonas", "emma", "noah", "olga", "yuki", "omar", "ana",
  "lucas", "mia", "ivan", "sofia", "arjun", "chen", "fatima", "leo", "nina", "pedro", "sara", "tom", "zoe",
  "ravi", "eva", "hugo", "ines", "kai", "lena", "max", "nora", "oscar", "paula", "raj", "tara", "uma", "vik", "wen"];
const LAST = ["smith", "mueller", "kowalski", "garcia", "patel", "nguyen", "silva", "tanaka", "johansson",
  "dubois", "rossi", "kim", "novak", "cohen", "oconnor", "santos", "schmidt", "brown", "singh", "lopez",
  "wang", "ivanova", "jansen", "moreau", "costa", "sato", "larsen", "ali", "fischer", "murphy"];
const WORDS = ["api", "web", "billing", "auth", "search", "payments", "mobile", "infra", "data", "ml", "docs",
  "gateway", "ledger", "catalog", "checkout", "notify", "reports", "admin", "sdk", "cli", "events", "ingest",
  "storage", "cache", "frontend", "backend", "analytics", "identity", "scheduler", "pricing", "orders", "ops"];
const SUFFIX = ["service", "worker", "ui", "lib", "tools", "config", "proxy", "jobs", "schema", "client"];
const GIT_AGENTS = ["git/2.43.0", "git/2.45.2", "git/2.39.3 (Apple Git-146)", "git/2.47.1.windows.1", "JGit/6.9"];
const BROWSERS = [
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36",
  "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
];

interface Repo {
  name: string;
  id: number;
  visibility: "private" | "internal" | "public";
}

interface Token {
  hash: string;
  id: number;
  type: string;
}

interface Trip {
  from: number;
  to: number;
  country: string;
}

interface Developer {
  login: string;
  id: number;
  home: string;
  offset: number;
  /** The few repositories this person works on: their clones never exceed the mass-clone threshold. */
  repos: Repo[];
  team: string;
  token: Token;
  agent: string;
  browser: string;
  trips: Trip[];
}

interface Bot {
  login: string;
  id: number;
  weight: number;
  fetchShare: number;
  tokenType: string;
  /** A fresh installation token every so often: a pool per bot. */
  tokens: Token[];
}

type Entry = Record<string, unknown>;

/** Everything fixed for one run: the org, its people, bots and repositories. */
function buildOrg(rng: Rng, developers: number, start: number, spanMs: number) {
  const teams = Math.max(2, Math.round(developers / 10));
  const teamNames = Array.from({ length: teams }, (_, i) => `${WORDS[i % WORDS.length]}${i >= WORDS.length ? `-${Math.floor(i / WORDS.length)}` : ""}`);
  const repos: Repo[] = [];
  const teamRepos: Repo[][] = [];
  const used = new Set<string>();
  let repoId = 410_000_000;
  for (let t = 0; t < teams; t++) {
    const list: Repo[] = [];
    const n = int(rng, 6, 16);
    for (let i = 0; i < n; i++) {
      let name = `${teamNames[t]}-${pick(rng, SUFFIX)}`;
      while (used.has(name)) name = `${teamNames[t]}-${pick(rng, SUFFIX)}-${int(rng, 2, 99)}`;
      used.add(name);
      const visibility = weighted(rng, [["private", 78], ["internal", 14], ["public", 8]] as const);
      const repo = { name, id: repoId++, visibility };
      list.push(repo);
      repos.push(repo);
    }
    teamRepos.push(list);
  }

  const logins = new Set<string>();
  const devs: Developer[] = [];
  for (let i = 0; i < developers; i++) {
    let login = `${pick(rng, FIRST)}-${pick(rng, LAST)}`;
    while (logins.has(login)) login = `${pick(rng, FIRST)}-${pick(rng, LAST)}${int(rng, 2, 99)}`;
    logins.add(login);
    const home = weighted(rng, COUNTRIES.map(([c, w]) => [c, w] as const));
    const t = i % teams;
    const own = teamRepos[t]!;
    const k = Math.min(own.length, int(rng, 2, 5));
    const mine = shuffle(rng, [...own]).slice(0, k);
    const dev: Developer = {
      login,
      id: 5_000_000 + i * 17,
      home,
      offset: OFFSET.get(home) ?? 0,
      repos: mine,
      team: teamNames[t]!,
      token: {
        hash: hashedToken(rng),
        id: 80_000_000 + i,
        type: rng() < 0.7 ? "OAuth access token" : "Fine-grained personal access token",
      },
      agent: pick(rng, GIT_AGENTS),
      browser: pick(rng, BROWSERS),
      trips: [],
    };
    // About one person in sixty travels: a stay of several days abroad, weeks apart, never two countries in
    // the same day (a long journey between them), as real travel looks in the audit log.
    if (i % 60 === 7) {
      let at = start + int(rng, 3, 25) * DAY + int(rng, 0, 23) * HOUR;
      while (at < start + spanMs) {
        const days = int(rng, 3, 10);
        let country = pick(rng, COUNTRIES)[0];
        while (country === home) country = pick(rng, COUNTRIES)[0];
        dev.trips.push({ from: at, to: at + days * DAY, country });
        at += (days + int(rng, 14, 40)) * DAY;
      }
    }
    devs.push(dev);
  }

  const bot = (login: string, id: number, weight: number, fetchShare: number, tokenType: string, pool: number): Bot => ({
    login,
    id,
    weight,
    fetchShare,
    tokenType,
    tokens: Array.from({ length: pool }, (_, j) => ({ hash: hashedToken(rng), id: id * 1000 + j, type: tokenType })),
  });
  const S2S = "GitHub App server-to-server token";
  const bots: Bot[] = [
    bot("github-actions[bot]", 41898282, 45, 0.55, S2S, 400),
    bot("acme-buildkite[bot]", 90100001, 20, 0.6, S2S, 100),
    bot("dependabot[bot]", 49699333, 12, 0.8, S2S, 50),
    bot("renovate[bot]", 29139614, 8, 0.8, S2S, 50),
    bot("acme-mirror[bot]", 90100002, 12, 0.95, S2S, 20),
    bot("acme-backup[bot]", 90100003, 3, 0.1, S2S, 10),
  ];
  return { teamNames, repos, devs, bots, publicRepos: repos.filter((r) => r.visibility === "public") };
}

function location(country: string | null): Entry {
  return country ? { actor_location: { country_code: country } } : {};
}

/**
 * Yields one JSON object per line (no trailing newline), oldest first. Deterministic for given options.
 */
export function* generateAuditLog(opts: GenerateOptions): Iterable<string> {
  const total = Math.max(0, Math.floor(opts.events));
  const seed = opts.seed ?? 1;
  const start = opts.start ?? DEFAULT_START;
  const perDay = opts.perDay ?? DEFAULT_PER_DAY;
  const developers = Math.max(10, opts.developers ?? DEFAULT_DEVELOPERS);
  const orgName = opts.org ?? "acme";
  const spanMs = (total / perDay) * DAY;
  const rng = mulberry32(seed);
  const org = buildOrg(rng, developers, start, spanMs);
  const orgBase = { business: `${orgName}-corp`, business_id: 4242, org: orgName, org_id: 1_234_567 };
  const docId = documentIds(seed);

  const base = (at: number, action: string, actor: string | null, actorId: number, isBot: boolean, country: string | null): Entry => ({
    "@timestamp": at,
    _document_id: docId(),
    action,
    actor: actor ?? "",
    actor_id: actorId,
    actor_is_bot: isBot,
    ...location(country),
    ...orgBase,
    created_at: at,
  });
  const repoFields = (r: Repo): Entry => ({
    repo: `${orgName}/${r.name}`,
    repo_id: r.id,
    repository: `${orgName}/${r.name}`,
    repository_public: r.visibility === "public",
  });
  const gitEntry = (at: number, action: string, dev: Developer, r: Repo, country: string | null, viaToken: boolean, token = dev.token): Entry => ({
    ...base(at, action, dev.login, dev.id, false, country),
    ...repoFields(r),
    ...(viaToken
      ? { hashed_token: token.hash, programmatic_access_type: token.type, token_id: token.id, transport_protocol_name: "http", transport_protocol: 1 }
      : { transport_protocol_name: "ssh", transport_protocol: 2 }),
    user_agent: dev.agent,
    operation_type: "access",
  });

  const countryAt = (d: Developer, at: number): string => {
    for (const t of d.trips) if (at >= t.from && at < t.to) return t.country;
    return d.home;
  };
  /** No activity while travelling: ten hours either side of each border crossing. */
  const inTransit = (d: Developer, at: number): boolean =>
    d.trips.some((t) => Math.abs(at - t.from) < 10 * HOUR || Math.abs(at - t.to) < 10 * HOUR);
  const working = (d: Developer, at: number): boolean => {
    const local = new Date(at + (OFFSET.get(countryAt(d, at)) ?? d.offset) * HOUR);
    const h = local.getUTCHours();
    const day = local.getUTCDay();
    return day !== 0 && day !== 6 && h >= 8 && h < 20;
  };
  const pickDeveloper = (at: number): Developer => {
    let fallback: Developer | undefined;
    for (let i = 0; i < 12; i++) {
      const d = pick(rng, org.devs);
      if (inTransit(d, at)) continue;
      fallback ??= d;
      if (working(d, at)) return d;
    }
    // Someone working late; travellers in transit stay offline.
    return fallback ?? org.devs.find((d) => d.trips.length === 0)!;
  };
  // Humans: counted with country ~85% of the time; bots ~50%; anonymous ~70%.
  const humanCountry = (d: Developer, at: number) => (rng() < 0.85 ? countryAt(d, at) : null);

  // Per-developer daily volumes, scaled down when the org would exceed the requested rate.
  const human = { fetch: 25, push: 8, clone: 2.5, zip: 0.08, web: 30 };
  const humanPerDay = developers * (human.fetch + human.push + human.clone + human.zip + human.web);
  const humanScale = Math.min(1, (perDay * 0.45) / humanPerDay);
  const anonymousShare = org.publicRepos.length > 0 ? 0.01 : 0;
  const kinds = [
    ["fetch", (developers * human.fetch * humanScale) / perDay],
    ["push", (developers * human.push * humanScale) / perDay],
    ["clone", (developers * human.clone * humanScale) / perDay],
    ["zip", (developers * human.zip * humanScale) / perDay],
    ["web", (developers * human.web * humanScale) / perDay],
    ["anonymous", anonymousShare],
  ] as const;
  const humanShare = kinds.reduce((n, [, p]) => n + p, 0);
  const botWeights = org.bots.map((b) => [b, b.weight] as const);

  const web = (at: number): Entry => {
    const d = pickDeveloper(at);
    const c = humanCountry(d, at);
    const r = pick(rng, d.repos);
    const who = base(at, "", d.login, d.id, false, c);
    const browser = { user_agent: d.browser };
    const action = weighted(rng, [
      ["pull_request.create", 24], ["pull_request.merge", 14], ["pull_request_review.submit", 30],
      ["issue_comment.update", 8], ["issue.transfer", 0.3], ["protected_branch.update", 1.5],
      ["repo.create", 0.6], ["team.add_member", 0.5], ["team.add_repository", 0.4], ["team.remove_member", 0.3],
      ["repo.update_topics", 1], ["workflows.approve_workflow_job", 2], ["environment.update_protection_rule", 0.3],
      ["discussion.create", 0.6], ["repo.archived", 0.1],
    ] as const);
    const entry: Entry = { ...who, action, ...browser };
    switch (action) {
      case "repo.create": {
        const name = `${d.team}-${pick(rng, SUFFIX)}-${randomString(rng, 4).toLowerCase()}`;
        return { ...entry, repo: `${orgName}/${name}`, repository: `${orgName}/${name}`, repository_public: false,
          visibility: rng() < 0.8 ? "private" : "internal", operation_type: "create" };
      }
      case "team.add_member":
      case "team.remove_member":
        return { ...entry, team: `${orgName}/${d.team}`, user: pick(rng, org.devs).login, operation_type: "modify" };
      case "team.add_repository":
        return { ...entry, team: `${orgName}/${d.team}`, ...repoFields(r), operation_type: "modify" };
      case "protected_branch.update":
        return { ...entry, ...repoFields(r), name: "main", operation_type: "modify" };
      default:
        return { ...entry, ...repoFields(r), operation_type: action.endsWith("create") ? "create" : "modify" };
    }
  };

  const benign = (at: number): Entry => {
    let r = rng();
    if (r < humanShare) {
      for (const [kind, p] of kinds) {
        if (r >= p) {
          r -= p;
          continue;
        }
        if (kind === "web") return web(at);
        if (kind === "anonymous") {
          const repo = pick(rng, org.publicRepos);
          return { ...base(at, "git.clone", null, 0, false, rng() < 0.7 ? weighted(rng, COUNTRIES.map(([c, w]) => [c, w] as const)) : null),
            ...repoFields(repo), transport_protocol_name: "http", transport_protocol: 1, user_id: 0, user_agent: pick(rng, GIT_AGENTS),
            operation_type: "access" };
        }
        const d = pickDeveloper(at);
        const repo = pick(rng, d.repos);
        const c = humanCountry(d, at);
        const viaToken = rng() < 0.5;
        if (kind === "zip") {
          return { ...base(at, "repo.download_zip", d.login, d.id, false, c), ...repoFields(repo), user_agent: d.browser, operation_type: "access" };
        }
        return gitEntry(at, kind === "fetch" ? "git.fetch" : kind === "push" ? "git.push" : "git.clone", d, repo, c, viaToken);
      }
    }
    const b = weighted(rng, botWeights);
    const repo = pick(rng, org.repos);
    const token = pick(rng, b.tokens);
    return {
      ...base(at, rng() < b.fetchShare ? "git.fetch" : "git.clone", b.login, b.id, true, rng() < 0.5 ? "US" : null),
      ...repoFields(repo),
      hashed_token: token.hash,
      programmatic_access_type: token.type,
      token_id: token.id,
      transport_protocol_name: "http",
      transport_protocol: 1,
      user_agent: "git/2.43.0",
      operation_type: "access",
    };
  };

  const incidents = opts.incidents ? buildIncidents(rng, org, start, spanMs, orgName, { base, gitEntry, repoFields }) : [];
  const benignCount = Math.max(0, total - incidents.length);
  const incidentLines = incidents.slice(0, total);
  // Mean gap between benign events, so that the whole log spans `total / perDay` days.
  const meanGap = benignCount > 0 ? spanMs / benignCount : 0;
  let t = start;
  let next = 0;
  for (let i = 0; i < benignCount; i++) {
    t += -Math.log(1 - rng()) * meanGap;
    const at = Math.floor(t);
    while (next < incidentLines.length && (incidentLines[next]!["created_at"] as number) <= at) {
      yield JSON.stringify(incidentLines[next++]);
    }
    yield JSON.stringify(benign(at));
  }
  while (next < incidentLines.length) yield JSON.stringify(incidentLines[next++]);
}

type Org = ReturnType<typeof buildOrg>;
interface Builders {
  base: (at: number, action: string, actor: string | null, actorId: number, isBot: boolean, country: string | null) => Entry;
  gitEntry: (at: number, action: string, dev: Developer, r: Repo, country: string | null, viaToken: boolean, token?: Token) => Entry;
  repoFields: (r: Repo) => Entry;
}

/** The incidents written into the log with `incidents: true`, sorted by time. */
function buildIncidents(rng: Rng, org: Org, start: number, spanMs: number, orgName: string, b: Builders): Entry[] {
  const out: Entry[] = [];
  const at = (fraction: number) => Math.floor(start + spanMs * fraction);
  const homebodies = org.devs.filter((d) => d.trips.length === 0);
  const person = (n: number, home?: string) =>
    (home ? homebodies.filter((d) => d.home === home) : homebodies)[n] ?? homebodies[n % homebodies.length]!;
  const privateRepos = org.repos.filter((r) => r.visibility === "private");
  const privatePick = (n: number, skip: number) => Array.from({ length: n }, (_, i) => privateRepos[(skip + i * 7) % privateRepos.length]!);

  // 1. One person clones 12 private repositories in 8 minutes.
  {
    const d = person(3);
    const t0 = at(0.3);
    privatePick(12, 1).forEach((r, i) => out.push(b.gitEntry(t0 + i * 40_000 + int(rng, 0, 3000), "git.clone", d, r, d.home, true)));
  }
  // 2. One account used from North Korea / China and the US, alternately, within an hour.
  {
    const d = person(1, "US");
    const t0 = at(0.42);
    const seq = ["US", "KP", "US", "CN", "US", "KP"];
    seq.forEach((c, i) => {
      const t = t0 + i * 9 * MINUTE;
      if (i % 2 === 0) out.push(b.gitEntry(t, "git.fetch", d, d.repos[0]!, c, true));
      else out.push({ ...b.base(t, "pull_request_review.submit", d.login, d.id, false, c), ...b.repoFields(d.repos[0]!), user_agent: d.browser, operation_type: "create" });
    });
  }
  // 3. A personal access token granted access, then four private repositories cloned with it.
  {
    const d = person(5);
    const t0 = at(0.55);
    const token: Token = { hash: hashedToken(rng), id: 99_000_001, type: "Fine-grained personal access token" };
    out.push({ ...b.base(t0, "personal_access_token.access_granted", d.login, d.id, false, d.home), user: d.login,
      token_id: token.id, hashed_token: token.hash, permissions: { contents: "read" }, user_agent: d.browser,
      operation_type: "create" });
    privatePick(4, 40).forEach((r, i) => out.push(b.gitEntry(t0 + (20 + i * 11) * MINUTE, "git.clone", d, r, d.home, true, token)));
  }
  // 4. A private repository made public.
  {
    const d = person(8);
    const r = privateRepos[(privateRepos.length >> 1)]!;
    out.push({ ...b.base(at(0.64), "repo.access", d.login, d.id, false, d.home), ...b.repoFields(r), repository_public: true,
      visibility: "public", previous_visibility: "private", user_agent: d.browser, operation_type: "modify" });
  }
  // 5. A repository transferred out of the org to a personal account.
  {
    const d = person(11);
    const r = privateRepos[(privateRepos.length >> 2)]!;
    const t0 = at(0.72);
    const dest = `${d.login}-personal`;
    out.push({ ...b.base(t0, "repo.transfer_start", d.login, d.id, false, d.home), ...b.repoFields(r), user_agent: d.browser, operation_type: "modify" });
    out.push({ ...b.base(t0 + 3 * MINUTE, "repo.transfer_outgoing", d.login, d.id, false, d.home), ...b.repoFields(r),
      new_nwo: `${dest}/${r.name}`, previous_nwo: `${orgName}/${r.name}`, user_agent: d.browser, operation_type: "transfer" });
  }
  // 6. The audit-log stream destroyed.
  {
    const d = person(13);
    out.push({ ...b.base(at(0.8), "audit_log_streaming.destroy", d.login, d.id, false, d.home), stream_type: "Splunk",
      user_agent: d.browser, operation_type: "remove" });
  }
  return out.sort((x, y) => (x.created_at as number) - (y.created_at as number));
}

function parseArgs(argv: string[]) {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string) => {
    const v = get(name);
    if (v === undefined) return undefined;
    const n = Number(v.replace(/_/g, ""));
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} wants a number, got "${v}"`);
    return n;
  };
  const out = get("out");
  const events = num("events");
  if (!out || events === undefined) {
    throw new Error("usage: tsx bench/generate-audit-log.ts --events 1000000 --out FILE [--incidents] [--seed N] [--per-day N] [--developers N]");
  }
  return { out, events, seed: num("seed"), perDay: num("per-day"), developers: num("developers"), incidents: argv.includes("--incidents") };
}

/** Writes the generated log to `file`, one JSON object per line. Returns the number of lines. */
export async function writeAuditLog(file: string, opts: GenerateOptions): Promise<number> {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const out = fs.createWriteStream(file);
  let n = 0;
  let chunk: string[] = [];
  for (const line of generateAuditLog(opts)) {
    chunk.push(line);
    n++;
    if (chunk.length === 2000) {
      if (!out.write(chunk.join("\n") + "\n")) await once(out, "drain");
      chunk = [];
    }
  }
  if (chunk.length > 0) out.write(chunk.join("\n") + "\n");
  out.end();
  await once(out, "finish");
  return n;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const a = parseArgs(process.argv.slice(2));
    const t0 = performance.now();
    const n = await writeAuditLog(a.out, {
      events: a.events,
      incidents: a.incidents,
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      ...(a.perDay !== undefined ? { perDay: a.perDay } : {}),
      ...(a.developers !== undefined ? { developers: a.developers } : {}),
    });
    console.error(`wrote ${n} events to ${a.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  }
}
