// Compiles the config's allowlists into matchers once per config, not once per event, and finds the entries
// that would exempt (almost) everything: `*`, `**`, `*/*`, `?*`, `!name`, `acme/*`, `[a-z0-9]*` and every other
// spelling of "all". Such an entry is not a narrow exception but monitoring switched off, so the config loader
// refuses it as a config error. Rather than list the spellings, each entry is tried on sample values that
// have nothing in common, through the same matcher the engine uses.
import picomatch from "picomatch";
import type { Config } from "./schema.js";
import type { AllowLists } from "../detectors/types.js";

type AllowConfig = Config["allow"];

function matcher(globs: readonly string[]): (value: string) => boolean {
  if (globs.length === 0) return () => false;
  return picomatch([...globs], { nocase: true, dot: true });
}

export function compileAllowLists(config: Config): AllowLists {
  return compileAllow(config.allow);
}

function compileAllow(allow: AllowConfig): AllowLists {
  const actors = matcher(allow.actors);
  const repos = matcher(allow.repos);
  const forkOwners = matcher(allow.fork_owners);
  const hosts = matcher(allow.webhook_hosts);
  return {
    actor: (login) => login !== null && actors(login),
    repo: (fullName) => {
      if (fullName === null) return false;
      const bare = fullName.slice(fullName.indexOf("/") + 1);
      return repos(fullName) || repos(bare);
    },
    forkOwner: (login) => forkOwners(login),
    webhookHost: (url) => {
      try {
        return hosts(new URL(url).hostname);
      } catch {
        // Not a URL at all: never allowlisted, so the detector reports it.
        return false;
      }
    },
  };
}

/** Logins of every shape GitHub allows: short, long, digits first, hyphens, bots. Fixed, never random. */
const SAMPLE_LOGINS = [
  "a", "Z", "7", "q7x", "jd", "n0", "mallory", "ghost", "x-y", "Zz-top-9", "k3vin-o", "r2-d2", "0x0",
  "octo-cat-42", "u1u2u3u4u5", "ci-runner", "WEIRDCASE", "dependabot[bot]", "renovate[bot]",
  "a-very-long-login-name-of-39-characters",
];
const SAMPLE_REPO_NAMES = [
  "api", "Hello-World", ".github", "x", "q7x", "payments-service", "infra_tf", "a.b", "7", "docs", "secret-sauce",
  "very-long-repository-name-2026", "Z", "mono", "k8s.deploy", "web_app-v2", "-", "_", "billing", "ios",
];
// Owner of the sample repositories besides the org: catches entries broad under any owner (`*/*`, `**`),
// and is the only one when the org is not known (the CLI), where `acme/*` then goes unnoticed.
const SAMPLE_OWNER = "octo-org";
const SAMPLE_HOSTS = [
  "hooks.slack.com", "example.org", "203.0.113.7", "a.b.c.d.e", "localhost", "x", "evil-hooks.io", "webhook.site",
  "smee.io", "10.0.0.1", "ci.internal.acme.net", "q7x.dev", "xn--bcher-kva.example", "z9", "hooks.zapier.com",
  "metrics.acme.co.uk", "1.2.3.4", "attacker.test", "pipedream.net", "[2001:db8::1]",
];

/** Characters that make an entry a pattern for picomatch rather than one literal value. */
const GLOB_SYNTAX = /[*?[\]{}()!+@\\|]/;

/**
 * `*`, `{` and `(` an allowlist entry may hold in all. Each multiplies the time a match can take, because
 * picomatch's regular expressions backtrack: `*a*a*a*a*b` takes seconds on a 255-character host name and
 * twenty `{a,aa}` take seconds on a 40-character login. Two are enough for any real entry (`*-ci-*`, `acme/**`).
 */
export const MAX_GLOB_OPERATORS = 2;

/**
 * Patterns (entries with glob characters) per allowlist. Every event is matched against every pattern of a
 * list; a real list holds a handful. Plain names are not counted: each costs one quick comparison.
 */
export const MAX_PATTERNS_PER_LIST = 50;

