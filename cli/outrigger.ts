#!/usr/bin/env node
/**
 * The `outrigger` command. Dispatches on the first argument and loads only that subcommand's
 * module, so `outrigger init` (run in every pod start) never pays for the webhook server's
 * dependencies. Each subcommand module exports `run(argv, env)` and resolves to an exit code.
 */

export interface Subcommand {
  readonly describe: string;
  readonly load: () => Promise<{ run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> }>;
}

const subcommands: Record<string, Subcommand> = {
  init: {
    describe: 'Apply (or clean up, or validate) the iptables capture rules in this network namespace',
    load: () => import('../init/init-command.js'),
  },
};

function usage(): string {
  const lines = Object.entries(subcommands).map(([name, sub]) => `  ${name.padEnd(12)}${sub.describe}`);
  return `Usage: outrigger <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'outrigger <command> --help' for a command's options.\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write(`${process.env.OUTRIGGER_VERSION ?? '0.1.0'}\n`);
    return 0;
  }
  const sub = subcommands[name];
  if (!sub) {
    process.stderr.write(`outrigger: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  const module = await sub.load();
  return module.run(rest, process.env);
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
