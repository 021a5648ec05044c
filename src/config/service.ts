// The config each org is running with right now. Reads `.github/exfil-monitor.yml` from the org's `.github`
// repository, caches it per org, and never lets a bad file stop the app: a broken file is reported once (as
// a notice the app files in the alerts repository) while the last good config, or the defaults, stays in
// force. A network failure is not the admin's fault, so it is logged, not reported.
//
// Many insiders can write to the `.github` repository, so a new version that watches less than the one in
// force (dry-run, a detector off, a threshold loosened, an allowlist entry added, alerts sent elsewhere) is
// announced by a notice naming who pushed it, the commit and each change, BEFORE it becomes the last good
// config. A weakened config thus never takes effect silently, and a broken file after it cannot hide it.
import { createHash } from "node:crypto";
import { inert } from "../text/inert.js";
import type { Storage } from "../store/storage.js";
import type { Logger } from "../log.js";
import { configChanges, type ConfigChange } from "./changes.js";
import {
  CONFIG_PATH,
  CONFIG_REPO,
  ConfigFileError,
  fetchOrgConfigText,
  parseConfigText,
  type ConfigProblem,
  type OctokitLike,
} from "./load.js";
import { defaultConfig, type Config } from "./schema.js";

export type ConfigLogger = Logger;

export interface ConfigProblemNotice {
  org: string;
  installationId: number;
  /**
   * `config:<sha256>` of a problem set (the same problems always give the same key), or
   * `config-change:<sha256>` of one change from one version to the next.
   */
  key: string;
  title: string;
  body: string;
  /** File it in this repository of the org instead of the `alerts.repo` in force (the one that was replaced). */
  repo?: string;
}

/** A push to the org's `.github` repository, as the push webhook tells it. */
export interface ConfigPush {
  /** Who pushed: the webhook's `sender.login`. */
  sender: string | null;
  /** The git pusher's name (`pusher.name`), when it differs from the sender. */
  pusher: string | null;
  /** The commit the branch points to after the push (`after`). */
  commit: string | null;
  /** Whether the commits listed in the webhook change the config file (the list can be cut short). */
  touchesConfig: boolean;
  at: number;
}

export interface ConfigServiceOptions {
  storage: Pick<Storage, "notices">;
  log: ConfigLogger;
  now?: () => number;
  /** How long a fetched config is used before it is read again. Default 5 minutes. */
  ttlMs?: number;
  octokitFor: (installationId: number) => Promise<OctokitLike>;
  /**
   * Files a notice (a broken file, or a change that watches less). Must store it before returning (or
   * throw), and is not awaited: the new version is saved as the last good config right after, and a notice
   * lost here would let a weakened config take effect unannounced. With the SQLite storage, calling
   * `notices.save` before returning is enough: its calls take effect in the order they are made.
   */
  onProblem: (n: ConfigProblemNotice) => void;
}

export const DEFAULT_TTL_MS = 5 * 60_000;
/** After a failed fetch, try again sooner than the TTL, but not on every event. */
const RETRY_AFTER_FAILURE_MS = 60_000;
/** Pushes remembered per org until the config they changed has been read. */
const MAX_PUSHES = 10;

/** A push as remembered: numbered, so a read that started before it does not count it as read. */
type SeenPush = ConfigPush & { seq: number };

interface Loaded {
  config: Config;
  ttlMs: number;
}

