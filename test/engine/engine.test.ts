// The engine's own promises: a detector that throws is isolated, allowlists silence findings without hiding
// events from detector bookkeeping, and new members' findings are raised one step.
import { afterEach, describe, expect, it, vi } from "vitest";
import { DETECTORS } from "../../src/detectors/index.js";
import { DAY, HOUR, T0, makeEngine, makeEvent } from "../helpers/engine.js";

afterEach(() => {
  vi.restoreAllMocks();
});

const fork = (at: number, actor = "mallory") =>
  makeEvent({
    action: "fork",
    source: "webhook",
    at,
    actor,
    repo: "acme/api",
    visibility: "private",
    details: { forkFullName: `${actor}/api`, forkOwner: actor, forkOwnerType: "User" },
  });

describe("Engine", () => {
  it("logs and counts a detector that throws, and still runs the others", () => {
    const deployKey = DETECTORS.find((d) => d.id === "deploy-key-added")!;
    vi.spyOn(deployKey, "detect").mockImplementation(() => {
      throw new Error("boom");
    });
    const t = makeEngine();
    // A user's SSH key: deploy-key-added reads the action too, credential-added reports it.
    t.run(makeEvent({ action: "public_key.create", details: { keyFingerprint: "SHA256:abc", keyTitle: "laptop" } }));
    expect(t.engine.failures.get("deploy-key-added")).toBe(1);
    expect(t.errors).toHaveLength(1);
    expect(t.findings().map((f) => f.detector)).toEqual(["credential-added"]);
  });

  it("silences allowlisted actors, while their events still count for detector bookkeeping", () => {
    const t = makeEngine({ allow: { actors: ["admin-*"] } });
    t.run(
      makeEvent({ action: "repo.destroy", actor: "admin-jo", repo: "acme/old", at: T0 }),
      makeEvent({ action: "sweep.repo_missing", source: "sweep", actor: null, repo: "acme/old", visibility: "private", at: T0 + HOUR, details: { extra: { repo_id: 7 } } }),
    );
    // Neither the deletion (destructive-change) nor the hole it explains (repo-transferred) is reported.
    expect(t.findings()).toEqual([]);
    t.run(fork(T0, "admin-jo"));
    expect(t.findings()).toEqual([]);
  });

  it("raises findings about someone who joined the org less than 30 days before, once", () => {
    const t = makeEngine();
    t.run(makeEvent({ action: "org.add_member", actor: "owner", at: T0, details: { user: "mallory" } }));
    t.run(fork(T0 + 10 * DAY));
    const [f] = t.findings("personal-fork");
    expect(f).toMatchObject({ severity: "critical" });
    expect(f!.raisedReason).toContain("joined acme");

    const old = makeEngine();
    old.run(makeEvent({ action: "org.add_member", actor: "owner", at: T0, details: { user: "mallory" } }));
    old.run(fork(T0 + 31 * DAY));
    expect(old.findings("personal-fork")[0]).toMatchObject({ severity: "high", raisedReason: null });
  });
});
