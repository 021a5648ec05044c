// Environment variables, read once at start-up into a typed object. Every problem is collected and thrown as
// ONE error that names each variable and how to fix it, instead of failing on the first or, worse, running
// with a typo'd value. The Probot variables are read by Probot itself; they are checked here so a mistake is
// caught with a clear message before Probot starts. `.env.example` documents exactly ENV_KEYS (a test keeps
// them equal).
import fs from "node:fs";

/** Every variable exfil-monitor or Probot reads, as documented in `.env.example`. */
export const ENV_KEYS = [
  // Probot: the GitHub App's identity and its webhook server.
  "APP_ID",
  "PRIVATE_KEY",
  "PRIVATE_KEY_PATH",
  "WEBHOOK_SECRET",
  "WEBHOOK_PATH",
  "WEBHOOK_PROXY_URL",
  "GHE_HOST",
  "GHE_PROTOCOL",
  "HOST",
  "PORT",
  "LOG_LEVEL",
  "LOG_FORMAT",
  "NODE_ENV",
  // exfil-monitor's own.
  "DATABASE_PATH",
  "ALERT_FLUSH_SECONDS",
  "CONFIG_CACHE_SECONDS",
  "AUDIT_LOG_POLLING",
] as const;

export type EnvKey = (typeof ENV_KEYS)[number];

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AppEnv {
  /** The GitHub App's numeric id; undefined before the app is registered (Probot then serves its setup page). */
  appId: number | undefined;
  privateKey: string | undefined;
  privateKeyPath: string | undefined;
  webhookSecret: string | undefined;
  webhookPath: string;
  webhookProxyUrl: string | undefined;
  gheHost: string | undefined;
  gheProtocol: "http" | "https";
  /** Interface the server listens on; undefined lets Probot choose (localhost). */
  host: string | undefined;
  port: number;
  logLevel: LogLevel;
  logFormat: "json" | "pretty";
  nodeEnv: string;
  databasePath: string;
  /** How often findings whose issue could not be filed yet are retried. */
  alertFlushSeconds: number;
  /** How long an org's config file is cached before it is read again. */
  configCacheSeconds: number;
  /** Poll the org audit log (GitHub Enterprise Cloud); off runs on webhooks and sweeps only. */
  auditLogPolling: boolean;
}

export const ENV_DEFAULTS = {
  DATABASE_PATH: "./data/exfil-monitor.db",
  ALERT_FLUSH_SECONDS: 30,
  CONFIG_CACHE_SECONDS: 300,
  AUDIT_LOG_POLLING: true,
  WEBHOOK_PATH: "/api/github/webhooks",
  GHE_PROTOCOL: "https",
  PORT: 3000,
  LOG_LEVEL: "info",
  NODE_ENV: "development",
} as const;

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

