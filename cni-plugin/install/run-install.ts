/**
 * `outrigger cni install`, the DaemonSet's process: copy the plugin into the host's CNI bin
 * directory, write its kubeconfig and keep it fresh, keep our entry in the primary CNI config,
 * run the repair loop (unless --repair-mode off), serve /readyz and /metrics, and on SIGTERM
 * (or SIGINT) remove exactly what it added — our conflist entry, the binary, the kubeconfig —
 * then exit 0. Exit 2 for bad flags (nothing touched) or an unusable --kubeconfig, 1 when
 * start-up fails otherwise (what was already added is removed again in both cases).
 */

import { readFile } from 'node:fs/promises';
import { ErrorCodes, isOutriggerError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/log.js';
import { createInstallerMetrics } from '../repair/repair-metrics.js';
import type { RunningRepair } from '../repair/start-repair.js';
import { type ApiEndpoint, inClusterEndpoint, kubeconfigEndpoint } from './api-endpoint.js';
import { BinaryKeeper } from './binary-keeper.js';
import { ConflistKeeper } from './conflist-keeper.js';
import { type InstallOptions, installUsage, parseInstallFlags } from './install-options.js';
import { KubeconfigKeeper } from './kubeconfig-keeper.js';
import { findNodeTool } from './node-tools.js';
import { pluginEntry } from './plugin-entry.js';
import { startStatusServer } from './status-server.js';

export const PluginFileName = 'outrigger-cni';

export async function runInstall(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let options: InstallOptions;
  try {
    const parsed = parseInstallFlags(argv, env);
    if (parsed.kind === 'help') {
      process.stdout.write(installUsage());
      return 0;
    }
    options = parsed.options;
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    process.stderr.write(`outrigger cni install: ${error.message}\n`);
    return 2;
  }
  const log = createLogger({ name: 'outrigger-cni-install', level: options.logLevel });
  const stop = new Promise<string>((resolve) => {
    // `on`, not `once`: a second signal during clean-up must not kill us half-way.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => resolve(signal));
  });
  const cleanup: (() => Promise<void>)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) {
      await step().catch((error: unknown) => log.error({ err: error }, 'a cleanup step failed'));
    }
  };

  try {
    const namespace = (await readFile(options.namespaceFile, 'utf8').catch(() => '')).trim();
    log.info({ node: options.nodeName, namespace: namespace || undefined, repairMode: options.repairMode }, 'starting the outrigger CNI installer');

    // 1. The plugin binary first, so it exists before any config names it.
    const binary = new BinaryKeeper({ source: options.pluginBinary, binDir: options.cniBinDir, name: PluginFileName, resyncMs: options.resyncMs, log });
    cleanup.push(async () => {
      await binary.stop();
      await binary.uninstall();
    });
    await binary.ensure();
    binary.start();
    log.info({ path: binary.path }, 'the plugin binary is in place');

    // 2. The kubeconfig for the plugin's API fallback.
    const endpoint: ApiEndpoint = options.kubeconfig
      ? await kubeconfigEndpoint(options.kubeconfig)
      : await inClusterEndpoint(options.apiServer ?? '', options.caFile, options.tokenFile);
    const kubeconfig = new KubeconfigKeeper({
      confDir: options.cniConfDir, name: options.kubeconfigName, endpoint, log, resyncMs: options.resyncMs,
      tokenFile: options.kubeconfig ? undefined : options.tokenFile,
    });
    cleanup.push(async () => {
      await kubeconfig.stop();
      await kubeconfig.uninstall();
    });
    await kubeconfig.refresh();
    kubeconfig.start();

    // 3. Our entry in the primary config, kept there.
    const metrics = createInstallerMetrics();
    let installedAt: number | undefined;
    let repair: RunningRepair | undefined;
    const keeper = new ConflistKeeper({
      confDir: options.cniConfDir, entry: pluginEntry(options), resyncMs: options.resyncMs, log,
      onState: (state) => {
        metrics.installed.set(state === 'installed' ? 1 : 0);
        if (state === 'installed') installedAt ??= Date.now();
        // Repairs wait for our entry; once it is there, do not wait for the next resync.
        if (state === 'installed') repair?.kick();
      },
    });
    cleanup.push(async () => {
      await keeper.stop();
      const changed = await keeper.uninstall();
      log.info({ files: changed }, 'removed outrigger-cni from the CNI config');
    });
    keeper.start();

    // With native nftables the plugin runs the node's nft: a node without it is reported now (and
    // /readyz stays 503 `nft-missing`, the plugin's STATUS fails), not at each pod's ADD.
    let nftReported = false;
    const nftMissing = (): boolean => {
      if (!options.nativeNftables) return false;
      const missing = findNodeTool('nft', options.hostToolDirs).length === 0;
      if (missing && !nftReported) {
        log.error({ looked: options.hostToolDirs }, `nft was not found on this node (looked in ${options.hostToolDirs.join(', ')}): native nftables capture (--native-nftables=true) cannot work here; install nftables on the node`);
      }
      nftReported = missing;
      return missing;
    };
    nftMissing();

    // 4. Status and metrics, then the repair loop.
    const status = await startStatusServer(options.metricsPort, metrics.registry, () => (nftMissing() ? 'nft-missing' : keeper.state));
    cleanup.push(() => new Promise<void>((resolve) => {
      status.server.close(() => resolve());
      status.server.closeAllConnections(); // a scraper's keep-alive connection must not hold us
    }));
    log.info({ port: status.port }, 'serving /readyz and /metrics');
    if (options.repairMode !== 'off') {
      // The Kubernetes client is loaded here, only when the repair loop runs.
      const { startRepair } = await import('../repair/start-repair.js');
      const running = startRepair({
        mode: options.repairMode, nodeName: options.nodeName, excludeNamespaces: options.excludeNamespaces, hostProc: options.hostProc,
        intervalMs: options.repairIntervalMs, endpoint, metrics, log: log.child({ part: 'repair' }),
        installedAt: () => (keeper.state === 'installed' ? installedAt : undefined),
      });
      repair = running;
      cleanup.push(() => running.stop());
    }

    const signal = await stop;
    log.info({ signal }, 'stopping: removing what this installer added');
    await undo();
    log.info('stopped');
    return 0;
  } catch (error) {
    logStartFailure(log, error);
    await undo();
    // A kubeconfig that cannot be used is bad input like a bad flag.
    return isOutriggerError(error) && error.code === ErrorCodes.InvalidInput ? 2 : 1;
  }
}

function logStartFailure(log: Logger, error: unknown): void {
  log.error({ err: error }, `the installer cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.stderr.write(`outrigger cni install: ${error instanceof Error ? error.message : String(error)}\n`);
}
