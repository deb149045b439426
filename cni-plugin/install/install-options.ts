/**
 * Adapter from `outrigger cni install` argv and environment to validated InstallOptions. Every
 * bad flag is named in one InvalidInput error (the command exits 2 before touching anything).
 * Defaults are the paths of the DaemonSet in manifests/: the host's CNI directories mounted
 * under /host, the service-account files at their usual place.
 */

import { parseArgs } from 'node:util';
import { type FieldProblem, invalidInput } from '../../common/errors.js';
import { CommandLogLevels as LogLevels, isLogLevel } from '../../common/log-levels.js';
import { parseDurationMs } from '../../common/duration.js';

export const RepairModes = ['delete', 'apply', 'off'] as const;
export type RepairMode = (typeof RepairModes)[number];

export interface InstallOptions {
  /** The host's CNI bin directory as mounted in this container. */
  readonly cniBinDir: string;
  /** The host's CNI config directory as mounted in this container. */
  readonly cniConfDir: string;
  /** The same config directory as the host sees it (the plugin, run by the runtime, reads its kubeconfig there). */
  readonly hostCniConfDir: string;
  readonly pluginBinary: string;
  readonly kubeconfigName: string;
  readonly excludeNamespaces: readonly string[];
  readonly logLevel: string;
  /** The plugin's own log level, written into its config (default: --log-level). */
  readonly pluginLogLevel: string;
  readonly repairMode: RepairMode;
  readonly nodeName: string;
  readonly metricsPort: number;
  readonly tokenFile: string;
  readonly caFile: string;
  readonly namespaceFile: string;
  readonly hostProc: string;
  /** A kubeconfig to reach the API server instead of the in-cluster service (tests, out-of-cluster runs). */
  readonly kubeconfig?: string;
  /** In-cluster API server address from KUBERNETES_SERVICE_HOST/PORT. */
  readonly apiServer?: string;
  /** Periodic resync of the config directory and the token, in ms (fs.watch is the fast path). */
  readonly resyncMs: number;
  /** The repair loop's resync, in ms: a pass over the informer's cached pods at least this often. */
  readonly repairIntervalMs: number;
  /** Written into the plugin config: capture with native nftables unless a pod's settings say otherwise. */
  readonly nativeNftables: boolean;
  /** The node's sbin directories as mounted here: where `nft` must be when nativeNftables is on. */
  readonly hostToolDirs: readonly string[];
}

interface FlagSpec {
  readonly describe: string;
  readonly default?: string;
  readonly env?: string;
}

export const InstallFlags: Readonly<Record<string, FlagSpec>> = {
  'cni-bin-dir': { default: '/host/opt/cni/bin', describe: "The host's CNI bin directory (mounted)" },
  'cni-conf-dir': { default: '/host/etc/cni/net.d', describe: "The host's CNI config directory (mounted)" },
  'host-cni-conf-dir': { default: '/etc/cni/net.d', describe: 'The CNI config directory as the host sees it (for paths in the plugin config)' },
  'plugin-binary': { default: '/opt/outrigger/bin/outrigger-cni', describe: 'The plugin executable to copy into --cni-bin-dir' },
  'kubeconfig-name': { default: 'ZZZ-outrigger-cni-kubeconfig', describe: "File name of the plugin's kubeconfig in --cni-conf-dir" },
  'exclude-namespaces': { default: 'kube-system,outrigger', describe: 'Namespaces the plugin leaves alone (comma-separated)' },
  'log-level': { default: 'info', describe: 'debug, info, warn, error or silent' },
  'plugin-log-level': { describe: "The plugin's log level in its config (default: --log-level)" },
  'repair-mode': { default: 'delete', describe: 'What to do with pods that escaped capture: delete, apply or off' },
  'node-name': { env: 'NODE_NAME', describe: 'This node; required unless --repair-mode off' },
  'metrics-port': { default: '15014', describe: 'Plain HTTP port for /metrics and /readyz (0: any free port)' },
  'token-file': { default: '/var/run/secrets/kubernetes.io/serviceaccount/token', describe: 'Service-account token (rotates)' },
  'ca-file': { default: '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt', describe: "The API server's CA bundle" },
  'namespace-file': { default: '/var/run/secrets/kubernetes.io/serviceaccount/namespace', describe: "This pod's namespace (logged; never excluded from repair by itself)" },
  'host-proc': { default: '/host/proc', describe: "The host's /proc (repair-mode apply finds pod network namespaces there)" },
  kubeconfig: { describe: 'Reach the API server through this kubeconfig instead of KUBERNETES_SERVICE_HOST/PORT' },
  'resync-interval': { default: '30s', describe: 'Periodic re-check of the config directory and token besides fs.watch' },
  'repair-interval': { default: '10s', describe: "Resync of the repair loop: a pass over this node's watched pods at least this often" },
  'native-nftables': { default: 'false', describe: "true: the plugin captures with native nftables unless a pod's settings say otherwise (needs nft on the node)" },
  'host-tool-dirs': { default: '/host/usr/sbin', describe: "The node's sbin directories (mounted), where nft is looked for when --native-nftables=true" },
};

