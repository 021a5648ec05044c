import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DETECTORS } from "../../src/detectors/index.js";
import {
  AUDIT_LOG_ACTIONS,
  KNOWN_ACTIONS,
  PASS_THROUGH_WEBHOOK_EVENTS,
  SWEEP_ACTIONS,
  WEBHOOK_ACTIONS,
  actionSet,
  actionsOf,
  entryOf,
  isAction,
  type KnownAction,
} from "../../src/events/actions.js";
import { fromAuditLog } from "../../src/events/from-audit-log.js";
import { fromWebhook } from "../../src/events/from-webhook.js";
import { allExamples, examplePayload, webhookFixture } from "../helpers/examples.js";

const AT = Date.UTC(2026, 9, 2, 10, 0, 0);
const KNOWN: ReadonlySet<string> = new Set(KNOWN_ACTIONS);
const WEBHOOK: ReadonlySet<string> = new Set(WEBHOOK_ACTIONS);
const PASS_THROUGH: ReadonlySet<string> = new Set(PASS_THROUGH_WEBHOOK_EVENTS);

const FIXTURES = fileURLToPath(new URL("../fixtures/webhooks/", import.meta.url));
const fixtureNames = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -".json".length))
  .sort();

/** Actions of one delivery, as the webhook route would store them. */
function actionsOfDelivery(name: string, payload: unknown, id = "delivery"): string[] {
  return fromWebhook({ name, id, payload, receivedAt: AT }).map((e) => e.action);
}

/** Catalogued; uncatalogued from an event whose every action passes through on purpose; or a mistake. */
function classify(action: string): "catalogued" | "pass-through" | "stray" {
  if (WEBHOOK.has(action)) return "catalogued";
  const dot = action.indexOf(".");
  return dot > 0 && PASS_THROUGH.has(action.slice(0, dot)) ? "pass-through" : "stray";
}

describe("action catalogue", () => {
  it("names each action once, in one group", () => {
    const all = [...AUDIT_LOG_ACTIONS, ...WEBHOOK_ACTIONS, ...SWEEP_ACTIONS];
    expect(KNOWN.size).toBe(all.length);
    expect([...KNOWN].sort()).toEqual([...KNOWN_ACTIONS].sort());
  });

  it("holds only names of the normalized shape, never the engine's `*`", () => {
    for (const action of KNOWN_ACTIONS) expect(action).toMatch(/^[a-z][a-z_]*(\.[a-z][a-z_]*)?$/);
  });

  it.each(DETECTORS.map((d) => [d.id, d] as const))("%s reads only catalogued actions", (_id, detector) => {
    const stray = detector.actions.filter((a) => a !== "*" && !KNOWN.has(a));
    expect(stray).toEqual([]);
    expect(new Set(detector.actions).size).toBe(detector.actions.length);
    // The engine adds an every-action detector to each action's list: naming others too would call it twice.
    if (detector.actions.includes("*")) expect(detector.actions).toEqual(["*"]);
  });
});

describe("webhook actions against the catalogue", () => {
  it("finds the scenario fixtures", () => {
    expect(fixtureNames.length).toBeGreaterThan(0);
  });

  it.each(fixtureNames)("%s gives catalogued actions only", (file) => {
    const { name, payload } = webhookFixture(file);
    const actions = actionsOfDelivery(name, payload);
    // A fixture that yields nothing would check nothing: each one is there for a detector to read.
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => classify(a) !== "catalogued")).toEqual([]);
  });

  it("gives no stray action for any of GitHub's example payloads, and passes uncatalogued ones through", () => {
    const produced = allExamples().flatMap(({ name, payload }) => actionsOfDelivery(name, payload));
    expect(produced.filter((a) => classify(a) === "stray")).toEqual([]);
    // Repository actions nobody reads yet still arrive as events, so a detector can start reading one.
    expect(produced).toContain("repository.edited");
    expect(classify("repository.edited")).toBe("pass-through");
  });

  it("produces every catalogued webhook action from some delivery", () => {
    const deliveries = [
      ...fixtureNames.map((f) => webhookFixture(f)),
      ...allExamples(),
      // GitHub's examples lack these two; their payloads have the same shape as the examples they are made from.
      { name: "organization", payload: { ...examplePayload("organization", "member_added"), action: "member_removed" } },
      { name: "deploy_key", payload: { ...examplePayload("deploy_key", "created"), action: "deleted" } },
    ];
    const produced = new Set(deliveries.flatMap(({ name, payload }) => actionsOfDelivery(name, payload)));
    // A catalogued webhook name nothing produces is misspelt or stale: detectors reading it would never run.
    expect(WEBHOOK_ACTIONS.filter((a) => !produced.has(a))).toEqual([]);
  });
});

describe("uncatalogued actions", () => {
  it("pass through the audit-log converter unchanged", () => {
    const event = fromAuditLog({ action: "repo.rename", "@timestamp": AT, org: "acme", repo: "acme/api" });
    expect(KNOWN.has("repo.rename")).toBe(false);
    expect(event?.action).toBe("repo.rename");
  });
});

describe("action helpers", () => {
  const event = { action: "git.clone" };

  it("isAction matches any of the names given", () => {
    expect(isAction(event, "git.clone")).toBe(true);
    expect(isAction(event, "repo.download_zip", "git.clone")).toBe(true);
    expect(isAction(event, "repo.download_zip")).toBe(false);
    expect(isAction({ action: "repo.rename" }, "repo.create")).toBe(false);
  });

  it("actionSet answers for uncatalogued text and iterates its names once each", () => {
    const set = actionSet("hook.create", "hook.config_changed", "hook.create");
    expect(set.has("hook.create")).toBe(true);
    expect(set.has("hook.destroy")).toBe(false);
    expect([...set]).toEqual(["hook.create", "hook.config_changed"]);
    expect(set.size).toBe(2);
  });

  it("entryOf reads only the table's own entries", () => {
    const table = { "repo.destroy": "deleted" } satisfies Partial<Record<KnownAction, string>>;
    expect(entryOf(table, "repo.destroy")).toBe("deleted");
    expect(entryOf(table, "repo.create")).toBeUndefined();
    // Inherited names must not read as entries: action text comes from outside (webhooks, audit-log files).
    for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      expect(entryOf(table, name)).toBeUndefined();
    }
    expect(actionsOf(table)).toEqual(["repo.destroy"]);
  });
});
