// The real app in its own process, killed with SIGKILL and started again on the same database: incidents
// known before the crash stay known (no second issue), and GitHub's redelivery changes nothing.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deliver, startAppProcess, waitFor, type AppProcess } from "../helpers/app-process.js";
import { webhookFixture } from "../helpers/examples.js";
import { startFakeGitHub, type FakeGitHub } from "../helpers/fake-github.js";

let dir: string;
let github: FakeGitHub;
let app: AppProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "exfil-crash-"));
  github = await startFakeGitHub();
});

afterAll(async () => {
  await app?.kill();
  await github.close();
  rmSync(dir, { recursive: true, force: true });
});

function forkInto(owner: string) {
  const { name, payload } = webhookFixture("fork.private-org-to-user");
  const forkee = payload.forkee as { full_name: string; owner: { login: string } };
  forkee.full_name = `${owner}/Hello-World`;
  forkee.owner.login = owner;
  return { name, payload };
}

describe("after kill -9 and a restart", () => {
  it("keeps known incidents known and files nothing twice", async () => {
    const databasePath = path.join(dir, "exfil-monitor.db");
    app = await startAppProcess({ databasePath, githubHost: github.host });

    const first = forkInto("mallory");
    expect((await deliver(app.url, first.name, "crash-1", first.payload)).status).toBe(200);
    await waitFor(() => github.issues.length === 1, 20_000, () => app!.output());

    await app.kill("SIGKILL");
    app = await startAppProcess({ databasePath, githubHost: github.host });

    // GitHub redelivers the same delivery, and another delivery reports the same fork.
    expect((await deliver(app.url, first.name, "crash-1", first.payload)).status).toBe(200);
    expect((await deliver(app.url, first.name, "crash-2", first.payload)).status).toBe(200);
    // A different incident afterwards: events are processed in order, so once it is filed the two
    // deliveries above have been judged too.
    const other = forkInto("eve");
    expect((await deliver(app.url, other.name, "crash-3", other.payload)).status).toBe(200);
    await waitFor(() => github.issues.length >= 2, 20_000, () => app!.output());

    expect(github.issues.map((i) => i.title)).toEqual([
      expect.stringContaining("mallory"),
      expect.stringContaining("eve"),
    ]);
    expect(github.comments).toEqual([]);
    const health = (await (await fetch(`${app.url}/health`)).json()) as { counters: { deliveries: number; duplicates: number } };
    expect(health.counters).toMatchObject({ deliveries: 2, duplicates: 1 });
  });
});