export class ConfigService {
  private readonly storage: ConfigServiceOptions["storage"];
  private readonly log: ConfigLogger;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly octokitFor: ConfigServiceOptions["octokitFor"];
  private readonly onProblem: ConfigServiceOptions["onProblem"];
  private readonly cache = new Map<string, { config: Config; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<Config>>();
  /** Bumped by invalidate(), so a fetch that started before a push does not cache the old file. */
  private readonly generation = new Map<string, number>();
  /** Problem keys already reported per org, until the file loads cleanly again. */
  private readonly reported = new Map<string, Set<string>>();
  private readonly missingLogged = new Set<string>();
  /** Pushes to `<org>/.github` seen since the version in force was read, oldest first. */
  private readonly pushes = new Map<string, SeenPush[]>();
  private pushSeq = 0;

  constructor(opts: ConfigServiceOptions) {
    this.storage = opts.storage;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.octokitFor = opts.octokitFor;
    this.onProblem = opts.onProblem;
  }

  /** The org's config when it is cached and fresh, without reading anything: for judging at intake. */
  cached(org: string): Config | undefined {
    const hit = this.cache.get(org.toLowerCase());
    return hit && hit.expiresAt > this.now() ? hit.config : undefined;
  }

  /** The config in force for an org. Never throws: the worst case is the defaults. */
  get(org: string, installationId: number): Promise<Config> {
    const key = org.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > this.now()) return Promise.resolve(hit.config);
    const running = this.inflight.get(key);
    if (running) return running;

    const generation = this.generation.get(key) ?? 0;
    const promise = this.load(org, installationId, hit?.config)
      .catch((err: unknown): Loaded => {
        // load() handles every expected failure; this is the net under the unexpected ones.
        this.log.error({ err, org }, "loading the org config failed unexpectedly; using the defaults");
        return { config: hit?.config ?? defaultConfig(), ttlMs: Math.min(this.ttlMs, RETRY_AFTER_FAILURE_MS) };
      })
      .then(({ config, ttlMs }) => {
        if ((this.generation.get(key) ?? 0) === generation) {
          this.cache.set(key, { config, expiresAt: this.now() + ttlMs });
        }
        return config;
      })
      .finally(() => {
        if (this.inflight.get(key) === promise) this.inflight.delete(key);
      });
    this.inflight.set(key, promise);
    return promise;
  }

  /**
   * A push to `<org>/.github` (the push webhook's payload): the next get() reads the file again, and a
   * change it brings is announced naming this push.
   */
  pushed(org: string, payload: unknown): void {
    const push = pushFrom(payload, this.now());
    if (push) {
      const key = org.toLowerCase();
      this.pushSeq += 1;
      const list = [...(this.pushes.get(key) ?? []), { ...push, seq: this.pushSeq }].slice(-MAX_PUSHES);
      this.pushes.set(key, list);
    }
    this.invalidate(org);
  }

  /** Forget the cached config; the next get() reads the file again. */
  invalidate(org: string): void {
    const key = org.toLowerCase();
    this.cache.delete(key);
    this.inflight.delete(key);
    this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
  }

  private async load(org: string, installationId: number, previous: Config | undefined): Promise<Loaded> {
    const key = org.toLowerCase();
    // A push that arrives while this read is under way may not be in what it reads: it stays remembered for
    // the read that follows it.
    const pushesBefore = this.pushSeq;
    let text: string | null;
    try {
      const octokit = await this.octokitFor(installationId);
      text = await fetchOrgConfigText(octokit, org);
    } catch (err) {
      if (err instanceof ConfigFileError) {
        return this.broken(org, installationId, [{ path: "(file)", message: err.message }]);
      }
      const fallback = previous ? { config: previous, from: "previous" } : await this.lastGood(org);
      this.log.warn(
        { err, org, using: fallback.from },
        `could not read ${org}/${CONFIG_REPO}/${CONFIG_PATH}; keeping the ${fallback.from} config and trying again later`,
      );
      return { config: fallback.config, ttlMs: Math.min(this.ttlMs, RETRY_AFTER_FAILURE_MS) };
    }

    if (text === null) {
      this.reported.delete(key);
      if (!this.missingLogged.has(key)) {
        this.missingLogged.add(key);
        this.log.info(
          { org },
          `no ${CONFIG_PATH} in ${org}/${CONFIG_REPO} (or the app is not installed on that repository): using the defaults`,
        );
      }
      // No file means the defaults, which may watch less than the file that was deleted (or hidden from the
      // app by taking the `.github` repository out of its installation). The empty text stands for them.
      return this.adopt(org, installationId, "", defaultConfig(), pushesBefore);
    }
    this.missingLogged.delete(key);

    const parsed = parseConfigText(text, { org });
    if (!parsed.ok) return this.broken(org, installationId, parsed.problems);

    this.reported.delete(key);
    return this.adopt(org, installationId, text, parsed.config, pushesBefore);
  }

