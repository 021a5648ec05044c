import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Node's globals for the plain JavaScript files (the bin shim, this file); TypeScript checks the rest.
const nodeGlobals = { console: "readonly", process: "readonly" };

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "data/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ["**/*.js"], languageOptions: { globals: nodeGlobals } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-empty": ["error", { allowEmptyCatch: false }],
    },
  },
);
