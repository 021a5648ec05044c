// The config each org is running with right now. Reads `.github/exfil-monitor.yml` from the org's `.github`
// repository, caches it per org, and never lets a bad file stop the app: a broken file is reported once (as
// a notice the app files in the alerts repository) while the last good config, or the defaults, stays in
// force. A network failure is not the admin's fault, so it is logged, not reported.
import { createHash } from "node:crypto";
import { inert } from "../alerts/inert.js";
import type { Store } from "../store/store.js";
import type { Logger } from "../log.js";
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
  /** `config:<sha256>` of the problem set: the same problems always give the same key. */
  key: string;
  title: string;
  body: string;
}

export interface ConfigServiceOptions {
  store: Pick<Store, "lastGoodConfig" | "saveGoodConfig">;
  log: ConfigLogger;
  now?: () => number;
  /** How long a fetched config is used before it is read again. Default 5 minutes. */
  ttlMs?: number;
  octokitFor: (installationId: number) => Promise<OctokitLike>;
  onProblem: (p: ConfigProblemNotice) => Promise<void> | void;
}

export const DEFAULT_TTL_MS = 5 * 60_000;
/** After a failed fetch, try again sooner than the TTL, but not on every event. */
const RETRY_AFTER_FAILURE_MS = 60_000;

interface Loaded {
  config: Config;
  ttlMs: number;
}

export class ConfigService {
  private readonly store: ConfigServiceOptions["store"];
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

  constructor(opts: ConfigServiceOptions) {
    this.store = opts.store;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.octokitFor = opts.octokitFor;
    this.onProblem = opts.onProblem;
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

  /** Forget the cached config, e.g. after a push to `<org>/.github`; the next get() reads the file again. */
  invalidate(org: string): void {
    const key = org.toLowerCase();
    this.cache.delete(key);
    this.inflight.delete(key);
    this.generation.set(key, (this.generation.get(key) ?? 0) + 1);
  }

  private async load(org: string, installationId: number, previous: Config | undefined): Promise<Loaded> {
    const key = org.toLowerCase();
    let text: string | null;
    try {
      const octokit = await this.octokitFor(installationId);
      text = await fetchOrgConfigText(octokit, org);
    } catch (err) {
      if (err instanceof ConfigFileError) {
        return this.broken(org, installationId, [{ path: "(file)", message: err.message }]);
      }
      const fallback = previous ? { config: previous, from: "previous" } : this.lastGood(org);
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
      return { config: defaultConfig(), ttlMs: this.ttlMs };
    }
    this.missingLogged.delete(key);

    const parsed = parseConfigText(text);
    if (!parsed.ok) return this.broken(org, installationId, parsed.problems);

    this.reported.delete(key);
    try {
      this.store.saveGoodConfig(org, text, this.now());
    } catch (err) {
      this.log.error({ err, org }, "could not save the org config as last good; it is still used");
    }
    return { config: parsed.config, ttlMs: this.ttlMs };
  }

  private async broken(org: string, installationId: number, problems: ConfigProblem[]): Promise<Loaded> {
    const key = org.toLowerCase();
    const fallback = this.lastGood(org);
    const problemKey = problemSetKey(problems);
    this.log.warn({ org, problems, using: fallback.from }, `${CONFIG_PATH} in ${org}/${CONFIG_REPO} has errors`);

    const seen = this.reported.get(key) ?? new Set<string>();
    if (!seen.has(problemKey)) {
      try {
        await this.onProblem({
          org,
          installationId,
          key: problemKey,
          title: `exfil-monitor config error in ${CONFIG_PATH}`,
          body: problemBody(org, problems, fallback.from, this.ttlMs),
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

  private lastGood(org: string): { config: Config; from: "last good" | "default" } {
    let text: string | undefined;
    try {
      text = this.store.lastGoodConfig(org);
    } catch (err) {
      this.log.error({ err, org }, "could not read the last good org config; using the defaults");
    }
    if (text === undefined) return { config: defaultConfig(), from: "default" };
    const parsed = parseConfigText(text);
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
  return `config:${createHash("sha256").update(JSON.stringify(canonical)).digest("hex")}`;
}

function problemBody(org: string, problems: readonly ConfigProblem[], inForce: "last good" | "default", ttlMs: number): string {
  const rows = problems.map((p) => `| ${inert(p.path)} | ${p.line ?? "—"} | ${inert(p.message, 500)} |`);
  const meanwhile =
    inForce === "last good"
      ? "Until it is fixed, exfil-monitor keeps using the **last version of this file that loaded without errors**."
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
