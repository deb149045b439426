/**
 * `outrigger injector` flags to validated options. Every bad flag and value is reported at once
 * (one InvalidInput error), before anything starts. The flag names are a contract with the
 * Deployment in manifests/: keep them.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type FieldProblem, invalidInput } from '../common/errors.js';
import { isLogLevel, LogLevels } from '../common/log-levels.js';
import type { InjectorServerOptions, TlsSource } from './server/injector-server.js';
import { parseDurationMs } from '../common/duration.js';

/**
 * What the server takes (InjectorServerOptions), less what the command supplies itself (the host
 * it tries, the logger, the metrics), plus the listen address and log level the flags choose.
 */
export type InjectorOptions = Omit<InjectorServerOptions, 'host' | 'log' | 'metrics'> & {
  /** Undefined: dual-stack `::`, falling back to `0.0.0.0` where IPv6 is off. */
  readonly address: string | undefined;
  readonly logLevel: string;
};

interface Flag {
  readonly type: 'string' | 'boolean';
  readonly describe: string;
}

export const InjectorFlags: Readonly<Record<string, Flag>> = {
  port: { type: 'string', describe: 'HTTPS port for /inject, /healthz, /readyz, /metrics (default 9443)' },
  address: { type: 'string', describe: 'Listen address (default :: with a fallback to 0.0.0.0)' },
  'config-file': { type: 'string', describe: 'Injector configuration YAML (a mounted ConfigMap; reloaded on change). Default: built-in defaults' },
  'tls-mode': { type: 'string', describe: 'files (also for cert-manager; alias cert-manager) or self-managed (default files)' },
  'tls-cert-file': { type: 'string', describe: 'files mode: PEM certificate (chain); reloaded on change' },
  'tls-key-file': { type: 'string', describe: 'files mode: PEM private key; reloaded on change' },
  'tls-secret-name': { type: 'string', describe: 'self-managed: Secret holding the CA and serving pair (default outrigger-injector-tls)' },
  'webhook-config-name': { type: 'string', describe: 'self-managed: MutatingWebhookConfiguration whose caBundle is kept patched (default outrigger-injector)' },
  'service-name': { type: 'string', describe: 'self-managed: Service the API server calls; names the certificate (default outrigger-injector)' },
  namespace: { type: 'string', describe: 'self-managed: namespace of the Secret and Service (default $POD_NAMESPACE, then the service account\'s)' },
  'cluster-domain': { type: 'string', describe: 'self-managed: cluster DNS domain (default cluster.local)' },
  kubeconfig: { type: 'string', describe: 'self-managed: kubeconfig file (default: in-cluster service account)' },
  'tls-check-interval': { type: 'string', describe: 'self-managed: time between Secret/caBundle checks, seconds or a duration (default 60)' },
  'reload-poll-interval': { type: 'string', describe: 'Time between polls of the config and certificate files, beside the directory watch, seconds or a duration such as 500ms (default 10)' },
  'max-connection-age': { type: 'string', describe: 'Close a keep-alive connection after its next response once it is this old, so the API server spreads its connections over replicas; 0 never, seconds or a duration (default 30s)' },
  'shutdown-drain': { type: 'string', describe: 'How long to keep serving after /readyz turns 503 on SIGTERM, seconds or a duration (default 5)' },
  'shutdown-timeout': { type: 'string', describe: 'How long in-flight requests may take after the drain, seconds or a duration (default 20)' },
  'log-level': { type: 'string', describe: 'trace, debug, info, warn, error or silent (default info)' },
  help: { type: 'boolean', describe: 'Show this help' },
};

const ServiceAccountNamespaceFile = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export function injectorUsage(): string {
  const rows = Object.entries(InjectorFlags).map(([name, f]) => `  ${`--${name}${f.type === 'string' ? ' VALUE' : ''}`.padEnd(30)}${f.describe}`);
  return `Usage: outrigger injector [options]\n\nThe MutatingAdmissionWebhook server (HTTPS, TLS 1.2+).\n\n${rows.join('\n')}\n`;
}

export type ParseInjectorResult = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: InjectorOptions };