export function installUsage(): string {
  const rows = Object.entries(InstallFlags).map(([name, f]) => {
    const extra = [f.default !== undefined ? `default ${f.default}` : '', f.env ? `env ${f.env}` : ''].filter(Boolean).join(', ');
    return `  --${`${name} VALUE`.padEnd(28)}${f.describe}${extra ? ` (${extra})` : ''}`;
  });
  return `Usage: outrigger cni install [flags]\n\nInstall the outrigger-cni plugin on this node, keep it installed, repair pods that escaped\ncapture, and remove exactly what was added on SIGTERM.\n\nFlags:\n${rows.join('\n')}\n  --help                        Show this help\n`;
}


export type ParseInstallResult = { readonly kind: 'help' } | { readonly kind: 'options'; readonly options: InstallOptions };

export function parseInstallFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseInstallResult {
  const problems: FieldProblem[] = [];
  let values: Record<string, string | boolean | undefined> = {};
  const options = Object.fromEntries([...Object.keys(InstallFlags).map((k) => [k, { type: 'string' as const }]), ['help', { type: 'boolean' as const }]]);
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as typeof values;
  } catch {
    // Name every unknown flag, positional and missing value, not only the first parseArgs met.
    const parsed = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
    for (const token of parsed.tokens ?? []) {
      if (token.kind === 'positional') problems.push({ source: 'argument', value: token.value, reason: 'unexpected argument' });
      else if (token.kind === 'option' && !(token.name in options)) problems.push({ source: `--${token.name}`, value: token.value ?? '', reason: 'unknown flag' });
      else if (token.kind === 'option' && token.name !== 'help' && token.value === undefined) problems.push({ source: `--${token.name}`, value: '', reason: 'needs a value' });
    }
    values = Object.fromEntries(Object.entries(parsed.values).filter(([k]) => k in options)) as typeof values;
    if (problems.length === 0) problems.push({ source: 'arguments', value: argv.join(' '), reason: 'cannot be parsed' });
  }
  if (values.help === true) return { kind: 'help' };

  const str = (name: string): string | undefined => {
    const value = values[name];
    if (typeof value === 'string') return value;
    const spec = InstallFlags[name];
    const fromEnv = spec?.env ? env[spec.env] : undefined;
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec?.default;
  };
  const path = (name: string): string => {
    const value = str(name) ?? '';
    if (!value.startsWith('/')) problems.push({ source: `--${name}`, value, reason: 'must be an absolute path' });
    return value;
  };

  const cniBinDir = path('cni-bin-dir');
  const cniConfDir = path('cni-conf-dir');
  const hostCniConfDir = path('host-cni-conf-dir');
  const pluginBinary = path('plugin-binary');
  const tokenFile = path('token-file');
  const caFile = path('ca-file');
  const namespaceFile = path('namespace-file');
  const hostProc = path('host-proc');

  const kubeconfigName = str('kubeconfig-name') ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(kubeconfigName) || /\.(conf|conflist|json)$/.test(kubeconfigName)) {
    problems.push({ source: '--kubeconfig-name', value: kubeconfigName, reason: 'must be a plain file name that does not end in .conf, .conflist or .json (runtimes would read it as a network config)' });
  }

  const excludeText = str('exclude-namespaces') ?? '';
  const excludeNamespaces = excludeText.split(',').map((s) => s.trim()).filter(Boolean);
  for (const ns of excludeNamespaces) {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) problems.push({ source: '--exclude-namespaces', value: ns, reason: 'not a valid namespace name' });
  }

  const logLevel = str('log-level') ?? 'info';
  if (!isLogLevel(logLevel, LogLevels)) problems.push({ source: '--log-level', value: logLevel, reason: `must be one of ${LogLevels.join(', ')}` });
  const pluginLogLevel = str('plugin-log-level') ?? logLevel;
  if (str('plugin-log-level') !== undefined && !isLogLevel(pluginLogLevel, LogLevels)) problems.push({ source: '--plugin-log-level', value: pluginLogLevel, reason: `must be one of ${LogLevels.join(', ')}` });

  const repairText = str('repair-mode') ?? 'delete';
  const repairMode = RepairModes.find((m) => m === repairText);
  if (!repairMode) problems.push({ source: '--repair-mode', value: repairText, reason: `must be one of ${RepairModes.join(', ')}` });

  const nodeName = str('node-name') ?? '';
  if (repairMode !== 'off' && nodeName === '') problems.push({ source: '--node-name', value: '', reason: 'required (or env NODE_NAME) unless --repair-mode off' });
  else if (nodeName !== '' && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName)) problems.push({ source: '--node-name', value: nodeName, reason: 'not a valid node name' });

  const portText = str('metrics-port') ?? '15014';
  const metricsPort = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(metricsPort >= 0 && metricsPort <= 65535)) problems.push({ source: '--metrics-port', value: portText, reason: 'must be a port number 0-65535 (0: any free port)' });

  const kubeconfig = typeof values.kubeconfig === 'string' ? values.kubeconfig : undefined;
  if (kubeconfig !== undefined && !kubeconfig.startsWith('/')) problems.push({ source: '--kubeconfig', value: kubeconfig, reason: 'must be an absolute path' });
  let apiServer: string | undefined;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (kubeconfig === undefined) {
    if (!host || !port) problems.push({ source: 'env KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT', value: `${host ?? ''}:${port ?? ''}`, reason: 'both must be set (in a pod they are), or pass --kubeconfig' });
    else if (!/^\d{1,5}$/.test(port)) problems.push({ source: 'env KUBERNETES_SERVICE_PORT', value: port, reason: 'must be a port number' });
    else apiServer = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  const interval = (name: string): number => {
    const text = str(name) ?? '';
    const parsed = parseDurationMs(text);
    const ms = parsed !== null && parsed >= 50 && parsed <= 3_600_000 ? parsed : null;
    if (ms === null) problems.push({ source: `--${name}`, value: text, reason: 'must be a duration such as 500ms, 30s or 2m (50ms to 60m)' });
    return ms ?? 30_000;
  };
  const resyncMs = interval('resync-interval');
  const repairIntervalMs = interval('repair-interval');

  const nftText = str('native-nftables') ?? 'false';
  const nativeNftables = nftText === 'true';
  if (nftText !== 'true' && nftText !== 'false') problems.push({ source: '--native-nftables', value: nftText, reason: 'must be true or false' });
  const hostToolDirs = (str('host-tool-dirs') ?? '').split(',').map((d) => d.trim()).filter(Boolean);
  for (const dir of hostToolDirs) if (!dir.startsWith('/')) problems.push({ source: '--host-tool-dirs', value: dir, reason: 'must be absolute paths' });

  if (problems.length > 0) throw invalidInput(problems, 'flags');
  return {
    kind: 'options',
    options: {
      cniBinDir, cniConfDir, hostCniConfDir, pluginBinary, kubeconfigName, excludeNamespaces, logLevel, pluginLogLevel,
      repairMode: repairMode ?? 'delete', nodeName, metricsPort, tokenFile, caFile, namespaceFile, hostProc,
      ...(kubeconfig !== undefined ? { kubeconfig } : {}), ...(apiServer !== undefined ? { apiServer } : {}),
      resyncMs, repairIntervalMs, nativeNftables, hostToolDirs,
    },
  };
}
