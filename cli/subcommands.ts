/**
 * The subcommands of `outrigger`, each loaded only when invoked. A subcommand module exports
 * `run(argv, env)` and resolves to an exit code; it parses its own flags.
 */

export interface SubcommandModule {
  run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number>;
}

export interface Subcommand {
  readonly describe: string;
  readonly load: () => Promise<SubcommandModule>;
}

export const Subcommands: Readonly<Record<string, Subcommand>> = {
  init: {
    describe: 'Apply, clean up or validate the iptables capture rules (istio-iptables compatible)',
    load: () => import('../init/init-command.js'),
  },
  inject: {
    describe: 'Add the proxy to Pods and workload pod templates in YAML or JSON manifests, as the webhook would',
    load: () => import('../injector/offline/inject-command.js'),
  },
  injector: {
    describe: 'Run the MutatingAdmissionWebhook server that injects the proxy into pods (HTTPS)',
    load: () => import('../injector/injector-command.js'),
  },
  explain: {
    describe: 'Where would this connection go? Follow it through a pod\'s rules (live, a dump, a manifest or flags) and say why',
    load: () => import('./explain/explain-command.js'),
  },
  cni: {
    describe: 'Node side of CNI mode: `cni install` installs outrigger-cni and repairs pods (the DaemonSet)',
    load: () => import('../cni-plugin/cni-command.js'),
  },
};