export class EnvError extends Error {
  override name = "EnvError";
  constructor(readonly problems: readonly string[]) {
    super(
      `exfil-monitor cannot start: ${problems.length} environment variable problem${problems.length === 1 ? "" : "s"}.\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        "\nSee .env.example for every variable, its meaning and its default.",
    );
  }
}

/** Reads and checks the environment. Throws one EnvError listing every problem. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): AppEnv {
  const problems: string[] = [];
  // An empty value (`KEY=` copied from .env.example) means "not set".
  const raw = (key: EnvKey): string | undefined => {
    const v = env[key]?.trim();
    return v === undefined || v === "" ? undefined : v;
  };

  const int = (key: EnvKey, fallback: number, min: number, max: number, what: string): number => {
    const v = raw(key);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      problems.push(`${key}=${JSON.stringify(v)} is not ${what}: set a whole number from ${min} to ${max}, or remove it for the default (${fallback})`);
      return fallback;
    }
    return Number(v);
  };

  const bool = (key: EnvKey, fallback: boolean): boolean => {
    const v = raw(key);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    if (TRUE.has(lower)) return true;
    if (FALSE.has(lower)) return false;
    problems.push(`${key}=${JSON.stringify(v)} is not a boolean: set true or false, or remove it for the default (${fallback})`);
    return fallback;
  };

  const oneOf = <T extends string>(key: EnvKey, values: readonly T[], fallback: T): T => {
    const v = raw(key);
    if (v === undefined) return fallback;
    const lower = v.toLowerCase();
    const match = values.find((x) => x === lower);
    if (match === undefined) {
      problems.push(`${key}=${JSON.stringify(v)} is not valid: set one of ${values.join(", ")}, or remove it for the default (${fallback})`);
      return fallback;
    }
    return match;
  };

  let appId: number | undefined;
  const appIdRaw = raw("APP_ID");
  if (appIdRaw !== undefined) {
    if (/^\d+$/.test(appIdRaw) && Number(appIdRaw) > 0) appId = Number(appIdRaw);
    else problems.push(`APP_ID=${JSON.stringify(appIdRaw)} is not a number: copy the numeric "App ID" from the GitHub App's settings page`);
  }

  const privateKey = raw("PRIVATE_KEY");
  if (privateKey !== undefined && !looksLikePrivateKey(privateKey)) {
    // The value itself is a secret: never echo it.
    problems.push(
      "PRIVATE_KEY is not a PEM private key: paste the whole .pem file generated on the GitHub App's settings page " +
        "(with its -----BEGIN and -----END lines; \\n escapes are fine), or use PRIVATE_KEY_PATH",
    );
  }
  const privateKeyPath = raw("PRIVATE_KEY_PATH");
  if (privateKeyPath !== undefined && !fs.existsSync(privateKeyPath)) {
    problems.push(`PRIVATE_KEY_PATH=${JSON.stringify(privateKeyPath)} does not exist: point it at the .pem file downloaded from the GitHub App's settings page`);
  }

  const webhookPath = raw("WEBHOOK_PATH") ?? ENV_DEFAULTS.WEBHOOK_PATH;
  if (!webhookPath.startsWith("/")) {
    problems.push(`WEBHOOK_PATH=${JSON.stringify(webhookPath)} must start with "/": for example ${ENV_DEFAULTS.WEBHOOK_PATH}`);
  }

  const webhookProxyUrl = raw("WEBHOOK_PROXY_URL");
  if (webhookProxyUrl !== undefined && !isHttpUrl(webhookProxyUrl)) {
    problems.push(`WEBHOOK_PROXY_URL=${JSON.stringify(webhookProxyUrl)} is not an http(s) URL: use the channel URL from https://smee.io, or remove it`);
  }

  const gheHost = raw("GHE_HOST");
  if (gheHost !== undefined && !/^[A-Za-z0-9.-]+(:\d+)?$/.test(gheHost)) {
    problems.push(`GHE_HOST=${JSON.stringify(gheHost)} is not a host name: write only the host (github.example.com), without https:// or a path`);
  }

  const nodeEnv = raw("NODE_ENV") ?? ENV_DEFAULTS.NODE_ENV;
  const logFormatDefault = nodeEnv === "production" ? "json" : "pretty";

  const result: AppEnv = {
    appId,
    privateKey,
    privateKeyPath,
    webhookSecret: raw("WEBHOOK_SECRET"),
    webhookPath,
    webhookProxyUrl,
    gheHost,
    gheProtocol: oneOf("GHE_PROTOCOL", ["https", "http"] as const, ENV_DEFAULTS.GHE_PROTOCOL),
    host: raw("HOST"),
    port: int("PORT", ENV_DEFAULTS.PORT, 1, 65535, "a port"),
    logLevel: oneOf("LOG_LEVEL", LOG_LEVELS, ENV_DEFAULTS.LOG_LEVEL),
    logFormat: oneOf("LOG_FORMAT", ["json", "pretty"] as const, logFormatDefault),
    nodeEnv,
    databasePath: raw("DATABASE_PATH") ?? ENV_DEFAULTS.DATABASE_PATH,
    alertFlushSeconds: int("ALERT_FLUSH_SECONDS", ENV_DEFAULTS.ALERT_FLUSH_SECONDS, 1, 86_400, "a number of seconds"),
    configCacheSeconds: int("CONFIG_CACHE_SECONDS", ENV_DEFAULTS.CONFIG_CACHE_SECONDS, 1, 86_400, "a number of seconds"),
    auditLogPolling: bool("AUDIT_LOG_POLLING", ENV_DEFAULTS.AUDIT_LOG_POLLING),
  };

  if (problems.length > 0) throw new EnvError(problems);
  return result;
}

function looksLikePrivateKey(v: string): boolean {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)) return true;
  // Probot also accepts the PEM base64-encoded as a whole (handy for one-line secret stores).
  if (!/^[A-Za-z0-9+/=\s]+$/.test(v)) return false;
  return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(Buffer.from(v, "base64").toString("utf8"));
}

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}
