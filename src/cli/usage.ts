// The error every command throws for arguments it cannot use: main() prints it with a pointer to --help and
// exits 2, and the one argument parser every command uses.
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

/** A command's arguments: its options and positionals, strict; what cannot be parsed is a UsageError. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig["options"]>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], allowPositionals: true, strict: true, options });
  } catch (err) {
    // parseArgs explains itself ("Unknown option '--x'"); keep its first line.
    const message = err instanceof Error ? err.message : String(err);
    throw new UsageError(message.split("\n")[0] || "bad arguments");
  }
}
