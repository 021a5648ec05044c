#!/usr/bin/env node
// The installed `exfil-monitor` command: a shim over the compiled CLI (`npm ci` runs `prepare`, which builds
// dist/ from src/).
import { cli } from "../dist/cli/main.js";

await cli();
