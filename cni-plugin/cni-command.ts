/**
 * `outrigger cni <subcommand>`: the node side of CNI mode. `install` runs in the CNI DaemonSet
 * (installer plus repair loop). The plugin itself is the separate `outrigger-cni` executable.
 */

const usage = `Usage: outrigger cni <subcommand>

Subcommands:
  install   Install outrigger-cni on this node and keep it installed (runs in the DaemonSet)

Run \`outrigger cni install --help\` for its flags.
`;

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'install') return (await import('./install/run-install.js')).runInstall(rest, env);
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  process.stderr.write(`outrigger cni: ${sub === undefined ? 'name a subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}\n\n${usage}`);
  return 2;
}
