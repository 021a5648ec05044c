// The storage contract: what every backend of src/store/storage.ts must do, checked only through the
// interface, so each backend runs this suite unchanged (see sqlite.test.ts for how one is plugged in).
//
// The factory hands out a fresh, empty Storage per test; its cleanup runs after each test, also after a test
// that closed the Storage itself.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FindingDraft } from "../../../src/domain/finding.js";
import type { Severity } from "../../../src/domain/severity.js";
import type { OrgEvent } from "../../../src/events/types.js";
import type { AuditLogPosition, DeliveryRecord, FindingRow, Storage } from "../../../src/store/storage.js";

export interface ContractSubject {
  storage: Storage;
  cleanup(): Promise<void>;
}

/** 2026-10-02T10:00:00Z, the suite's "now". */
const T0 = Date.UTC(2026, 9, 2, 10, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let eventCounter = 0;

/** An event with safe defaults and a fresh id; pass only what the test is about. */
function event(partial: Partial<OrgEvent> = {}): OrgEvent {
  eventCounter += 1;
  return {
    id: `contract:${eventCounter}`,
    source: "webhook",
    action: "fork",
    at: T0,
    org: "acme",
    actor: "mallory",
    actorId: 1001,
    actorIsBot: false,
    repo: "acme/api",
    visibility: "private",
    country: null,
    ip: null,
    token: null,
    tokenType: null,
    installationId: 42,
    details: {},
    ...partial,
  };
}

/** A detector result for `e`; its evidence names the event, so each event is new evidence unless told otherwise. */
function draft(e: OrgEvent, partial: Partial<FindingDraft> = {}): FindingDraft {
  return {
    subject: "acme/api->mallory/api",
    severity: "medium",
    summary: "mallory forked acme/api",
    actor: e.actor,
    repos: e.repo ? [e.repo] : [],
    evidence: { event: e.id },
    ...partial,
  };
}

function delivery(id: string, partial: Partial<DeliveryRecord> = {}): DeliveryRecord {
  return { id, name: "repository", action: "created", installationId: 42, receivedAt: T0, bodySha256: null, ...partial };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise and the function that resolves it, to learn from inside a unit of work that it has begun. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

function byId<T extends { id: number }>(rows: T[]): T[] {
  return [...rows].sort((a, b) => a.id - b.id);
}

export function storageContract(name: string, factory: () => Promise<ContractSubject>): void {
  describe(`storage contract: ${name}`, () => {
    let storage: Storage;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const subject = await factory();
      storage = subject.storage;
      cleanup = () => subject.cleanup();
    });

    afterEach(async () => {
      await cleanup();
    });

    /** Records one finding from one event (scope `org:acme` unless told otherwise). */
    function record(e: OrgEvent, d: Partial<FindingDraft> = {}, opts: { scope?: string; detector?: string; reason?: string | null; now?: number } = {}) {
      return storage.findings.record(opts.scope ?? "org:acme", opts.detector ?? "personal-fork", draft(e, d), e, opts.reason ?? null, opts.now ?? T0);
    }

    describe("deliveries", () => {
      it("records a delivery id once: true the first time, false for every redelivery", async () => {
        expect(await storage.deliveries.record(delivery("d-1"))).toBe(true);
        expect(await storage.deliveries.record(delivery("d-1", { receivedAt: T0 + MINUTE }))).toBe(false);
        expect(await storage.deliveries.record(delivery("d-2"))).toBe(true);
      });

      it("answers true exactly once when many callers race on one id", async () => {
        const answers = await Promise.all(Array.from({ length: 8 }, () => storage.deliveries.record(delivery("race"))));
        expect(answers.filter(Boolean)).toHaveLength(1);
      });

      it("answers true exactly once when callers race with a unit of work that records the same id", async () => {
        const started = signal();
        const unit = storage.unitOfWork(async (tx) => {
          const first = await tx.deliveries.record(delivery("shared"));
          started.fire();
          await sleep(20);
          const again = await tx.deliveries.record(delivery("shared"));
          return [first, again];
        });
        await started.promise;
        const outside = await Promise.all([1, 2, 3].map(() => storage.deliveries.record(delivery("shared"))));
        expect(await unit).toEqual([true, false]);
        expect(outside).toEqual([false, false, false]);
      });

      it("keeps the body digest first recorded: undefined for an unknown id, null when none was given", async () => {
        expect(await storage.deliveries.bodySha256("unknown")).toBeUndefined();
        await storage.deliveries.record(delivery("no-digest"));
        expect(await storage.deliveries.bodySha256("no-digest")).toBeNull();
        await storage.deliveries.record(delivery("with-digest", { bodySha256: "a".repeat(64) }));
        await storage.deliveries.record(delivery("with-digest", { bodySha256: "b".repeat(64) }));
        expect(await storage.deliveries.bodySha256("with-digest")).toBe("a".repeat(64));
      });

      it("keeps a conflicting body once per digest, counting and dating its repeats", async () => {
        expect(await storage.deliveries.conflicts()).toEqual([]);
        const base = {
          deliveryId: "d-1",
          name: "repository",
          action: "created",
          installationId: 42,
          firstBodySha256: "a".repeat(64),
          bodySha256: "b".repeat(64),
          bodyBytes: 17,
          body: '{"evil":"body 1"}',
        };
        await storage.deliveries.recordConflict({ ...base, receivedAt: T0 });
        await storage.deliveries.recordConflict({ ...base, receivedAt: T0 + MINUTE });
        await storage.deliveries.recordConflict({ ...base, bodySha256: "c".repeat(64), body: '{"evil":"body 2"}', receivedAt: T0 + 2 * MINUTE });
        const conflicts = (await storage.deliveries.conflicts()).sort((a, b) => a.firstReceivedAt - b.firstReceivedAt);
        expect(conflicts).toEqual([
          { ...base, firstReceivedAt: T0, lastReceivedAt: T0 + MINUTE, times: 2 },
          { ...base, bodySha256: "c".repeat(64), body: '{"evil":"body 2"}', firstReceivedAt: T0 + 2 * MINUTE, lastReceivedAt: T0 + 2 * MINUTE, times: 1 },
        ]);
      });

      it("prunes deliveries and conflict evidence from before the cutoff, and only those", async () => {
        await storage.deliveries.record(delivery("old-1", { receivedAt: T0 - 4 * DAY }));
        await storage.deliveries.record(delivery("old-2", { receivedAt: T0 - 3 * DAY - 1 }));
        await storage.deliveries.record(delivery("new", { receivedAt: T0 - 3 * DAY }));
        const conflict = {
          deliveryId: "old-1",
          name: "repository",
          action: null,
          installationId: null,
          firstBodySha256: "a".repeat(64),
          bodyBytes: 2,
          body: "{}",
        };
        await storage.deliveries.recordConflict({ ...conflict, bodySha256: "b".repeat(64), receivedAt: T0 - 4 * DAY });
        await storage.deliveries.recordConflict({ ...conflict, bodySha256: "c".repeat(64), receivedAt: T0 - 4 * DAY });
        await storage.deliveries.recordConflict({ ...conflict, bodySha256: "c".repeat(64), receivedAt: T0 - DAY });

        expect(await storage.deliveries.prune(T0 - 3 * DAY)).toBe(2);
        expect(await storage.deliveries.bodySha256("old-1")).toBeUndefined();
        expect(await storage.deliveries.bodySha256("new")).toBeNull();
        // Conflict evidence goes by when it was last sent: the one repeated yesterday stays.
        expect((await storage.deliveries.conflicts()).map((c) => c.bodySha256)).toEqual(["c".repeat(64)]);
        // A pruned id is unknown again.
        expect(await storage.deliveries.record(delivery("old-1"))).toBe(true);
        expect(await storage.deliveries.prune(T0 - 3 * DAY)).toBe(0);
      });
    });

    describe("events", () => {
      it("stores events and answers one flag per event, aligned with the input", async () => {
        const [a, b, c] = [event(), event(), event()];
        expect(await storage.events.add([a!, b!])).toEqual([true, true]);
        expect(await storage.events.add([c!, a!, c!])).toEqual([true, false, false]);
        expect(await storage.events.add([])).toEqual([]);
        expect(await storage.events.count()).toBe(3);
      });

      it("answers true exactly once per id when callers race", async () => {
        const list = [event(), event(), event()];
        const answers = await Promise.all(Array.from({ length: 5 }, () => storage.events.add(list)));
        for (let i = 0; i < list.length; i++) expect(answers.filter((a) => a[i]).length).toBe(1);
        expect(await storage.events.count()).toBe(3);
      });

      it("hands pending events back intact, in arrival order, up to the limit", async () => {
        const first = event({
          at: T0 + HOUR,
          actorId: null,
          country: "NL",
          ip: "192.0.2.1",
          token: "tok=",
          tokenType: "OAuth access token",
          business: "acme-corp",
          details: { forkFullName: "mallory/api", authorEmails: ["a@example.com"], extra: { note: "ünïcødé ✓", n: 3, ok: true, none: null } },
        });
        const second = event({ at: T0 - HOUR, source: "audit-log", org: null, installationId: null, repo: null, visibility: null });
        const third = event({ source: "sweep" });
        await storage.events.add([first]);
        await storage.events.add([second, third]);
        expect(await storage.events.pending(10)).toEqual([first, second, third]);
        expect(await storage.events.pending(2)).toEqual([first, second]);
      });

      it("keeps events added as processed out of the pending list, but knows them", async () => {
        const judged = event();
        const queued = event();
        await storage.events.add([judged], { processed: true });
        await storage.events.add([queued], { processed: false });
        expect(await storage.events.pending(10)).toEqual([queued]);
        expect(await storage.events.has(judged.id)).toBe(true);
        expect(await storage.events.count()).toBe(2);
      });

      it("marks events processed, ignoring unknown ids", async () => {
        const list = [event(), event(), event()];
        await storage.events.add(list);
        await storage.events.markProcessed([list[0]!.id, list[2]!.id, "never-stored"]);
        expect(await storage.events.pending(10)).toEqual([list[1]]);
        await storage.events.markProcessed([]);
        expect(await storage.events.pending(10)).toEqual([list[1]]);
        expect(await storage.events.has("never-stored")).toBe(false);
      });

      it("tells whether an event is stored, judged or not", async () => {
        const e = event();
        expect(await storage.events.has(e.id)).toBe(false);
        await storage.events.add([e]);
        expect(await storage.events.has(e.id)).toBe(true);
        await storage.events.markProcessed([e.id]);
        expect(await storage.events.has(e.id)).toBe(true);
      });

      it("records events judged offline once per id, aligned with the input", async () => {
        const [a, b] = [event(), event({ at: T0 + 1 })];
        expect(await storage.events.markSeen([a!, b!, a!])).toEqual([true, true, false]);
        expect(await storage.events.markSeen([b!, event()])).toEqual([false, true]);
        expect(await storage.events.markSeen([])).toEqual([]);
      });

      it("answers markSeen true exactly once per id when callers race", async () => {
        const list = [event(), event({ at: T0 + 5 })];
        const answers = await Promise.all(Array.from({ length: 5 }, () => storage.events.markSeen(list)));
        for (let i = 0; i < list.length; i++) expect(answers.filter((a) => a[i]).length).toBe(1);
      });

      it("prunes judged events from before the cutoff, never one still pending or recent", async () => {
        const oldJudged = [event({ at: T0 - 3 * DAY }), event({ at: T0 - 2 * DAY })];
        const oldPending = event({ at: T0 - 2 * DAY });
        const recentJudged = event({ at: T0 });
        await storage.events.add(oldJudged, { processed: true });
        await storage.events.add([oldPending]);
        await storage.events.add([recentJudged], { processed: true });

        let deleted = 0;
        for (let more = true; more; ) {
          const r = await storage.events.prune(T0 - DAY);
          deleted += r.deleted;
          more = r.more;
        }
        expect(deleted).toBe(2);
        expect(await storage.events.has(oldJudged[0]!.id)).toBe(false);
        expect(await storage.events.has(oldJudged[1]!.id)).toBe(false);
        expect(await storage.events.has(oldPending.id)).toBe(true);
        expect(await storage.events.has(recentJudged.id)).toBe(true);

        await storage.events.markProcessed([oldPending.id]);
        expect(await storage.events.prune(T0 - DAY)).toEqual({ deleted: 1, more: false });
        expect(await storage.events.count()).toBe(1);
      });

      it("prunes at most `limit` events per call and says when more may remain", async () => {
        const list = Array.from({ length: 5 }, (_, i) => event({ at: T0 - DAY - i }));
        await storage.events.add(list, { processed: true });
        const first = await storage.events.prune(T0, 2);
        expect(first).toEqual({ deleted: 2, more: true });
        expect(await storage.events.count()).toBe(3);
        let deleted = first.deleted;
        let calls = 1;
        for (let more = first.more; more && calls < 10; calls++) {
          const r = await storage.events.prune(T0, 2);
          expect(r.deleted).toBeLessThanOrEqual(2);
          deleted += r.deleted;
          more = r.more;
        }
        expect(deleted).toBe(5);
        expect(await storage.events.count()).toBe(0);
        expect(await storage.events.prune(T0, 2)).toEqual({ deleted: 0, more: false });
      });
    });

    describe("findings", () => {
      it("creates a finding from its first evidence", async () => {
        const e = event({ at: T0 - HOUR, org: "Acme", installationId: 7, repo: "acme/web" });
        const r = await record(e, { severity: "high", summary: "forked", repos: ["acme/web", "acme/api"] }, { reason: "young account", now: T0 });
        expect(r.isNew).toBe(true);
        expect(r.added).toBe(true);
        expect(r.finding).toEqual({
          id: expect.any(Number),
          scope: "org:acme",
          fingerprint: "personal-fork:acme/api->mallory/api",
          detector: "personal-fork",
          subject: "acme/api->mallory/api",
          org: "Acme",
          orgs: ["Acme"],
          installationId: 7,
          severity: "high",
          summary: "forked",
          actor: "mallory",
          repos: ["acme/api", "acme/web"],
          firstSeen: T0 - HOUR,
          lastSeen: T0 - HOUR,
          count: 1,
          raisedReason: "young account",
          actorChecked: false,
          issueRepo: null,
          issueNumber: null,
          filedSeq: 0,
          filingStartedAt: null,
          lastError: null,
          createdAt: T0,
        } satisfies FindingRow);
      });

      it("folds later evidence in: highest severity and its summary, repos and orgs unioned, span widened", async () => {
        const first = await record(event({ at: T0 }), { severity: "medium", summary: "first", repos: ["acme/b"] }, { reason: "new member" });
        const higher = await record(event({ at: T0 - HOUR, org: "acme-eu" }), { severity: "critical", summary: "worst", repos: ["acme/a"] }, { reason: "other" });
        expect(higher.isNew).toBe(false);
        expect(higher.added).toBe(true);
        expect(higher.finding.id).toBe(first.finding.id);
        const lower = await record(event({ at: T0 + HOUR }), { severity: "low", summary: "mild", repos: ["acme/b", "acme/c"] });
        expect(lower.finding).toMatchObject({
          severity: "critical",
          summary: "worst",
          repos: ["acme/a", "acme/b", "acme/c"],
          orgs: ["acme", "acme-eu"],
          firstSeen: T0 - HOUR,
          lastSeen: T0 + HOUR,
          count: 3,
          raisedReason: "new member",
        });
        expect(await storage.findings.getById(first.finding.id)).toEqual(lower.finding);
      });

      it("counts the same event once: a second record adds nothing", async () => {
        const e = event();
        const first = await record(e);
        const again = await record(e, { severity: "critical" });
        expect(again.isNew).toBe(false);
        expect(again.added).toBe(false);
        expect(again.finding).toEqual(first.finding);
        expect(await storage.findings.evidence(first.finding.id)).toHaveLength(1);
      });

      it("counts the same facts told again by another event once", async () => {
        const facts = { evidence: { fork: "mallory/api" } };
        const first = await record(event(), facts);
        const retold = await record(event({ at: T0 + MINUTE }), facts);
        expect(retold.added).toBe(false);
        expect(retold.finding.count).toBe(1);
        expect(await storage.findings.evidence(first.finding.id)).toHaveLength(1);
        // Other facts, or the same facts at another severity, are new evidence.
        expect((await record(event(), { evidence: { fork: "mallory/api2" } })).added).toBe(true);
        expect((await record(event(), { ...facts, severity: "high" })).added).toBe(true);
        expect((await storage.findings.get("org:acme", first.finding.fingerprint))!.count).toBe(3);
      });

      it("keeps one finding per scope and fingerprint", async () => {
        const acme = await record(event(), {}, { scope: "org:acme" });
        const globex = await record(event({ org: "globex" }), {}, { scope: "org:globex" });
        const otherDetector = await record(event(), {}, { detector: "visibility-change" });
        expect(new Set([acme.finding.id, globex.finding.id, otherDetector.finding.id]).size).toBe(3);
        expect(globex.isNew).toBe(true);
        expect(otherDetector.finding.fingerprint).toBe("visibility-change:acme/api->mallory/api");
        expect(await storage.findings.get("org:globex", acme.finding.fingerprint)).toEqual(globex.finding);
        expect(await storage.findings.get("org:acme", acme.finding.fingerprint)).toEqual(acme.finding);
        expect(await storage.findings.get("org:initech", acme.finding.fingerprint)).toBeUndefined();
        expect(await storage.findings.get("org:acme", "personal-fork:nothing")).toBeUndefined();
      });

      it("gets findings by id and lists them all", async () => {
        expect(await storage.findings.list()).toEqual([]);
        const a = await record(event(), { subject: "a" });
        const b = await record(event(), { subject: "b" });
        expect(await storage.findings.getById(a.finding.id)).toEqual(a.finding);
        expect(await storage.findings.getById(b.finding.id + a.finding.id + 1000)).toBeUndefined();
        expect(byId(await storage.findings.list())).toEqual(byId([a.finding, b.finding]));
      });

      it("hands out evidence in order, after a given seq, and its newest seq", async () => {
        const e1 = event({ at: T0, source: "audit-log" });
        const e2 = event({ at: T0 + MINUTE });
        const f = (await record(e1, { severity: "low", summary: "one", evidence: { n: 1, s: "x", ok: true, none: null } })).finding;
        expect(await storage.findings.maxEvidenceSeq(f.id)).toBeGreaterThan(0);
        await record(e2, { severity: "high", summary: "two" });
        const all = await storage.findings.evidence(f.id);
        expect(all).toEqual([
          { seq: expect.any(Number), findingId: f.id, eventId: e1.id, at: T0, source: "audit-log", severity: "low", summary: "one", data: { n: 1, s: "x", ok: true, none: null } },
          { seq: expect.any(Number), findingId: f.id, eventId: e2.id, at: T0 + MINUTE, source: "webhook", severity: "high", summary: "two", data: { event: e2.id } },
        ]);
        expect(all[1]!.seq).toBeGreaterThan(all[0]!.seq);
        expect(await storage.findings.evidence(f.id, all[0]!.seq)).toEqual([all[1]]);
        expect(await storage.findings.evidence(f.id, all[1]!.seq)).toEqual([]);
        expect(await storage.findings.maxEvidenceSeq(f.id)).toBe(all[1]!.seq);
        expect(await storage.findings.maxEvidenceSeq(f.id + 1000)).toBe(0);
        expect(await storage.findings.evidence(f.id + 1000)).toEqual([]);
      });

      it("keeps each finding's evidence apart", async () => {
        const e = event();
        const a = (await record(e, { subject: "a" })).finding;
        const b = (await record(e, { subject: "b" })).finding;
        expect((await storage.findings.evidence(a.id)).map((r) => r.findingId)).toEqual([a.id]);
        expect((await storage.findings.evidence(b.id)).map((r) => r.findingId)).toEqual([b.id]);
      });

      it("raises a finding's severity, remembers why and marks its actor checked", async () => {
        const f = (await record(event(), { severity: "medium" })).finding;
        await storage.findings.raise(f.id, "high", "account created 2 days ago");
        expect(await storage.findings.getById(f.id)).toMatchObject({ severity: "high", raisedReason: "account created 2 days ago", actorChecked: true });
      });

      it("lists findings whose actor is unchecked, oldest first, until they are checked", async () => {
        const a = (await record(event(), { subject: "a" })).finding;
        await record(event({ actor: null }), { subject: "no actor", actor: null });
        const c = (await record(event(), { subject: "c" })).finding;
        const d = (await record(event(), { subject: "d" })).finding;
        expect((await storage.findings.actorsToCheck(10)).map((f) => f.id)).toEqual([a.id, c.id, d.id]);
        expect((await storage.findings.actorsToCheck(2)).map((f) => f.id)).toEqual([a.id, c.id]);
        await storage.findings.markActorChecked(a.id);
        expect(await storage.findings.getById(a.id)).toMatchObject({ actorChecked: true });
        await storage.findings.raise(d.id, "critical", "new member");
        expect(await storage.findings.actorsToCheck(10)).toEqual([await storage.findings.getById(c.id)]);
      });

      it("keeps the filing bookkeeping: started, error, filed, commented", async () => {
        const f = (await record(event())).finding;
        await storage.findings.markFilingStarted(f.id, T0 + MINUTE);
        expect(await storage.findings.getById(f.id)).toMatchObject({ filingStartedAt: T0 + MINUTE, issueNumber: null });
        await storage.findings.markFilingError(f.id, "403 Resource not accessible by integration");
        expect(await storage.findings.getById(f.id)).toMatchObject({ lastError: "403 Resource not accessible by integration", filingStartedAt: T0 + MINUTE });
        await storage.findings.markFiled(f.id, "acme/security-alerts", 12, 3);
        expect(await storage.findings.getById(f.id)).toMatchObject({
          issueRepo: "acme/security-alerts",
          issueNumber: 12,
          filedSeq: 3,
          filingStartedAt: null,
          lastError: null,
        });
        await storage.findings.markFilingError(f.id, "502 Bad Gateway");
        expect(await storage.findings.getById(f.id)).toMatchObject({ lastError: "502 Bad Gateway" });
        await storage.findings.markCommented(f.id, 9);
        expect(await storage.findings.getById(f.id)).toMatchObject({ issueNumber: 12, filedSeq: 9, lastError: null });
      });

      it("queues findings with new evidence for the dispatcher until their issue shows it", async () => {
        const f = (await record(event())).finding;
        const [queued] = await storage.findings.alertQueue();
        const maxSeq = await storage.findings.maxEvidenceSeq(f.id);
        expect(queued).toEqual({ finding: f, maxSeq, dryRunSeq: 0 });

        await storage.findings.markFiled(f.id, "acme/security-alerts", 1, maxSeq);
        expect(await storage.findings.alertQueue()).toEqual([]);

        await record(event({ at: T0 + MINUTE }));
        const newer = await storage.findings.maxEvidenceSeq(f.id);
        expect(newer).toBeGreaterThan(maxSeq);
        expect(await storage.findings.alertQueue()).toEqual([{ finding: await storage.findings.getById(f.id), maxSeq: newer, dryRunSeq: 0 }]);

        await storage.findings.markCommented(f.id, newer);
        expect(await storage.findings.alertQueue()).toEqual([]);
      });

      it("leaves findings without an org or an installation out of the alert queue", async () => {
        await record(event({ org: null }), { subject: "offline, no org" }, { scope: "business:acme" });
        const noInstallation = (await record(event({ installationId: null }), { subject: "no installation" })).finding;
        const online = (await record(event(), { subject: "online" })).finding;
        expect((await storage.findings.alertQueue()).map((q) => q.finding.id)).toEqual([online.id]);
        // The first event through an installation makes it reachable.
        await record(event({ installationId: 99 }), { subject: "no installation" });
        const queue = await storage.findings.alertQueue();
        expect(byId(queue.map((q) => q.finding)).map((x) => x.id)).toEqual(byId([online, noInstallation]).map((x) => x.id));
        expect(queue.find((q) => q.finding.id === noInstallation.id)!.finding.installationId).toBe(99);
      });

      it("shows in the alert queue what dry-run has logged", async () => {
        const f = (await record(event())).finding;
        const seq = await storage.findings.maxEvidenceSeq(f.id);
        await storage.findings.markDryRunLogged(f.id, seq);
        expect(await storage.findings.alertQueue()).toEqual([{ finding: f, maxSeq: seq, dryRunSeq: seq }]);
      });

      it("holds findings out of the queue until newer evidence, and releases them by severity", async () => {
        const low = (await record(event(), { subject: "low", severity: "low" })).finding;
        const medium = (await record(event(), { subject: "medium", severity: "medium" })).finding;
        const other = (await record(event({ org: "globex", installationId: 43 }), { subject: "globex", severity: "low" }, { scope: "org:globex" })).finding;
        expect(await storage.findings.heldOrgs()).toEqual([]);
        for (const f of [low, medium, other]) await storage.findings.hold(f.id, await storage.findings.maxEvidenceSeq(f.id));
        expect(await storage.findings.alertQueue()).toEqual([]);
        expect((await storage.findings.heldOrgs()).sort((a, b) => a.org.localeCompare(b.org))).toEqual([
          { org: "acme", installationId: 42 },
          { org: "globex", installationId: 43 },
        ]);

        // Newer evidence puts a held finding back in the queue by itself.
        await record(event({ at: T0 + MINUTE }), { subject: "low", severity: "low" });
        expect((await storage.findings.alertQueue()).map((q) => q.finding.id)).toEqual([low.id]);

        expect(await storage.findings.releaseHeld("acme", ["high", "critical"])).toBe(0);
        expect(await storage.findings.releaseHeld("acme", ["medium", "high", "critical"])).toBe(1);
        expect((await storage.findings.alertQueue()).map((q) => q.finding.id).sort((a, b) => a - b)).toEqual([low.id, medium.id].sort((a, b) => a - b));
        expect(await storage.findings.releaseHeld("acme", ["low"])).toBe(1);
        expect(await storage.findings.releaseHeld("acme", ["low"])).toBe(0);
        expect(await storage.findings.heldOrgs()).toEqual([{ org: "globex", installationId: 43 }]);
        expect(await storage.findings.releaseHeld("globex", ["low", "medium", "high", "critical"] satisfies Severity[])).toBe(1);
        expect(await storage.findings.heldOrgs()).toEqual([]);
        expect(await storage.findings.alertQueue()).toHaveLength(3);
      });

      it("keeps an issue's findings in the queue when held, once evidence is newer than the issue", async () => {
        const f = (await record(event())).finding;
        const seq = await storage.findings.maxEvidenceSeq(f.id);
        await storage.findings.markFiled(f.id, "acme/security-alerts", 4, seq);
        await storage.findings.hold(f.id, seq);
        await record(event({ at: T0 + MINUTE }));
        expect((await storage.findings.alertQueue()).map((q) => q.finding.id)).toEqual([f.id]);
      });
    });

    describe("state", () => {
      it("loads every detector's entries of one scope, and only that scope", async () => {
        await storage.state.write([
          { scope: "org:acme", detector: "mass-clone", key: "mallory", value: { n: 4 }, expiresAt: T0 + HOUR },
          { scope: "org:acme", detector: "off-hours", key: "mallory", value: [1, 2, 3], expiresAt: T0 + DAY },
          { scope: "org:globex", detector: "mass-clone", key: "mallory", value: { n: 9 }, expiresAt: T0 + HOUR },
        ]);
        const byKey = (a: { detector: string }, b: { detector: string }) => a.detector.localeCompare(b.detector);
        expect((await storage.state.loadScope("org:acme")).sort(byKey)).toEqual([
          { detector: "mass-clone", key: "mallory", value: { n: 4 }, expiresAt: T0 + HOUR },
          { detector: "off-hours", key: "mallory", value: [1, 2, 3], expiresAt: T0 + DAY },
        ]);
        expect(await storage.state.loadScope("org:globex")).toEqual([{ detector: "mass-clone", key: "mallory", value: { n: 9 }, expiresAt: T0 + HOUR }]);
        expect(await storage.state.loadScope("org:initech")).toEqual([]);
      });

      it("overwrites a key, and deletes it when the value is undefined", async () => {
        await storage.state.write([{ scope: "org:acme", detector: "d", key: "k", value: 1, expiresAt: T0 }]);
        await storage.state.write([{ scope: "org:acme", detector: "d", key: "k", value: "two", expiresAt: T0 + DAY }]);
        expect(await storage.state.loadScope("org:acme")).toEqual([{ detector: "d", key: "k", value: "two", expiresAt: T0 + DAY }]);
        await storage.state.write([{ scope: "org:acme", detector: "d", key: "k", value: undefined }]);
        expect(await storage.state.loadScope("org:acme")).toEqual([]);
        // Deleting what is not there is harmless.
        await storage.state.write([{ scope: "org:acme", detector: "d", key: "k" }]);
        expect(await storage.state.loadScope("org:acme")).toEqual([]);
      });

      it("keeps null, false, zero and empty values (only undefined deletes)", async () => {
        const values = [null, false, 0, "", [], {}];
        await storage.state.write(values.map((value, i) => ({ scope: "s", detector: "d", key: String(i), value, expiresAt: T0 })));
        const loaded = (await storage.state.loadScope("s")).sort((a, b) => Number(a.key) - Number(b.key));
        expect(loaded.map((e) => e.value)).toEqual(values);
      });

      it("drops state of every scope that expired before the given time, and keeps the rest", async () => {
        await storage.state.write([
          { scope: "org:acme", detector: "d", key: "expired", value: 1, expiresAt: T0 - 1 },
          { scope: "org:acme", detector: "d", key: "at-cutoff", value: 2, expiresAt: T0 },
          { scope: "org:globex", detector: "e", key: "expired", value: 3, expiresAt: T0 - HOUR },
          { scope: "org:globex", detector: "e", key: "live", value: 4, expiresAt: T0 + HOUR },
        ]);
        await storage.state.write([], T0);
        expect((await storage.state.loadScope("org:acme")).map((e) => e.key)).toEqual(["at-cutoff"]);
        expect((await storage.state.loadScope("org:globex")).map((e) => e.key)).toEqual(["live"]);
      });

      it("writes changes and expires in one call", async () => {
        await storage.state.write([{ scope: "org:acme", detector: "d", key: "old", value: 1, expiresAt: T0 - DAY }]);
        await storage.state.write([{ scope: "org:acme", detector: "d", key: "new", value: 2, expiresAt: T0 + DAY }], T0);
        expect((await storage.state.loadScope("org:acme")).map((e) => e.key)).toEqual(["new"]);
      });

      it("round-trips odd keys, and never mixes scopes, detectors or keys that share text", async () => {
        const entries = [
          { scope: "org:a", detector: "d", key: "x:y:z" },
          { scope: "org:a:b", detector: "d", key: "x" },
          { scope: "org:a", detector: "d:x", key: "y" },
          { scope: "org:a", detector: "d", key: "" },
          { scope: "org:a", detector: "d", key: "ключ 🔑 'quote\" %_\\" },
          { scope: "", detector: "", key: "" },
          { scope: "ORG:A", detector: "d", key: "x:y:z" },
        ];
        await storage.state.write(entries.map((e, i) => ({ ...e, value: i, expiresAt: T0 })));
        for (const scope of new Set(entries.map((e) => e.scope))) {
          const expected = entries
            .map((e, i) => ({ ...e, value: i }))
            .filter((e) => e.scope === scope)
            .map((e) => ({ detector: e.detector, key: e.key, value: e.value, expiresAt: T0 }));
          const loaded = (await storage.state.loadScope(scope)).sort((a, b) => (a.value as number) - (b.value as number));
          expect(loaded).toEqual(expected);
        }
      });
    });

    describe("directory", () => {
      it("upserts members, keeping the known join date when none is given", async () => {
        expect(await storage.directory.member("acme", "mallory")).toBeUndefined();
        await storage.directory.setMember("acme", "mallory", true, T0 - DAY, T0);
        expect(await storage.directory.member("acme", "mallory")).toEqual({ isMember: true, joinedAt: T0 - DAY });
        await storage.directory.setMember("acme", "mallory", false, null, T0 + 1);
        expect(await storage.directory.member("acme", "mallory")).toEqual({ isMember: false, joinedAt: T0 - DAY });
        await storage.directory.setMember("acme", "mallory", true, T0, T0 + 2);
        expect(await storage.directory.member("acme", "mallory")).toEqual({ isMember: true, joinedAt: T0 });
        await storage.directory.setMember("acme", "newbie", true, null, T0);
        expect(await storage.directory.member("acme", "newbie")).toEqual({ isMember: true, joinedAt: null });
        expect(await storage.directory.member("globex", "mallory")).toBeUndefined();
      });

      it("answers several logins of one org at once, only those it knows", async () => {
        await storage.directory.setMember("acme", "alice", true, T0, T0);
        await storage.directory.setMember("acme", "bob", false, null, T0);
        await storage.directory.setMember("globex", "carol", true, T0, T0);
        const found = await storage.directory.members("acme", ["alice", "bob", "carol", "nobody", "alice"]);
        expect(found).toEqual(
          new Map([
            ["alice", { isMember: true, joinedAt: T0 }],
            ["bob", { isMember: false, joinedAt: null }],
          ]),
        );
        expect(await storage.directory.members("acme", [])).toEqual(new Map());
      });

      it("upserts accounts and answers several at once, only those it knows", async () => {
        expect(await storage.directory.account("mallory")).toBeUndefined();
        await storage.directory.setAccount("mallory", T0 - 2 * DAY, T0);
        expect(await storage.directory.account("mallory")).toEqual({ createdAt: T0 - 2 * DAY, checkedAt: T0 });
        await storage.directory.setAccount("mallory", null, T0 + HOUR);
        expect(await storage.directory.account("mallory")).toEqual({ createdAt: null, checkedAt: T0 + HOUR });
        await storage.directory.setAccount("alice", T0 - 900 * DAY, T0);
        expect(await storage.directory.accounts(["alice", "mallory", "nobody", "alice"])).toEqual(
          new Map([
            ["alice", { createdAt: T0 - 900 * DAY, checkedAt: T0 }],
            ["mallory", { createdAt: null, checkedAt: T0 + HOUR }],
          ]),
        );
        expect(await storage.directory.accounts([])).toEqual(new Map());
      });
    });

    describe("notices", () => {
      const notice = { org: "acme", key: "gap:1", installationId: 42, title: "Audit log gap", body: "Entries between … were missed." };

      it("keeps the last good config text and when it was saved, per org", async () => {
        expect(await storage.notices.goodConfig("acme")).toBeUndefined();
        await storage.notices.saveGoodConfig("acme", "alerts:\n  repo: sec\n", T0);
        await storage.notices.saveGoodConfig("acme", "alerts:\n  repo: security\n", T0 + HOUR);
        await storage.notices.saveGoodConfig("globex", "{}", T0);
        expect(await storage.notices.goodConfig("acme")).toEqual({ yaml: "alerts:\n  repo: security\n", savedAt: T0 + HOUR });
        expect(await storage.notices.goodConfig("globex")).toEqual({ yaml: "{}", savedAt: T0 });
      });

      it("keeps config reports per org and problem", async () => {
        expect(await storage.notices.configReport("acme", "h1")).toBeUndefined();
        await storage.notices.saveConfigReport("acme", "h1", null, T0);
        expect(await storage.notices.configReport("acme", "h1")).toEqual({ issueNumber: null });
        await storage.notices.saveConfigReport("acme", "h1", 17, T0 + 1);
        expect(await storage.notices.configReport("acme", "h1")).toEqual({ issueNumber: 17 });
        expect(await storage.notices.configReport("acme", "h2")).toBeUndefined();
        expect(await storage.notices.configReport("globex", "h1")).toBeUndefined();
      });

      it("keeps a notice pending until it is filed, with the latest text", async () => {
        expect(await storage.notices.pending()).toEqual([]);
        await storage.notices.save(notice, T0);
        await storage.notices.save({ ...notice, org: "globex", installationId: 43, repo: "globex/ops" }, T0 + 1);
        expect((await storage.notices.pending()).sort((a, b) => a.org.localeCompare(b.org))).toEqual([
          { ...notice, repo: null },
          { ...notice, org: "globex", installationId: 43, repo: "globex/ops" },
        ]);
        await storage.notices.save({ ...notice, title: "Audit log gap (again)", repo: "acme/ops" }, T0 + 2);
        expect((await storage.notices.pending()).find((n) => n.org === "acme")).toEqual({ ...notice, title: "Audit log gap (again)", repo: "acme/ops" });
        expect(await storage.notices.configReport("acme", notice.key)).toEqual({ issueNumber: null });
      });

      it("leaves a filed notice alone", async () => {
        await storage.notices.save(notice, T0);
        await storage.notices.saveConfigReport("acme", notice.key, 5, T0 + 1);
        expect(await storage.notices.pending()).toEqual([]);
        await storage.notices.save({ ...notice, body: "new text" }, T0 + 2);
        expect(await storage.notices.pending()).toEqual([]);
        expect(await storage.notices.configReport("acme", notice.key)).toEqual({ issueNumber: 5 });
      });

      it("keeps retrying a notice that failed, and stops once it is dropped (its key stays known)", async () => {
        await storage.notices.save(notice, T0);
        await storage.notices.save({ ...notice, key: "gap:2" }, T0 + 1);
        await storage.notices.markError("acme", notice.key, "404 Not Found");
        expect((await storage.notices.pending()).map((n) => n.key).sort()).toEqual([notice.key, "gap:2"]);
        await storage.notices.drop("acme", notice.key);
        expect((await storage.notices.pending()).map((n) => n.key)).toEqual(["gap:2"]);
        expect(await storage.notices.configReport("acme", notice.key)).toEqual({ issueNumber: null });
        // Errors and drops of unknown notices create nothing.
        await storage.notices.markError("acme", "unknown", "x");
        await storage.notices.drop("acme", "unknown");
        expect(await storage.notices.configReport("acme", "unknown")).toBeUndefined();
      });
    });

    describe("cursors", () => {
      it("round-trips the audit-log position of each org, written whole", async () => {
        expect(await storage.cursors.auditLog("acme")).toBeUndefined();
        const pos: AuditLogPosition = {
          org: "acme",
          installationId: 42,
          createdAt: T0,
          boundaryIds: ["doc-1", "doc:2", "döc 3"],
          lastSuccessAt: T0 + 1,
          unavailableAt: null,
          unavailableReason: null,
          gapNotice: "gap:1",
        };
        await storage.cursors.saveAuditLog(pos, T0);
        expect(await storage.cursors.auditLog("acme")).toEqual(pos);
        const unavailable: AuditLogPosition = {
          org: "acme",
          installationId: null,
          createdAt: null,
          boundaryIds: [],
          lastSuccessAt: null,
          unavailableAt: T0 + HOUR,
          unavailableReason: "no audit log on this plan",
          gapNotice: null,
        };
        await storage.cursors.saveAuditLog(unavailable, T0 + HOUR);
        expect(await storage.cursors.auditLog("acme")).toEqual(unavailable);
        expect(await storage.cursors.auditLog("globex")).toBeUndefined();
      });
    });

    describe("sweeps", () => {
      it("round-trips a sweep's own state per key", async () => {
        expect(await storage.sweeps.state("inventory:acme")).toBeUndefined();
        const value = { cursor: "abc", seen: [1, 2], nested: { ok: true, none: null }, text: "ünï ✓" };
        await storage.sweeps.saveState("inventory:acme", value, T0);
        await storage.sweeps.saveState("org_settings:acme", 3, T0);
        expect(await storage.sweeps.state<typeof value>("inventory:acme")).toEqual(value);
        await storage.sweeps.saveState("inventory:acme", [], T0 + 1);
        expect(await storage.sweeps.state("inventory:acme")).toEqual([]);
        expect(await storage.sweeps.state("org_settings:acme")).toBe(3);
      });

      it("keeps every repository ever listed, marks the missing gone and brings back those that return", async () => {
        const api = { id: 1, nodeId: "R_1", fullName: "acme/api", visibility: "private" as const };
        const web = { id: 2, nodeId: null, fullName: "acme/web", visibility: null };
        expect(await storage.sweeps.inventory("acme")).toEqual([]);
        await storage.sweeps.saveInventory("acme", [api, web], [], T0);
        await storage.sweeps.saveInventory("globex", [{ ...api, fullName: "globex/api" }], [], T0);
        const sorted = async (org: string) => (await storage.sweeps.inventory(org)).sort((a, b) => a.id - b.id);
        expect(await sorted("acme")).toEqual([
          { ...api, firstSeen: T0, lastSeen: T0, goneAt: null },
          { ...web, firstSeen: T0, lastSeen: T0, goneAt: null },
        ]);

        await storage.sweeps.saveInventory("acme", [{ ...api, fullName: "acme/api-renamed", visibility: "public" }], [2], T0 + DAY);
        expect(await sorted("acme")).toEqual([
          { ...api, fullName: "acme/api-renamed", visibility: "public", firstSeen: T0, lastSeen: T0 + DAY, goneAt: null },
          { ...web, firstSeen: T0, lastSeen: T0, goneAt: T0 + DAY },
        ]);
        // Missing again: it stays gone since the first sweep that missed it.
        await storage.sweeps.saveInventory("acme", [], [2], T0 + 2 * DAY);
        expect((await sorted("acme"))[1]).toMatchObject({ goneAt: T0 + DAY });

        await storage.sweeps.saveInventory("acme", [web], [], T0 + 3 * DAY);
        expect((await sorted("acme"))[1]).toEqual({ ...web, firstSeen: T0, lastSeen: T0 + 3 * DAY, goneAt: null });
        expect(await sorted("globex")).toEqual([{ ...api, fullName: "globex/api", firstSeen: T0, lastSeen: T0, goneAt: null }]);
      });
    });

    describe("unit of work", () => {
      it("commits everything it did at once, and answers what its function answered", async () => {
        const e = event();
        const answer = await storage.unitOfWork(async (tx) => {
          await tx.events.add([e]);
          // Its own writes are visible to its next call.
          expect(await tx.events.has(e.id)).toBe(true);
          await tx.sweeps.saveState("k", { v: 1 }, T0);
          expect(await tx.sweeps.state("k")).toEqual({ v: 1 });
          const f = await tx.findings.record("org:acme", "personal-fork", draft(e), e, null, T0);
          expect(await tx.findings.getById(f.finding.id)).toEqual(f.finding);
          await tx.cursors.saveAuditLog({ org: "acme", installationId: 42, createdAt: T0, boundaryIds: ["x"], lastSuccessAt: T0, unavailableAt: null, unavailableReason: null, gapNotice: null }, T0);
          return f.finding.id;
        });
        expect(await storage.events.has(e.id)).toBe(true);
        expect(await storage.sweeps.state("k")).toEqual({ v: 1 });
        expect((await storage.findings.getById(answer))?.count).toBe(1);
        expect((await storage.cursors.auditLog("acme"))?.boundaryIds).toEqual(["x"]);
      });

      it("runs onRollback when it is undone, before the next unit of work starts, and never when it commits", async () => {
        const log: string[] = [];
        await storage.unitOfWork(async (tx) => void (await tx.sweeps.saveState("ok", 1, T0)), { onRollback: () => log.push("committed unit") });
        const failing = storage.unitOfWork(
          async (tx) => {
            // A step that completed is undone with the unit around it: its hook runs too.
            await tx.unitOfWork(async (step) => void (await step.sweeps.saveState("step", 1, T0)), { onRollback: () => log.push("step") });
            await sleep(5);
            throw new Error("boom");
          },
          { onRollback: () => log.push("unit") },
        );
        const next = storage.unitOfWork(async () => void log.push("next unit starts"));
        await expect(failing).rejects.toThrow("boom");
        await next;
        expect(log).toEqual(["unit", "step", "next unit starts"]);
        expect(await storage.sweeps.state("step")).toBeUndefined();
        // A failing step undoes only itself and runs only its own hook.
        const steps: string[] = [];
        await storage.unitOfWork(async (tx) => {
          await expect(
            tx.unitOfWork(async () => Promise.reject(new Error("step failed")), { onRollback: () => steps.push("failed step") }),
          ).rejects.toThrow("step failed");
        }, { onRollback: () => steps.push("unit") });
        expect(steps).toEqual(["failed step"]);
      });

      it("writes nothing when its function throws, and passes the error on", async () => {
        const e = event();
        const boom = new Error("boom");
        await storage.events.add([event()]);
        const failed = storage.unitOfWork(async (tx) => {
          await tx.events.add([e]);
          await tx.deliveries.record(delivery("d-1"));
          await tx.findings.record("org:acme", "personal-fork", draft(e), e, null, T0);
          await tx.state.write([{ scope: "org:acme", detector: "d", key: "k", value: 1, expiresAt: T0 }]);
          await tx.directory.setMember("acme", "mallory", true, T0, T0);
          await tx.notices.saveGoodConfig("acme", "{}", T0);
          await sleep(5);
          await tx.sweeps.saveInventory("acme", [{ id: 1, nodeId: null, fullName: "acme/api", visibility: null }], [], T0);
          throw boom;
        });
        await expect(failed).rejects.toBe(boom);
        expect(await storage.events.has(e.id)).toBe(false);
        expect(await storage.events.count()).toBe(1);
        expect(await storage.deliveries.bodySha256("d-1")).toBeUndefined();
        expect(await storage.findings.list()).toEqual([]);
        expect(await storage.state.loadScope("org:acme")).toEqual([]);
        expect(await storage.directory.member("acme", "mallory")).toBeUndefined();
        expect(await storage.notices.goodConfig("acme")).toBeUndefined();
        expect(await storage.sweeps.inventory("acme")).toEqual([]);
        // The same writes succeed afterwards: nothing of the failed unit lingers.
        expect(await storage.deliveries.record(delivery("d-1"))).toBe(true);
        expect(await storage.events.add([e])).toEqual([true]);
      });

      it("makes calls through the outer storage wait for an open unit, so they see what it committed", async () => {
        const order: string[] = [];
        const started = signal();
        const unit = storage.unitOfWork(async (tx) => {
          await tx.sweeps.saveState("counter", 1, T0);
          started.fire();
          await sleep(20);
          await tx.sweeps.saveState("counter", 2, T0);
          await tx.events.add([event()]);
          order.push("unit done");
        });
        await started.promise;
        const reads = Promise.all([storage.sweeps.state("counter"), storage.events.count()]).then((r) => {
          order.push("outer read");
          return r;
        });
        await unit;
        expect(await reads).toEqual([2, 1]);
        expect(order).toEqual(["unit done", "outer read"]);
      });

      it("does not roll back an outer call's write with a unit that fails while the call waits", async () => {
        const started = signal();
        const unit = storage.unitOfWork(async (tx) => {
          await tx.deliveries.record(delivery("inside"));
          started.fire();
          await sleep(20);
          throw new Error("unit fails");
        });
        await started.promise;
        const outside = storage.deliveries.record(delivery("outside"));
        const outsideState = storage.sweeps.saveState("outside", true, T0);
        await expect(unit).rejects.toThrow("unit fails");
        expect(await outside).toBe(true);
        await outsideState;
        expect(await storage.deliveries.bodySha256("outside")).toBeNull();
        expect(await storage.sweeps.state("outside")).toBe(true);
        expect(await storage.deliveries.bodySha256("inside")).toBeUndefined();
      });

      it("runs units started together one after the other, never interleaved", async () => {
        const bump = () =>
          storage.unitOfWork(async (tx) => {
            const n = (await tx.sweeps.state<number>("counter")) ?? 0;
            await sleep(20);
            await tx.sweeps.saveState("counter", n + 1, T0);
            return n;
          });
        const seen = await Promise.all([bump(), bump(), bump()]);
        expect(seen.sort()).toEqual([0, 1, 2]);
        expect(await storage.sweeps.state("counter")).toBe(3);
      });

      it("runs the next unit after one that failed", async () => {
        const failed = storage.unitOfWork(async (tx) => {
          await tx.sweeps.saveState("k", "failed", T0);
          await sleep(10);
          throw new Error("first fails");
        });
        const next = storage.unitOfWork(async (tx) => {
          const before = await tx.sweeps.state("k");
          await tx.sweeps.saveState("k", "next", T0);
          return before;
        });
        await expect(failed).rejects.toThrow("first fails");
        expect(await next).toBeUndefined();
        expect(await storage.sweeps.state("k")).toBe("next");
      });

      it("undoes only a nested step that throws; the unit commits the rest", async () => {
        const a = event();
        const b = event();
        const c = event();
        const stepError = new Error("step fails");
        await storage.unitOfWork(async (tx) => {
          await tx.events.add([a]);
          const kept = await tx.unitOfWork(async (step) => {
            await step.events.add([b]);
            return "kept";
          });
          expect(kept).toBe("kept");
          await expect(
            tx.unitOfWork(async (step) => {
              await step.events.add([c]);
              await step.sweeps.saveState("step", 1, T0);
              await sleep(5);
              expect(await step.events.has(c.id)).toBe(true);
              throw stepError;
            }),
          ).rejects.toBe(stepError);
          expect(await tx.events.has(c.id)).toBe(false);
          expect(await tx.sweeps.state("step")).toBeUndefined();
          await tx.sweeps.saveState("after", 1, T0);
        });
        expect(await storage.events.has(a.id)).toBe(true);
        expect(await storage.events.has(b.id)).toBe(true);
        expect(await storage.events.has(c.id)).toBe(false);
        expect(await storage.sweeps.state("step")).toBeUndefined();
        expect(await storage.sweeps.state("after")).toBe(1);
        // The failed step's id is free again.
        expect(await storage.events.add([c])).toEqual([true]);
      });

      it("undoes nested steps that succeeded when the unit itself throws", async () => {
        const e = event();
        await expect(
          storage.unitOfWork(async (tx) => {
            await tx.unitOfWork(async (step) => {
              await step.events.add([e]);
            });
            throw new Error("unit fails");
          }),
        ).rejects.toThrow("unit fails");
        expect(await storage.events.has(e.id)).toBe(false);
      });

      it("nests steps inside steps", async () => {
        await storage.unitOfWork(async (tx) => {
          await tx.unitOfWork(async (outer) => {
            await outer.sweeps.saveState("outer", 1, T0);
            await expect(
              outer.unitOfWork(async (inner) => {
                await inner.sweeps.saveState("inner", 1, T0);
                throw new Error("inner fails");
              }),
            ).rejects.toThrow("inner fails");
            await outer.unitOfWork(async (inner) => {
              await inner.sweeps.saveState("inner2", 1, T0);
            });
          });
        });
        expect(await storage.sweeps.state("outer")).toBe(1);
        expect(await storage.sweeps.state("inner")).toBeUndefined();
        expect(await storage.sweeps.state("inner2")).toBe(1);
      });

      it("undoes only the failing one of nested steps started together, and keeps the unit's own calls", async () => {
        const [a, b, c] = [event(), event(), event()];
        const settled = await storage.unitOfWork((tx) =>
          Promise.allSettled([
            tx.unitOfWork(async (step) => {
              await step.events.add([a]);
              await sleep(10);
              throw new Error("step a fails");
            }),
            tx.unitOfWork(async (step) => {
              await step.events.add([b]);
              await sleep(5);
              return "b";
            }),
            // A call of the unit itself made while a step is open is not part of that step.
            sleep(1).then(() => tx.events.add([c])),
          ]),
        );
        expect(settled.map((s) => s.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
        expect(await storage.events.has(a.id)).toBe(false);
        expect(await storage.events.has(b.id)).toBe(true);
        expect(await storage.events.has(c.id)).toBe(true);
      });

      it("answers insert-if-absent true exactly once per id when calls race inside a unit", async () => {
        const e = event();
        const answers = await storage.unitOfWork((tx) =>
          Promise.all([
            tx.deliveries.record(delivery("d")),
            tx.deliveries.record(delivery("d")),
            tx.events.add([e]),
            tx.events.add([e]),
            tx.events.markSeen([e]),
            tx.events.markSeen([e]),
          ]),
        );
        const [d1, d2, add1, add2, seen1, seen2] = answers;
        expect([d1, d2].filter(Boolean)).toHaveLength(1);
        expect([...add1, ...add2].filter(Boolean)).toHaveLength(1);
        expect([...seen1, ...seen2].filter(Boolean)).toHaveLength(1);
      });

      it("answers ping, also inside a unit", async () => {
        await expect(storage.ping()).resolves.toBeUndefined();
        await storage.unitOfWork(async (tx) => {
          await expect(tx.ping()).resolves.toBeUndefined();
        });
      });
    });

    describe("lifecycle", () => {
      it("names its backend", () => {
        expect(storage.backend).toMatch(/^[a-z]+$/);
      });

      it("does housekeeping without losing anything", async () => {
        const e = event();
        await storage.events.add([e]);
        await storage.maintain();
        expect(await storage.events.pending(10)).toEqual([e]);
      });

      it("closes", async () => {
        await storage.sweeps.saveState("k", 1, T0);
        await expect(storage.close()).resolves.toBeUndefined();
      });
    });
  });
}
