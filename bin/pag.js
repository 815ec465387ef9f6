#!/usr/bin/env node
// Entry point of the `pag` command line; the compiled TypeScript lives in dist/.
import '../dist/src/cli.js';
