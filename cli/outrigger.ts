#!/usr/bin/env node
/**
 * The `outrigger` command. `outrigger init` runs in every pod start, so it takes a fast path
 * straight to its module; every other invocation goes through the yargs front (help, version,
 * command list). Subcommand modules are loaded only when invoked.
 */

import { Subcommands } from './subcommands.js';

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const fast = name === 'init' ? Subcommands.init : undefined;
  if (fast) return (await fast.load()).run(rest, process.env);
  const { runYargsCli } = await import('./yargs-cli.js');
  return runYargsCli(argv, process.env);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`outrigger: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 70;
  },
);
