// Environment variables: defaults, one error listing every problem with its fix, real booleans and numbers,
// and `.env.example` documenting exactly the variables the code reads.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ENV_KEYS, EnvError, readEnv } from "../../src/config/env.js";

const ENV_EXAMPLE = path.resolve(import.meta.dirname, "../../.env.example");

/** Arbitrary (also invalid) values: Probot's typings narrow some variables to their valid values. */
const vars = (v: Record<string, string>) => v as NodeJS.ProcessEnv;

describe("readEnv", () => {
  it("fills in every default from an empty environment", () => {
    expect(readEnv({})).toEqual({
      appId: undefined,
      privateKey: undefined,
      privateKeyPath: undefined,
      webhookSecret: undefined,
      webhookPath: "/api/github/webhooks",
      webhookProxyUrl: undefined,
      gheHost: undefined,
      gheProtocol: "https",
      host: undefined,
      port: 3000,
      logLevel: "info",
      logFormat: "pretty",
      nodeEnv: "development",
      databasePath: "./data/exfil-monitor.db",
      alertFlushSeconds: 30,
      configCacheSeconds: 300,
      auditLogPolling: true,
    });
  });

  it("treats empty values (copied from .env.example) as unset", () => {
    const env = readEnv(vars({ APP_ID: "", PORT: "  ", AUDIT_LOG_POLLING: "", DATABASE_PATH: "" }));
    expect(env.appId).toBeUndefined();
    expect(env.port).toBe(3000);
    expect(env.auditLogPolling).toBe(true);
    expect(env.databasePath).toBe("./data/exfil-monitor.db");
  });

  it("parses numbers and booleans into numbers and booleans, never strings", () => {
    const env = readEnv(vars({
      APP_ID: "123456",
      PORT: "8080",
      ALERT_FLUSH_SECONDS: "10",
      CONFIG_CACHE_SECONDS: "60",
      AUDIT_LOG_POLLING: "FALSE",
      NODE_ENV: "production",
      LOG_LEVEL: "Debug",
      DATABASE_PATH: "/var/lib/exfil-monitor/db.sqlite",
    }));
    expect(env.appId).toBe(123456);
    expect(env.port).toBe(8080);
    expect(env.alertFlushSeconds).toBe(10);
    expect(env.configCacheSeconds).toBe(60);
    expect(env.auditLogPolling).toBe(false);
    expect(env.logLevel).toBe("debug");
    expect(env.logFormat).toBe("json");
    expect(env.databasePath).toBe("/var/lib/exfil-monitor/db.sqlite");
    for (const v of ["0", "no", "off"]) expect(readEnv(vars({ AUDIT_LOG_POLLING: v })).auditLogPolling).toBe(false);
    for (const v of ["1", "yes", "on", "True"]) expect(readEnv(vars({ AUDIT_LOG_POLLING: v })).auditLogPolling).toBe(true);
  });

  it("accepts a PEM private key with \\n escapes or base64-encoded", () => {
    const pem = "-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----";
    expect(readEnv(vars({ PRIVATE_KEY: pem })).privateKey).toBe(pem);
    const b64 = Buffer.from(pem.replace(/\\n/g, "\n")).toString("base64");
    expect(readEnv(vars({ PRIVATE_KEY: b64 })).privateKey).toBe(b64);
  });

  it("throws ONE error that lists every problem with its fix, and never echoes the private key", () => {
    let error: unknown;
    try {
      readEnv(vars({
        APP_ID: "my-app",
        PRIVATE_KEY: "hunter2-secret",
        PRIVATE_KEY_PATH: "/nonexistent/exfil-monitor.pem",
        WEBHOOK_PATH: "api/github/webhooks",
        WEBHOOK_PROXY_URL: "smee.io/abc",
        GHE_HOST: "https://github.example.com",
        GHE_PROTOCOL: "ftp",
        PORT: "80000",
        LOG_LEVEL: "verbose",
        LOG_FORMAT: "xml",
        ALERT_FLUSH_SECONDS: "soon",
        CONFIG_CACHE_SECONDS: "0",
        AUDIT_LOG_POLLING: "maybe",
      }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvError);
    const e = error as EnvError;
    expect(e.problems).toHaveLength(13);
    const keys = e.problems.map((p) => p.split(/[= ]/)[0]);
    expect(keys).toEqual([
      "APP_ID",
      "PRIVATE_KEY",
      "PRIVATE_KEY_PATH",
      "WEBHOOK_PATH",
      "WEBHOOK_PROXY_URL",
      "GHE_HOST",
      "GHE_PROTOCOL",
      "PORT",
      "LOG_LEVEL",
      "LOG_FORMAT",
      "ALERT_FLUSH_SECONDS",
      "CONFIG_CACHE_SECONDS",
      "AUDIT_LOG_POLLING",
    ]);
    expect(e.message).toMatch(/^exfil-monitor cannot start: 13 environment variable problems\./);
    expect(e.message).toContain('AUDIT_LOG_POLLING="maybe" is not a boolean: set true or false');
    expect(e.message).toContain('ALERT_FLUSH_SECONDS="soon" is not a number of seconds: set a whole number from 1 to 86400');
    expect(e.message).toContain("See .env.example");
    expect(e.message).not.toContain("hunter2-secret");
  });
});

describe(".env.example", () => {
  it("documents exactly the variables the code reads, each with a comment", () => {
    const lines = fs.readFileSync(ENV_EXAMPLE, "utf8").split("\n");
    const documented: string[] = [];
    lines.forEach((line, i) => {
      const m = /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line);
      if (!m?.[1]) return;
      documented.push(m[1]);
      // The line above a variable is its explanation (a comment, or the previous commented variable's block).
      expect(lines[i - 1]?.startsWith("#"), `${m[1]} has no comment above it`).toBe(true);
    });
    expect([...documented].sort()).toEqual([...ENV_KEYS].sort());
    expect(new Set(documented).size).toBe(documented.length);
  });

  it("starts cleanly when copied as it is", () => {
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(ENV_EXAMPLE, "utf8").split("\n")) {
      const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (m?.[1]) env[m[1]] = m[2] ?? "";
    }
    expect(() => readEnv(env)).not.toThrow();
  });
});
