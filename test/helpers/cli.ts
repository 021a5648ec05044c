// Runs the `exfil-monitor` CLI in-process with captured output (not a terminal) and an optional standard input,
// and picks out the JSON finding lines, for the tests of `analyze`.
import { PassThrough, Readable } from "node:stream";
import type { FindingOutput } from "../../src/cli/analyze.js";
import { main } from "../../src/cli/main.js";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  findings: FindingOutput[];
}

export async function runCli(args: string[], stdin?: string | Buffer): Promise<CliRun> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (c: Buffer) => (stdout += c.toString()));
  err.on("data", (c: Buffer) => (stderr += c.toString()));
  const code = await main(args, { stdout: out, stderr: err, stdin: stdin === undefined ? undefined : Readable.from([Buffer.from(stdin)]) });
  const findings = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as FindingOutput);
  return { code, stdout, stderr, findings };
}