  /**
   * Puts a version that loaded without errors in force: announces what it weakens compared with the last good
   * version (or the defaults, for an org's first file), then saves it as the last good version. When the
   * notice cannot be stored, the version is used but not saved, so the next read announces it again.
   */
  private async adopt(org: string, installationId: number, text: string, config: Config, pushesBefore: number): Promise<Loaded> {
    const key = org.toLowerCase();
    let stored: { yaml: string; savedAt: number } | undefined;
    try {
      stored = await this.storage.notices.goodConfig(org);
    } catch (err) {
      this.log.error({ err, org }, "could not read the last good org config; this version is used but not compared or saved");
      return { config, ttlMs: Math.min(this.ttlMs, RETRY_AFTER_FAILURE_MS) };
    }
    const forget = () => {
      const left = (this.pushes.get(key) ?? []).filter((p) => p.seq > pushesBefore);
      if (left.length > 0) this.pushes.set(key, left);
      else this.pushes.delete(key);
    };
    // The version in force (or, with nothing stored and no file, the defaults) read again: nothing changed.
    if ((stored?.yaml ?? "") === text) {
      forget();
      return { config, ttlMs: this.ttlMs };
    }

    const before = this.parseStored(org, stored?.yaml);
    const changes = configChanges(before.config, config);
    const weaker = changes.filter((c) => c.weaker);
    const pushes = this.pushes.get(key) ?? [];
    if (weaker.length > 0) {
      try {
        this.announce(org, installationId, { text, config, before, stored, changes, pushes });
      } catch (err) {
        this.log.error({ err, org }, "could not store the notice about a config change that watches less; the change is announced again on the next read");
        return { config, ttlMs: Math.min(this.ttlMs, RETRY_AFTER_FAILURE_MS) };
      }
    } else if (changes.length > 0) {
      this.log.info({ org, changes: changes.map((c) => c.path) }, `${CONFIG_PATH} in ${org}/${CONFIG_REPO} changed; nothing it watched is watched less`);
    }
    forget();
    try {
      await this.storage.notices.saveGoodConfig(org, text, this.now());
    } catch (err) {
      this.log.error({ err, org }, "could not save the org config as last good; it is still used");
    }
    return { config, ttlMs: this.ttlMs };
  }

  private announce(
    org: string,
    installationId: number,
    c: {
      text: string;
      config: Config;
      before: { config: Config; from: "last good" | "default" };
      stored: { yaml: string; savedAt: number } | undefined;
      changes: ConfigChange[];
      pushes: ConfigPush[];
    },
  ): void {
    // One notice per step from one version to the next: the version replaced, when it was saved, and the
    // new text. Going back and forth between two versions announces every step that watches less.
    const key = `config-change:${sha256([org.toLowerCase(), c.stored?.yaml ?? "", String(c.stored?.savedAt ?? 0), c.text].join("\u0000"))}`;
    const shown = c.pushes.some((p) => p.touchesConfig) ? c.pushes.filter((p) => p.touchesConfig) : c.pushes;
    const who = shown.length > 0 ? shown[shown.length - 1]?.sender ?? shown[shown.length - 1]?.pusher ?? null : null;
    const weaker = c.changes.filter((x) => x.weaker);
    const title = `${CONFIG_PATH} changed: it now watches less (${who ? `pushed by ${who}` : "pusher unknown"})`;
    const body = changeBody(org, c.before, c.config, c.changes, shown, shown.every((p) => !p.touchesConfig));
    this.log.warn({ org, changes: weaker.map((x) => x.path), pushedBy: who }, `${CONFIG_PATH} in ${org}/${CONFIG_REPO} now watches less; filing a notice`);
    this.onProblem({ org, installationId, key, title, body });
    const previousRepo = c.before.config.alerts.repo;
    if (previousRepo.toLowerCase() !== c.config.alerts.repo.toLowerCase()) {
      // Whoever moved the alerts elsewhere must not be the only one to hear of it: tell the old repository too.
      this.onProblem({ org, installationId, key: `${key}:previous-repo`, title, body, repo: previousRepo });
    }
  }

