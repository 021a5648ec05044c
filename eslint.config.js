import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Node's globals for the plain JavaScript files (the bin shim, this file); TypeScript checks the rest.
const nodeGlobals = { console: "readonly", process: "readonly" };

// The layers of src/, lowest first: a folder (`src/<name>/`) or a file at src/'s root (`src/<name>.ts`). A
// module may import its own folder and any module on a lower line; a module on its own line is independent of
// it, and a higher one would make the lower layer depend on the higher. Type-only imports count too. New folders
// must be placed here before they can import anything outside themselves.
export const LAYERS = [
  ["log"], // src/log.ts: the logger shape every module takes
  ["domain"], // severity, finding drafts and fingerprints, which way a setting watches less
  ["text", "geo"], // attacker text made inert; countries
  ["events"], // the one normalized event and its sources
  ["detectors", "store"], // pure detectors; persistence, which knows events and the domain, not the detectors
  ["github"], // the Octokit shape, audit-log poller, rate limiter, account lookups
  ["config"], // schema built from the detector registry, loading through Octokit, the cached service
  ["engine"], // runs detectors under a config
  ["alerts", "hunt"], // issues and notices; sweeps
  ["pipeline"], // the one batch-processing path
  ["app", "cli"], // the Probot app; the offline CLI (never the app, which brings the framework)
  ["index"], // src/index.ts: the app's entry point
  ["main"], // src/main.ts: starts the server
];
// Root files of src/; every other name in LAYERS is a folder.
const ROOT_FILES = new Set(["log", "index", "main"]);

// Only the entry points and src/app import the framework; only the store (and its tests, and the benchmark's
// raw floors) import the database driver or a backend.
const PROBOT = {
  regex: "^(probot|@probot/.*)(/.*)?$",
  message: "Only src/index.ts, src/main.ts and src/app/ import probot: take an OctokitLike (src/github/octokit.ts) or a Logger.",
};
const DRIVER = {
  regex: "^better-sqlite3(/.*)?$",
  message: "Only src/store/ imports the database driver: go through the Storage interface (src/store/storage.ts).",
};
// A backend is one folder of src/store; the rest of the app opens storage with src/store/open.ts and sees only
// the Storage interface, so a second backend changes nothing outside src/store.
const BACKEND = {
  regex: "^(\\./|(\\.\\./)+)store/(sqlite|postgres)/",
  message: "Only src/store/ reaches a storage backend: open it with src/store/open.ts and use the Storage interface.",
};

// Detectors are independent of each other: what two must agree on lives in src/detectors/shared.ts.
const SIBLING_DETECTOR = {
  regex: "^\\./(?!types\\.js$|shared\\.js$)",
  message: "A detector imports no other detector: move what both need to src/detectors/shared.ts.",
};

function escapeRegex(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function where(name) {
  return ROOT_FILES.has(name) ? `src/${name}.ts` : `src/${name}/`;
}

// Import specifiers as the project writes them: relative, `../` (or `./` from a root file) up to src/.
function layerPatterns(name) {
  const level = LAYERS.findIndex((line) => line.includes(name));
  const climb = ROOT_FILES.has(name) ? "\\./" : "(\\.\\./)+";
  const patterns = [];
  LAYERS.forEach((line, i) => {
    if (i < level) return;
    for (const other of line) {
      if (other === name) continue;
      const target = ROOT_FILES.has(other) ? `${escapeRegex(other)}\\.js$` : `${escapeRegex(other)}/`;
      const why =
        i === level
          ? `${where(name)} and ${where(other)} are independent (same line of LAYERS in eslint.config.js)`
          : `${where(name)} is below ${where(other)} (LAYERS in eslint.config.js)`;
      patterns.push({
        regex: `^${climb}${target}`,
        message: `${why}: move what both need down to a lower layer, or pass it in.`,
      });
    }
  });
  return patterns;
}

const restrict = (patterns) => ["error", { patterns }];

// One block per module, each with the whole rule: a later block replaces the rule's options, never adds to them.
const layering = [
  {
    files: ["src/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        { regex: "^\\./", message: "This file of src/ is in no layer: add it to LAYERS in eslint.config.js." },
        PROBOT,
        DRIVER,
        BACKEND,
      ]),
    },
  },
  {
    files: ["src/*/**/*.ts"],
    rules: {
      "no-restricted-imports": restrict([
        { regex: "^(\\.\\./)+", message: "This folder of src/ is in no layer: add it to LAYERS in eslint.config.js." },
        PROBOT,
        DRIVER,
      ]),
    },
  },
  ...LAYERS.flat().map((name) => ({
    files: [ROOT_FILES.has(name) ? `src/${name}.ts` : `src/${name}/**/*.ts`],
    rules: {
      "no-restricted-imports": restrict([
        ...layerPatterns(name),
        ...(name === "app" || name === "index" || name === "main" ? [] : [PROBOT]),
        ...(name === "store" ? [] : [DRIVER, BACKEND]),
        ...(name === "detectors" ? [SIBLING_DETECTOR] : []),
      ]),
    },
  })),
  // The registry is the one file of src/detectors/ that imports every detector.
  {
    files: ["src/detectors/index.ts"],
    rules: { "no-restricted-imports": restrict([...layerPatterns("detectors"), PROBOT, DRIVER, BACKEND]) },
  },
  // Tests and scripts may import any layer (and tests the framework); the driver stays in the store's tests.
  {
    files: ["test/**/*.ts", "scripts/**/*.ts"],
    ignores: ["test/store/**"],
    rules: { "no-restricted-imports": restrict([DRIVER]) },
  },
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "data/**", "bench/out/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ["**/*.js"], languageOptions: { globals: nodeGlobals } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-empty": ["error", { allowEmptyCatch: false }],
    },
  },
  ...layering,
);
