// Octokit and logger doubles shared by the tests that talk to a nock-mocked GitHub.
import { ProbotOctokit } from "probot";

/** An installation-token Octokit with retries and throttling off, so a mocked error answers at once. */
export function testOctokit() {
  return new ProbotOctokit({ auth: { token: "test" }, retry: { enabled: false }, throttle: { enabled: false } });
}

/**
 * The Octokit class for a test Probot. A function, so it is applied last: Probot merges its own throttle
 * options over plain defaults, and its shared Bottleneck groups would space issue creation 3 s apart.
 */
export const TestProbotOctokit = ProbotOctokit.defaults((options: object) => ({
  ...options,
  retry: { enabled: false },
  throttle: { enabled: false },
}));

export const silentLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
