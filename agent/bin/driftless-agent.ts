#!/usr/bin/env node
/**
 * The `driftless-agent` executable: `run` in a cluster, `render`, `diff`
 * and `export` on a workstation. See docs/agent-cli.md.
 */
import { main } from '../src/cli/index.ts';

// exitCode rather than process.exit(): pending output is flushed first.
process.exitCode = await main(process.argv.slice(2));
