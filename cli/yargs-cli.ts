/**
 * The yargs front of `outrigger`: top-level help, version and the command list, dispatching each
 * command to its lazily loaded module with the remaining arguments untouched.
 */

import yargs from 'yargs';
import { Subcommands } from './subcommands.js';

export async function runYargsCli(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let exitCode = 0;
  let parser = yargs([...argv])
    .scriptName('outrigger')
    .usage('$0 <command> [options]\n\nSidecar proxy injection and iptables traffic capture for Kubernetes pods.')
    // Not 'halt-at-non-option': it stops at the command name itself, so no command handler ever ran.
    .parserConfiguration({ 'unknown-options-as-args': true })
    .version(env.OUTRIGGER_VERSION ?? '0.1.0')
    .help()
    .strictCommands()
    .demandCommand(1, 'Name a command.')
    .exitProcess(false)
    .fail((message, error, y) => {
      process.stderr.write(`${message ?? error?.message ?? 'invalid arguments'}\n\n${y.help().toString()}`);
      exitCode = 2;
    });
  for (const [name, sub] of Object.entries(Subcommands)) {
    parser = parser.command(`${name} [args..]`, sub.describe, (y) => y.help(false).version(false), async () => {
      exitCode = await (await sub.load()).run(argv.slice(argv.indexOf(name) + 1), env);
    });
  }
  const first = argv[0];
  // With halt-at-non-option yargs stops at the command name and never runs its handler, so a
  // known command is dispatched here; yargs serves help, version and the unknown-command error.
  const known = first === undefined ? undefined : Subcommands[first];
  if (known) return (await known.load()).run(argv.slice(1), env);
  if (first !== undefined && !first.startsWith('-')) {
    process.stderr.write(`outrigger: unknown command ${JSON.stringify(first)}\n\n${await parser.getHelp()}\n`);
    return 2;
  }
  await parser.parseAsync();
  return exitCode;
}
