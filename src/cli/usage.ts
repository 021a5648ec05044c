// The error every command throws for arguments it cannot use: main() prints it with a pointer to --help and
// exits 2.
export class UsageError extends Error {}
