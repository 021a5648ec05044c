import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/helpers/setup.ts"],
    // Each file gets its own module graph so nock and the fixed clock never leak between files.
    pool: "forks",
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