  private async broken(org: string, installationId: number, problems: ConfigProblem[]): Promise<Loaded> {
    const key = org.toLowerCase();
    const fallback = await this.lastGood(org);
    const problemKey = problemSetKey(problems);
    this.log.warn({ org, problems, using: fallback.from }, `${CONFIG_PATH} in ${org}/${CONFIG_REPO} has errors`);

    const seen = this.reported.get(key) ?? new Set<string>();
    if (!seen.has(problemKey)) {
      try {
        // A weakened version in force was announced when it took effect; say it again here, so the notice
        // that says "the last good version stays in force" cannot be read as "all is as it was".
        const weaker = configChanges(defaultConfig(), fallback.config).filter((c) => c.weaker);
        this.onProblem({
          org,
          installationId,
          key: problemKey,
          title: `exfil-monitor config error in ${CONFIG_PATH}`,
          body: problemBody(org, problems, fallback.from, this.ttlMs, weaker),
        });
        seen.add(problemKey);
        this.reported.set(key, seen);
      } catch (err) {
        // Not marked as reported: the next read of the file tries again.
        this.log.error({ err, org }, "could not report the config problems");
      }
    }
    return { config: fallback.config, ttlMs: this.ttlMs };
  }

  private async lastGood(org: string): Promise<{ config: Config; from: "last good" | "default" }> {
    let text: string | undefined;
    try {
      text = (await this.storage.notices.goodConfig(org))?.yaml;
    } catch (err) {
      this.log.error({ err, org }, "could not read the last good org config; using the defaults");
    }
    return this.parseStored(org, text);
  }

  private parseStored(org: string, text: string | undefined): { config: Config; from: "last good" | "default" } {
    // The empty text is what an org without a file (or whose file was deleted) has in force: the defaults.
    if (text === undefined || text === "") return { config: defaultConfig(), from: "default" };
    const parsed = parseConfigText(text, { org });
    if (parsed.ok) return { config: parsed.config, from: "last good" };
    // A file that was good under an older exfil-monitor may not be under this one (a renamed setting).
    this.log.warn({ org, problems: parsed.problems }, "the last good org config no longer loads; using the defaults");
    return { config: defaultConfig(), from: "default" };
  }
}

/**
 * Key of a problem set: paths and messages, not lines, so that adding a comment above a broken key does not
 * count as a new problem.
 */