/** A DNS-1123 name (Secrets, Services, webhook configurations, namespaces). */
const dnsName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function parseInjectorFlags(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, readNamespaceFile: () => string | undefined = defaultNamespaceFile): ParseInjectorResult {
  const problems: FieldProblem[] = [];
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(Object.entries(InjectorFlags).map(([name, f]) => [name, { type: f.type }])),
      strict: true,
      allowPositionals: false,
    });
    values = parsed.values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw invalidInput([{ source: 'arguments', value: argv.join(' '), reason: (error as Error).message }], 'flags');
  }
  if (values.help) return { kind: 'help' };
  const str = (name: string): string | undefined => values[name] as string | undefined;

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = str(name);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min || n > max) {
      problems.push({ source: `--${name}`, value: text, reason: `must be an integer from ${min} to ${max}` });
      return fallback;
    }
    return n;
  };
  const seconds = (name: string, fallback: number, max: number): number => {
    const text = str(name);
    if (text === undefined) return fallback * 1000;
    const ms = parseDurationMs(text, { bareNumberUnit: 's' });
    if (ms === null || ms > max * 1000) {
      problems.push({ source: `--${name}`, value: text, reason: `must be a duration from 0 to ${max}s, in seconds (10, 0.5) or as 500ms, 30s, 2m` });
      return fallback * 1000;
    }
    return ms;
  };
  const name = (flag: string, fallback: string): string => {
    const text = str(flag) ?? fallback;
    if (!dnsName.test(text) || text.length > 253) problems.push({ source: `--${flag}`, value: text, reason: 'must be a DNS-1123 name (lower case letters, digits, - and .)' });
    return text;
  };

  const port = integer('port', 9443, 0, 65535); // 0: any free port (tests)
  const reloadPollMs = seconds('reload-poll-interval', 10, 3600);
  if (str('reload-poll-interval') !== undefined && reloadPollMs < 100) problems.push({ source: '--reload-poll-interval', value: str('reload-poll-interval') ?? '', reason: 'must be at least 0.1 seconds' });
  const drainMs = seconds('shutdown-drain', 5, 600);
  const maxConnectionAgeMs = seconds('max-connection-age', 30, 3600);
  const shutdownTimeoutMs = seconds('shutdown-timeout', 20, 600);
  const logLevel = str('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) problems.push({ source: '--log-level', value: logLevel, reason: `must be one of ${LogLevels.join(', ')}` });
  const address = str('address');
  if (address !== undefined && address.trim() === '') problems.push({ source: '--address', value: address, reason: 'must not be empty' });

  const mode = str('tls-mode') ?? 'files';
  const selfManagedFlags = ['tls-secret-name', 'webhook-config-name', 'service-name', 'namespace', 'cluster-domain', 'kubeconfig', 'tls-check-interval'];
  let tls: TlsSource | undefined;
  if (mode === 'files' || mode === 'cert-manager') {
    const certFile = str('tls-cert-file');
    const keyFile = str('tls-key-file');
    if (!certFile) problems.push({ source: '--tls-cert-file', value: '', reason: `is required with --tls-mode ${mode}` });
    if (!keyFile) problems.push({ source: '--tls-key-file', value: '', reason: `is required with --tls-mode ${mode}` });
    for (const flag of selfManagedFlags) {
      if (str(flag) !== undefined) problems.push({ source: `--${flag}`, value: str(flag) ?? '', reason: 'only applies with --tls-mode self-managed' });
    }
    if (certFile && keyFile) tls = { mode: 'files', certFile, keyFile };
  } else if (mode === 'self-managed') {
    for (const flag of ['tls-cert-file', 'tls-key-file']) {
      if (str(flag) !== undefined) problems.push({ source: `--${flag}`, value: str(flag) ?? '', reason: 'does not apply with --tls-mode self-managed (the certificate lives in --tls-secret-name)' });
    }
    const nsText = str('namespace') ?? (env.POD_NAMESPACE || undefined) ?? readNamespaceFile();
    let namespace = '';
    if (nsText === undefined) {
      problems.push({ source: '--namespace', value: '', reason: 'is required: not given, POD_NAMESPACE is unset and there is no service-account namespace file' });
    } else {
      namespace = nsText.trim();
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
        problems.push({ source: str('namespace') !== undefined ? '--namespace' : 'POD_NAMESPACE or service-account namespace', value: nsText, reason: 'must be a DNS-1123 label' });
      }
    }
    tls = {
      mode: 'self-managed',
      secretName: name('tls-secret-name', 'outrigger-injector-tls'),
      webhookConfigName: name('webhook-config-name', 'outrigger-injector'),
      serviceName: name('service-name', 'outrigger-injector'),
      namespace,
      clusterDomain: name('cluster-domain', 'cluster.local'),
      kubeconfig: str('kubeconfig'),
      checkIntervalMs: Math.max(100, seconds('tls-check-interval', 60, 86_400)),
    };
  } else {
    problems.push({ source: '--tls-mode', value: mode, reason: 'must be files, cert-manager or self-managed' });
  }

  if (problems.length > 0 || !tls) throw invalidInput(problems, 'flags');
  return {
    kind: 'run',
    options: { address, port, configFile: str('config-file'), tls, reloadPollMs, drainMs, maxConnectionAgeMs, shutdownTimeoutMs, logLevel },
  };
}

function defaultNamespaceFile(): string | undefined {
  try {
    return readFileSync(ServiceAccountNamespaceFile, 'utf8');
  } catch {
    return undefined;
  }
}
