// Files each finding as ONE issue in the org's private alerts repository and adds new evidence as comments.
// Nothing is lost: a finding stays pending in the storage until GitHub has confirmed its issue or comment, so
// an outage, a missing repository or a rate limit only delays it to a later flush. A crash between "GitHub
// created the issue" and "the storage recorded it" is recovered by finding the issue's hidden marker instead
// of filing a duplicate. The same path files notices (config errors and changes, operational problems), once
// each, in dry-run mode too. Filing never changes a finding's severity: the engine and the actor check
// (pipeline/actors.ts) settle it, and the dispatcher files what they recorded.
import type { Config } from "../config/schema.js";
import { detectorById } from "../detectors/index.js";
import { SEVERITIES, atLeast } from "../domain/severity.js";
import { httpFailure, isRateLimited, type HttpFailure } from "../github/limiter.js";
import type { FindingRow, Notice as StoredNotice, Storage } from "../store/storage.js";
import type { OctokitLike } from "../github/octokit.js";
import type { Logger } from "../log.js";
import { inert, inertTitle, showInvisible } from "../text/inert.js";
import { fingerprintMarker, noticeLabels, renderComment, renderIssue, renderNotice, shownSeq } from "./render.js";

export type AlertLogger = Logger;

export interface FlushResult {
  /** Issues created (or found after an interrupted attempt) in this run. */
  filed: number;
  commented: number;
  /** Findings that had work to do and are still waiting (errors, missing repository, rate limit). */
  pending: number;
  /** Findings logged by dry-run mode in this run. */
  dryRun: number;
}

export interface Notice {
  org: string;
  installationId: number;
  /** Deduplication key: one issue per (org, key), ever. Keys starting with `config:` are labelled config-error. */
  key: string;
  title: string;
  /** Admin or system markdown. */
  body: string;
  /** Quoted text (a config file), shown in a code fence it cannot break out of. */
  quote?: string;
  quoteLang?: string;
  /** File it in this repository of the org, not the `alerts.repo` in force (the one a config change replaced). */
  repo?: string;
}

export interface AlertDispatcherOptions {
  storage: Storage;
  log: AlertLogger;
  now?: () => number;
  octokitFor: (installationId: number) => Promise<OctokitLike>;
  configFor: (org: string, installationId: number) => Promise<Config>;
  /**
   * Pause between two writes. Issues and comments count as content creation (80 per minute); Probot's
   * throttling handles the hard limit, this only keeps a burst of findings from running into it.
   */
  writeSpacingMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Look for an interrupted filing's issue from a little before the attempt started (clock skew). */
const ADOPT_WINDOW_MS = 10 * 60 * 1000;
const ADOPT_MAX_PAGES = 5;

type QueueItem = Awaited<ReturnType<Storage["findings"]["alertQueue"]>>[number];
type PendingNotice = StoredNotice;

/** A failure that makes every further write to this org fail too: stop the org's run, keep the rest pending. */
class OrgStopped extends Error {}

function stopsOrg(f: HttpFailure): boolean {
  return isRateLimited(f) || f.status === 401 || f.status === 403 || f.status === 404 || f.status === 410;
}

function failureMessage(f: HttpFailure, target: string): string {
  if (isRateLimited(f)) return `GitHub rate limit reached while filing in ${target}; the rest waits for a later run`;
  switch (f.status) {
    case 401:
      return `GitHub did not accept the installation token for ${target}; check the app's credentials`;
    case 403:
      return `GitHub refused to write to ${target} (403): grant the app the "Issues: write" permission and accept it in the org`;
    case 404:
      return `${target} is not reachable by the app (404): install the app on that repository and grant "Issues: write"`;
    case 410:
      return `Issues are turned off in ${target}: turn them on in the repository's settings (Features → Issues)`;
    default:
      return `GitHub answered ${f.status ?? "nothing"} for ${target}: ${f.message}`;
  }
}

/** Octokit throws on non-2xx; a hand-made client may return the status. Both end up thrown. */
async function send(
  octokit: OctokitLike,
  route: string,
  params: Record<string, unknown>,
): Promise<Awaited<ReturnType<OctokitLike["request"]>>> {
  const res = await octokit.request(route, params);
  if (res.status >= 400) {
    throw Object.assign(new Error(`${route} answered ${res.status}`), { status: res.status, response: { headers: res.headers } });
  }
  return res;
}

export class AlertDispatcher {
  private readonly storage: Storage;
  private readonly log: AlertLogger;
  private readonly now: () => number;
  private readonly octokitFor: AlertDispatcherOptions["octokitFor"];
  private readonly configFor: AlertDispatcherOptions["configFor"];
  private readonly writeSpacingMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  private current: Promise<FlushResult> | null = null;
  private next: Promise<FlushResult> | null = null;
  /** Serializes flush runs and direct notice filing, so one notice or finding is never filed twice at once. */
  private lock: Promise<unknown> = Promise.resolve();
  private wroteInRun = false;
  /** True while a run holds the lock (see reportNotice). */
  private busy = false;
  /** Last problem logged per org (missing or public repository): repeated runs log it at debug only. */
  private readonly orgProblems = new Map<string, string>();