export function problemSetKey(problems: readonly ConfigProblem[]): string {
  const canonical = [...new Set(problems.map((p) => `${p.path}\u0000${p.message}`))].sort();
  return `config:${sha256(JSON.stringify(canonical))}`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The push webhook's facts about a push to the default branch of `.github`; undefined for any other push. */
function pushFrom(payload: unknown, at: number): ConfigPush | undefined {
  const p = (typeof payload === "object" && payload !== null ? payload : {}) as {
    ref?: unknown;
    after?: unknown;
    deleted?: unknown;
    repository?: { default_branch?: unknown; master_branch?: unknown } | null;
    pusher?: { name?: unknown } | null;
    sender?: { login?: unknown } | null;
    commits?: unknown;
  };
  const branch = p.repository?.default_branch ?? p.repository?.master_branch;
  // The app reads the file from the default branch only: a push elsewhere changes nothing it uses.
  if (typeof branch !== "string" || p.ref !== `refs/heads/${branch}`) return undefined;
  const sender = typeof p.sender?.login === "string" ? p.sender.login : null;
  const pusherName = typeof p.pusher?.name === "string" ? p.pusher.name : null;
  const commits = Array.isArray(p.commits) ? (p.commits as { added?: unknown; modified?: unknown; removed?: unknown }[]) : [];
  const touchesConfig = commits.some((c) =>
    [c?.added, c?.modified, c?.removed].some((files) => Array.isArray(files) && files.includes(CONFIG_PATH)),
  );
  return {
    sender,
    pusher: pusherName !== null && pusherName.toLowerCase() !== sender?.toLowerCase() ? pusherName : null,
    commit: typeof p.after === "string" ? p.after : null,
    touchesConfig,
    at,
  };
}

function changeBody(
  org: string,
  before: { config: Config; from: "last good" | "default" },
  after: Config,
  changes: readonly ConfigChange[],
  pushes: readonly ConfigPush[],
  unsure: boolean,
): string {
  const weaker = changes.filter((c) => c.weaker);
  const other = changes.filter((c) => !c.weaker);
  const pushLine = (p: ConfigPush) =>
    `- ${inert(p.sender ?? p.pusher)}${p.pusher && p.sender ? ` (git pusher ${inert(p.pusher)})` : ""}, commit ${inert(p.commit)}, ` +
    `${new Date(p.at).toISOString()}`;
  const who =
    pushes.length === 0
      ? [
          "**Pushed by:** unknown. No push to the `.github` repository was seen before this version was read (it was " +
            "read when the cached config expired, after a restart, or the push webhook did not arrive). The file's " +
            `history in ${inert(`${org}/${CONFIG_REPO}`)} shows who changed it.`,
        ]
      : [
          unsure
            ? "**Pushes to the default branch of `.github` since the previous version was read** (the webhook's commit " +
              "lists do not show which one changed this file):"
            : "**Pushed by:**",
          ...pushes.map(pushLine),
        ];
  // Those the replaced version told, and those the new one tells: a mention removed is someone who must hear.
  const mentions = new Map<string, string>();
  for (const m of [...before.config.alerts.mention, ...after.alerts.mention]) {
    const login = m.replace(/^@/, "");
    if (!mentions.has(login.toLowerCase())) mentions.set(login.toLowerCase(), login);
  }
  return [
    `\`${CONFIG_PATH}\` in the \`${CONFIG_REPO}\` repository of ${inert(org)} changed, and the new version **watches ` +
      "less** than the one it replaced. It is in force now.",
    "",
    ...who,
    "",
    `**What now watches less** (compared with ${before.from === "last good" ? "the previous version of the file" : "the built-in defaults: this org had no earlier version of the file"}):`,
    ...weaker.map((c) => `- ${c.words}`),
    ...(other.length > 0 ? ["", "Other changes in the same version:", ...other.map((c) => `- ${c.words}`)] : []),
    "",
    "**If nobody meant this:** revert the change in the org's `.github` repository (the previous version is " +
      "in its history), and review who can push there: whoever can change this file can change what " +
      "exfil-monitor watches. Notices like this one are filed even in dry-run mode.",
    ...(mentions.size > 0 ? ["", `cc ${[...mentions.values()].map((m) => `@${m}`).join(" ")}`] : []),
  ].join("\n");
}

function problemBody(
  org: string,
  problems: readonly ConfigProblem[],
  inForce: "last good" | "default",
  ttlMs: number,
  weaker: readonly ConfigChange[],
): string {
  const rows = problems.map((p) => `| ${inert(p.path)} | ${p.line ?? "—"} | ${inert(p.message, 500)} |`);
  const meanwhile =
    inForce === "last good"
      ? "Until it is fixed, exfil-monitor keeps using the **last version of this file that loaded without errors**." +
        (weaker.length > 0
          ? ` That version **watches less than the defaults** (this was announced when it took effect):\n${weaker.map((c) => `- ${c.words}`).join("\n")}`
          : "")
      : "Until it is fixed, exfil-monitor uses the **built-in defaults**: no earlier version of this file loaded without errors.";
  const minutes = Math.max(1, Math.round(ttlMs / 60_000));
  return [
    `\`${CONFIG_PATH}\` in the \`${CONFIG_REPO}\` repository of ${inert(org)} could not be used:`,
    "",
    "| key | line | problem |",
    "|---|---|---|",
    ...rows,
    "",
    meanwhile,
    "",
    "**To fix it:** edit the file in the org's `.github` repository and correct each key above. Every key, its " +
      "type and its default are listed in `docs/config.md`; pointing your editor at " +
      "`schema/exfil-monitor.schema.json` flags mistakes as you type. The fixed file is picked up on the next " +
      `push to the \`${CONFIG_REPO}\` repository, or within ${minutes} minute${minutes === 1 ? "" : "s"}.`,
  ].join("\n");
}