export interface AllowEntryProblem {
  /** The allowlist (`actors`, `repos`, ...) and the entry's place in it. */
  list: keyof AllowConfig;
  index: number;
  entry: string;
  message: string;
}

/**
 * Allowlist entries the loader must refuse: too complex to match in bounded time, or so broad that they
 * match at least half of a set of sample values sharing nothing (a narrow entry like `deploy-bot`,
 * `acme-ci-*` or `*[bot]` matches none or a few). Repositories are tried as `<org>/<name>` when the org is
 * known, so `acme/*` counts as broad in acme's config, and under an unrelated owner.
 */
export function allowEntryProblems(allow: AllowConfig, org?: string): AllowEntryProblem[] {
  const empty: AllowConfig = { actors: [], repos: [], fork_owners: [], webhook_hosts: [] };
  const owners = org ? [org, SAMPLE_OWNER] : [SAMPLE_OWNER];
  const samples: Record<keyof AllowConfig, { values: string[]; test: (a: AllowLists, v: string) => boolean; what: string }> = {
    actors: { values: SAMPLE_LOGINS, test: (a, v) => a.actor(v), what: "login" },
    fork_owners: { values: SAMPLE_LOGINS, test: (a, v) => a.forkOwner(v), what: "account" },
    webhook_hosts: { values: SAMPLE_HOSTS.map((h) => `https://${h}/hook`), test: (a, v) => a.webhookHost(v), what: "host name" },
    repos: {
      values: owners.flatMap((o) => SAMPLE_REPO_NAMES.map((n) => `${o}/${n}`)),
      test: (a, v) => a.repo(v),
      what: "repository",
    },
  };
  const out: AllowEntryProblem[] = [];
  for (const list of Object.keys(samples) as (keyof AllowConfig)[]) {
    const { values, test, what } = samples[list];
    let patterns = 0;
    allow[list].forEach((entry, index) => {
      // Without a glob character an entry matches one value (in any case), which is as narrow as it gets.
      if (!GLOB_SYNTAX.test(entry)) return;
      patterns += 1;
      if (patterns > MAX_PATTERNS_PER_LIST) {
        if (patterns === MAX_PATTERNS_PER_LIST + 1) {
          out.push({
            list,
            index,
            entry,
            message:
              `is pattern number ${patterns} of this list; at most ${MAX_PATTERNS_PER_LIST} are allowed, because every event is ` +
              "matched against each one: name the accounts, repositories or hosts, or merge patterns",
          });
        }
        return;
      }
      const operators = entry.match(/[*{(]/g)?.length ?? 0;
      if (operators > MAX_GLOB_OPERATORS) {
        out.push({
          list,
          index,
          entry,
          message:
            `has ${operators} of \`*\`, \`{\`, \`(\`; at most ${MAX_GLOB_OPERATORS} are allowed, because each one multiplies ` +
            "the time matching can take: split it into several entries",
        });
        return;
      }
      const lists = compileAllow({ ...empty, [list]: [entry] });
      // Repositories: every sample name under each owner; an entry broad under ONE owner (the org's) is broad.
      const groups = list === "repos" ? owners.map((o) => values.filter((v) => v.startsWith(`${o}/`))) : [values];
      for (const group of groups) {
        // A narrow entry misses more than half the samples: stop counting as soon as it has.
        let matched = 0;
        let missed = 0;
        for (const v of group) {
          if (test(lists, v)) matched += 1;
          else if ((missed += 1) * 2 > group.length) break;
        }
        if (matched * 2 < group.length) continue;
        const negated = entry.trimStart().startsWith("!") ? ' (a leading `!` means "everything except")' : "";
        out.push({
          list,
          index,
          entry,
          message:
            `matches almost every ${what} (${matched} of ${group.length} unrelated samples)${negated}, so it would switch ` +
            "monitoring off rather than exempt someone: name the accounts, repositories or hosts (`deploy-bot`, `acme-ci-*`)",
        });
        return;
      }
    });
  }
  return out;
}
