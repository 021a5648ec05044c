// The one Octokit method the modules use, defined once. Probot's installation Octokit, @octokit/core and
// test doubles all fit it, so nothing below src/app needs to import probot. Octokit throws a RequestError
// (carrying `status`) for 304 and 4xx/5xx answers; callers read it with httpFailure() from limiter.ts.
export interface OctokitResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- GitHub's answers are checked where they are read
  data: any;
  headers: Record<string, string | number | undefined>;
}

export interface OctokitLike {
  request(route: string, params?: Record<string, unknown>): Promise<OctokitResponse>;
}