  constructor(opts: AlertDispatcherOptions) {
    this.storage = opts.storage;
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.octokitFor = opts.octokitFor;
    this.configFor = opts.configFor;
    this.writeSpacingMs = opts.writeSpacingMs ?? 1_000;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Files what is pending. One run at a time: a call during a run schedules exactly one more run after it
   * (calls during that wait share it), so work recorded meanwhile is never left behind. Never throws.
   */
  flush(): Promise<FlushResult> {
    // `next` first: between a run's end and the start of the scheduled one, `current` is briefly null.
    if (this.next) return this.next;
    if (!this.current) return this.start();
    if (!this.next) {
      this.next = this.current.then(() => {
        this.next = null;
        return this.start();
      });
    }
    return this.next;
  }

  /** Resolves when no run and no notice filing is under way or scheduled (tests, graceful shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = this.next ?? this.current;
      if (pending) {
        await pending;
        continue;
      }
      const lock = this.lock;
      await lock;
      if (lock === this.lock && !this.current && !this.next) return;
    }
  }

  private start(): Promise<FlushResult> {
    const run: Promise<FlushResult> = this.exclusive(() => this.runOnce()).finally(() => {
      if (this.current === run) this.current = null;
    });
    this.current = run;
    return run;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      this.busy = true;
      try {
        return await fn();
      } finally {
        this.busy = false;
      }
    });
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Files a notice once per (org, key). The notice is stored before the first await, so a caller that does
   * not await this can count on it: the config service saves a new version as the last good one right after,
   * and with the SQLite storage a repository call outside a unit of work takes effect when it is made (while
   * one is open, it waits behind it in call order, still ahead of that save). One that cannot be filed now
   * (no alerts repository yet, GitHub down) is retried by later flushes. Never throws.
   */
  async reportNotice(notice: Notice): Promise<void> {
    try {
      const rendered = renderNotice(notice);
      // Saving leaves a notice already filed for this org and key alone, so it needs no check before it.
      await this.storage.notices.save(
        {
          org: notice.org,
          key: notice.key,
          installationId: notice.installationId,
          title: rendered.title,
          body: rendered.body,
          repo: notice.repo ?? null,
        },
        this.now(),
      );
      if ((await this.storage.notices.configReport(notice.org, notice.key))?.issueNumber != null) return;
      if (this.busy) {
        // Called from inside a run (configFor reporting a config error while the run waits for it):
        // waiting for the lock would deadlock. The notice is stored; the run scheduled here files it.
        void this.flush();
        return;
      }
      await this.exclusive(async () => {
        this.wroteInRun = false;
        const notices = (await this.storage.notices.pending()).filter((n) => n.org === notice.org);
        const result: FlushResult = { filed: 0, commented: 0, pending: 0, dryRun: 0 };
        await this.runOrg(notice.org, notice.installationId, [], notices, result, new Map());
      });
    } catch (err) {
      this.log.error({ err, org: notice.org, key: notice.key }, "could not file a notice; it is kept and retried");
    }
  }

  private async runOnce(): Promise<FlushResult> {
    const result: FlushResult = { filed: 0, commented: 0, pending: 0, dryRun: 0 };
    this.wroteInRun = false;
    const configs = new Map<string, Promise<Config | null>>();
    try {
      await this.releaseHeld(configs);
      const groups = new Map<string, { org: string; installationId: number; items: QueueItem[]; notices: PendingNotice[] }>();
      const group = (org: string, installationId: number) => {
        const k = org.toLowerCase();
        let g = groups.get(k);
        if (!g) groups.set(k, (g = { org, installationId, items: [], notices: [] }));
        return g;
      };
      for (const item of await this.storage.findings.alertQueue()) {
        // The query leaves out findings without org or installation (offline ones); checked again for types.
        if (item.finding.org === null || item.finding.installationId === null) continue;
        group(item.finding.org, item.finding.installationId).items.push(item);
      }
      for (const n of await this.storage.notices.pending()) group(n.org, n.installationId).notices.push(n);
      for (const g of groups.values()) {
        try {
          await this.runOrg(g.org, g.installationId, g.items, g.notices, result, configs);
        } catch (err) {
          // Unexpected (a storage error, a bug): the org's work stays pending, the other orgs still run.
          this.log.error({ err, org: g.org }, "alert filing failed for this org; its findings stay pending");
        }
      }
    } catch (err) {
      this.log.error({ err }, "alert flush failed; pending findings are retried on the next flush");
    }
    return result;
  }

  private config(org: string, installationId: number, memo: Map<string, Promise<Config | null>>): Promise<Config | null> {
    const k = org.toLowerCase();
    let p = memo.get(k);
    if (!p) {
      p = this.configFor(org, installationId).catch((err: unknown) => {
        this.log.error(
          { err, org },
          `could not read the exfil-monitor config of ${org}; its alerts stay pending until .github/exfil-monitor.yml in ${org}/.github can be read`,
        );
        return null;
      });
      memo.set(k, p);
    }
    return p;
  }

  /**
   * Findings held below `alerts.min_severity` go back in the queue once their severity reaches it: the
   * threshold was lowered, or the actor check raised them.
   */
  private async releaseHeld(memo: Map<string, Promise<Config | null>>): Promise<void> {
    for (const { org, installationId } of await this.storage.findings.heldOrgs()) {
      const config = await this.config(org, installationId, memo);
      if (!config) continue;
      const min = config.alerts.min_severity;
      const released = await this.storage.findings.releaseHeld(org, SEVERITIES.filter((s) => atLeast(s, min)));
      if (released > 0) this.log.info({ org, released, minSeverity: min }, "findings now at or above alerts.min_severity will be filed");
    }
  }

  private async runOrg(
    org: string,
    installationId: number,
    items: QueueItem[],
    notices: PendingNotice[],
    result: FlushResult,
    memo: Map<string, Promise<Config | null>>,
  ): Promise<void> {
    const config = await this.config(org, installationId, memo);
    if (!config) {
      result.pending += items.length;
      return;
    }
    const min = config.alerts.min_severity;
    const work: QueueItem[] = [];
    for (const item of items) {
      const f = item.finding;
      // Only a finding without an issue is held back: once filed, its issue keeps getting its evidence. A
      // finding raised later (the actor check) is released by the next run's releaseHeld.
      if (f.issueNumber === null && !atLeast(f.severity, min)) {
        await this.storage.findings.hold(f.id, item.maxSeq);
        this.log.debug({ org, finding: f.fingerprint, severity: f.severity, minSeverity: min }, "below alerts.min_severity; not filed");
        continue;
      }
      work.push(item);
    }
    if (config.mode === "dry-run") {
      // Dry-run silences findings, never the app's own notices (config changes and errors, audit log not
      // available, polling gaps): those say how well the org is watched, and dry-run is one of the things
      // they must be able to report.
      await this.dryRun(org, config, work, result);
      work.length = 0;
    }
    if (work.length === 0 && notices.length === 0) return;

    let octokit: OctokitLike;
    try {
      octokit = await this.octokitFor(installationId);
    } catch (err) {
      this.log.error({ err, org, installationId }, `could not act as installation ${installationId} of ${org} (was the app uninstalled?); alerts stay pending`);
      result.pending += work.length;
      return;
    }
    const repo = config.alerts.repo;
    const target = `${org}/${repo}`;
    // A notice that names its repository (the one a config change moved the alerts away from) goes there.
    const elsewhere = new Map<string, PendingNotice[]>();
    const here: PendingNotice[] = [];
    for (const n of notices) {
      if (n.repo === null || n.repo.toLowerCase() === repo.toLowerCase()) here.push(n);
      else elsewhere.set(n.repo.toLowerCase(), [...(elsewhere.get(n.repo.toLowerCase()) ?? []), n]);
    }
    for (const group of elsewhere.values()) await this.fileNoticesIn(octokit, org, group[0]!.repo!, group);
    notices = here;
    if (work.length === 0 && notices.length === 0) return;
    if ((await this.alertsRepoUsable(octokit, org, repo, work.length + notices.length)) !== "usable") {
      result.pending += work.length;
      return;
    }

    let index = 0;
    try {
      for (; index < work.length; index++) {
        const item = work[index]!;
        try {
          const done = await this.handleFinding(octokit, org, repo, item, config);
          if (done === "filed") result.filed += 1;
          else if (done === "commented") result.commented += 1;
        } catch (err) {
          const f = httpFailure(err);
          const message = failureMessage(f, target);
          await this.storage.findings.markFilingError(item.finding.id, message);
          result.pending += 1;
          if (stopsOrg(f)) throw new OrgStopped(message, { cause: err });
          this.log.error({ err, org, finding: item.finding.fingerprint }, `${message}; the finding stays pending and is retried on the next flush`);
        }
      }
      for (const n of notices) {
        try {
          await this.fileNotice(octokit, org, repo, n);
        } catch (err) {
          const f = httpFailure(err);
          const message = failureMessage(f, target);
          await this.storage.notices.markError(n.org, n.key, message);
          if (stopsOrg(f)) throw new OrgStopped(message, { cause: err });
          this.log.error({ err, org, key: n.key }, `${message}; the notice is kept and retried on the next flush`);
        }
      }
    } catch (err) {
      if (!(err instanceof OrgStopped)) throw err;
      const left = Math.max(0, work.length - index - 1);
      result.pending += left;
      this.log.warn({ err: err.cause, org, left }, `${err.message}; stopped filing for ${org} in this run, everything not filed stays pending`);
    }
  }

  /**
   * Files notices in a repository other than the `alerts.repo` in force (the one a config change replaced),
   * once it is checked to be private. A repository that does not exist (any more) has nobody reading it: its
   * notices are dropped rather than retried for ever; the copy in the repository in force remains.
   */
  private async fileNoticesIn(octokit: OctokitLike, org: string, repo: string, notices: PendingNotice[]): Promise<void> {
    const state = await this.alertsRepoUsable(octokit, org, repo, notices.length);
    if (state === "missing") {
      for (const n of notices) await this.storage.notices.drop(n.org, n.key);
      this.log.warn({ org, repo: `${org}/${repo}`, keys: notices.map((n) => n.key) }, "notice for a former alerts repository dropped: that repository does not exist");
    }
    if (state !== "usable") return;
    for (const n of notices) {
      try {
        await this.fileNotice(octokit, org, repo, n);
      } catch (err) {
        const message = failureMessage(httpFailure(err), `${org}/${repo}`);
        await this.storage.notices.markError(n.org, n.key, message);
        this.log.error({ err, org, key: n.key }, `${message}; the notice is kept and retried on the next flush`);
      }
    }
  }

  private async dryRun(org: string, config: Config, work: QueueItem[], result: FlushResult): Promise<void> {
    const target = `${org}/${config.alerts.repo}`;
    for (const item of work) {
      if (item.dryRunSeq >= item.maxSeq) continue;
      const f = item.finding;
      const detector = detectorById(f.detector);
      if (f.issueNumber === null && item.dryRunSeq === 0) {
        const { title, labels } = renderIssue({ finding: f, evidence: await this.storage.findings.evidence(f.id), detector, config });
        this.log.info(
          { org, finding: f.fingerprint, repo: target, title, labels },
          "dry-run: would file this issue (mode: dry-run in .github/exfil-monitor.yml)",
        );
      } else {
        const newRows = (await this.storage.findings.evidence(f.id, Math.max(item.dryRunSeq, f.filedSeq))).length;
        this.log.info(
          { org, finding: f.fingerprint, repo: target, issue: f.issueNumber, newEvidence: newRows, severity: f.severity },
          "dry-run: would comment with new evidence (mode: dry-run in .github/exfil-monitor.yml)",
        );
      }
      await this.storage.findings.markDryRunLogged(f.id, item.maxSeq);
      result.dryRun += 1;
    }
  }

  /**
   * GET the alerts repository once per org and run. Missing: say how to fix it. Not private: refuse, because
   * filing there would publish the alert (and anyone who can read it, the insider included, would see it).
   */
  private async alertsRepoUsable(octokit: OctokitLike, org: string, repo: string, waiting: number): Promise<"usable" | "missing" | "unusable"> {
    const target = `${org}/${repo}`;
    let data: unknown;
    try {
      data = (await send(octokit, "GET /repos/{owner}/{repo}", { owner: org, repo })).data;
    } catch (err) {
      const f = httpFailure(err);
      if (f.status === 404) {
        this.problem(
          org,
          "missing",
          "warn",
          { org, repo: target, waiting },
          `alerts repository ${target} not found: create it as a PRIVATE repository and install the app on it, or set alerts.repo in .github/exfil-monitor.yml of ${org}/.github; ${waiting} alert(s) stay pending and are filed once it exists`,
        );
        return "missing";
      }
      this.log.error({ err, org, repo: target, waiting }, `${failureMessage(f, target)}; alerts stay pending`);
      return "unusable";
    }
    const r = (typeof data === "object" && data !== null ? data : {}) as { private?: unknown; visibility?: unknown };
    if (r.private !== true || r.visibility === "public" || r.visibility === "internal") {
      const what = r.visibility === "internal" ? "internal (readable by every enterprise member)" : "not private";
      this.problem(
        org,
        `refused:${String(r.visibility)}`,
        "error",
        { org, repo: target, waiting },
        `REFUSED to file alerts in ${target}: the repository is ${what}, so filing would publish the alert. Make ${target} private, or set alerts.repo in .github/exfil-monitor.yml of ${org}/.github to a private repository; ${waiting} alert(s) stay pending`,
      );
      return "unusable";
    }
    this.orgProblems.delete(org.toLowerCase());
    return "usable";
  }

  private problem(org: string, kind: string, level: "warn" | "error", obj: object, msg: string): void {
    const k = org.toLowerCase();
    const repeated = this.orgProblems.get(k) === kind;
    this.orgProblems.set(k, kind);
    if (repeated) this.log.debug(obj, msg);
    else this.log[level](obj, msg);
  }

  private async paced<T>(fn: () => Promise<T>): Promise<T> {
    if (this.wroteInRun && this.writeSpacingMs > 0) await this.sleep(this.writeSpacingMs);
    this.wroteInRun = true;
    return fn();
  }

  private async handleFinding(
    octokit: OctokitLike,
    org: string,
    repo: string,
    item: QueueItem,
    config: Config,
  ): Promise<"filed" | "commented" | "nothing"> {
    const f = item.finding;
    const target = `${org}/${repo}`;
    const detector = detectorById(f.detector);
    const sameRepo = f.issueNumber !== null && f.issueRepo !== null && f.issueRepo.toLowerCase() === target.toLowerCase();
    let lost: string | null = null;
    if (f.issueNumber !== null && sameRepo) {
      const rows = await this.storage.findings.evidence(f.id, f.filedSeq);
      if (rows.length === 0) return "nothing";
      const seq = rows.reduce((m, r) => Math.max(m, r.seq), 0);
      try {
        await this.paced(() =>
          send(octokit, "POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
            owner: org,
            repo,
            issue_number: f.issueNumber,
            body: renderComment({ finding: f, evidence: rows, detector }),
          }),
        );
        await this.storage.findings.markCommented(f.id, seq);
        this.log.info({ org, finding: f.fingerprint, issue: `${target}#${f.issueNumber}`, rows: rows.length }, "new evidence added to the alert issue");
        return "commented";
      } catch (err) {
        // The repository answered a moment ago, so a 404 here means the issue itself is gone (deleted), and
        // a plain 403 most often that it was locked: file the finding again rather than lose its evidence,
        // and rather than stop the org's run, which would hold every other alert back on every flush. A 403
        // that is really a missing permission fails the new issue too and stops the org there.
        const failure = httpFailure(err);
        if (failure.status !== 404 && (failure.status !== 403 || isRateLimited(failure))) throw err;
        lost = `${target}#${f.issueNumber}`;
        this.log.warn(
          { org, finding: f.fingerprint, issue: lost, status: failure.status },
          "cannot comment on the alert issue (deleted or locked?); filing the finding again with all its evidence",
        );
      }
    } else if (f.issueNumber !== null) {
      // alerts.repo changed: the old repository was not checked to be private in this run, so never write
      // there; the new one gets a complete issue.
      lost = `${f.issueRepo ?? "?"}#${f.issueNumber}`;
    }

    if (f.filingStartedAt !== null) {
      const found = await this.findInterrupted(octokit, org, repo, f);
      if (found) {
        await this.storage.findings.markFiled(f.id, target, found.number, found.seq);
        this.log.info({ org, finding: f.fingerprint, issue: `${target}#${found.number}` }, "found the issue of an interrupted filing; not filing it twice");
        return "filed";
      }
    }

    const evidence = await this.storage.findings.evidence(f.id);
    const seq = evidence.reduce((m, r) => Math.max(m, r.seq), 0);
    const rendered = renderIssue({ finding: f, evidence, detector, config });
    const body =
      lost === null
        ? rendered.body
        : `${rendered.body}\n\n_This finding was filed before as ${inert(lost)}, which exfil-monitor can no longer comment on (the issue is gone or locked, or \`alerts.repo\` changed); this issue carries all of its evidence._`;
    // Keep the first attempt's time: the search for an interrupted filing must cover every attempt.
    if (f.filingStartedAt === null) await this.storage.findings.markFilingStarted(f.id, this.now());
    const res = await this.paced(() =>
      send(octokit, "POST /repos/{owner}/{repo}/issues", { owner: org, repo, title: rendered.title, body, labels: rendered.labels }),
    );
    const number = (res.data as { number?: unknown } | null)?.number;
    if (typeof number !== "number") throw new Error(`GitHub created an issue in ${target} but its answer had no issue number`);
    await this.storage.findings.markFiled(f.id, target, number, seq);
    this.log.info({ org, finding: f.fingerprint, issue: `${target}#${number}`, severity: f.severity }, "alert filed");
    return "filed";
  }

