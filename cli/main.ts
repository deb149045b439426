/**
 * `outrigger` main: a known subcommand goes straight to its module (`outrigger init` runs in
 * every pod start, so this path stays small; and each subcommand parses its own flags); every
 * other invocation goes through the yargs front (help, version, command list, unknown
 * commands). Sets the process exit code; never throws.
 */

import { Subcommands } from './subcommands.js';

async function dispatch(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const fast = name !== undefined && Object.hasOwn(Subcommands, name) ? Subcommands[name] : undefined;
  if (fast) return (await fast.load()).run(rest, process.env);
  const { runYargsCli } = await import('./yargs-cli.js');
  return runYargsCli(argv, process.env);
}

export function main(argv: readonly string[]): void {
  dispatch(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`outrigger: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
