#!/usr/bin/env node
// driftless: the command line for people, over the hub HTTP API (see docs/cli.md).
import { runCli } from '../src/cli/index.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
});
process.exitCode = code;