  /** The issue an earlier, interrupted attempt may have created: same marker, filed by an app. */
  private async findInterrupted(
    octokit: OctokitLike,
    org: string,
    repo: string,
    f: FindingRow,
  ): Promise<{ number: number; seq: number } | null> {
    const marker = fingerprintMarker(f.fingerprint);
    const since = new Date((f.filingStartedAt ?? this.now()) - ADOPT_WINDOW_MS).toISOString();
    for (let page = 1; page <= ADOPT_MAX_PAGES; page++) {
      const res = await send(octokit, "GET /repos/{owner}/{repo}/issues", {
        owner: org,
        repo,
        labels: "exfil-monitor",
        state: "all",
        since,
        per_page: 100,
        ...(page > 1 ? { page } : {}),
      });
      const list: unknown[] = Array.isArray(res.data) ? (res.data as unknown[]) : [];
      for (const raw of list) {
        const issue = raw as { number?: unknown; body?: unknown; user?: { type?: unknown } | null; pull_request?: unknown };
        // Only an issue the app itself opened: someone with access to the repository could plant the marker.
        if (
          typeof issue.number === "number" &&
          typeof issue.body === "string" &&
          issue.body.includes(marker) &&
          issue.user?.type === "Bot" &&
          issue.pull_request === undefined
        ) {
          // Evidence newer than what the issue shows becomes a comment on the next flush; unknown means all.
          return { number: issue.number, seq: shownSeq(issue.body) ?? 0 };
        }
      }
      if (list.length < 100) break;
    }
    return null;
  }

  private async fileNotice(octokit: OctokitLike, org: string, repo: string, n: PendingNotice): Promise<void> {
    if ((await this.storage.notices.configReport(n.org, n.key))?.issueNumber != null) return;
    // Stored rendered; escaped again (a no-op on text rendered by this version) for rows an older one stored.
    const title = inertTitle(n.title);
    const body = showInvisible(n.body, { keepLines: true });
    const res = await this.paced(() =>
      send(octokit, "POST /repos/{owner}/{repo}/issues", { owner: org, repo, title, body, labels: noticeLabels(n.key) }),
    );
    const number = (res.data as { number?: unknown } | null)?.number;
    if (typeof number !== "number") throw new Error(`GitHub created a notice issue in ${org}/${repo} but its answer had no issue number`);
    await this.storage.notices.saveConfigReport(n.org, n.key, number, this.now());
    this.log.info({ org, key: n.key, issue: `${org}/${repo}#${number}` }, "notice filed");
  }
}
