/**
 * Adapter from `outrigger init` argv and environment to a validated CaptureConfig and
 * InitOptions. Flags win over environment variables, which win over Istio's defaults. Every bad
 * value (and every unknown flag) is reported at once as one InvalidInput error; the caller exits
 * 2 before touching the kernel.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CaptureConfig } from '../capture/capture-config.js';
import { buildCaptureConfig, type RawCaptureSettings } from '../capture/build-capture-config.js';
import { parseBoolean, parsePort } from '../capture/capture-values.js';
import { type FieldProblem, invalidInput, isOutriggerError } from '../common/errors.js';
import { CommandLogLevels, isLogLevel } from '../common/log-levels.js';
import { CaptureEnvOnly, CaptureFlags } from '../capture/capture-flags.js';
import { type BackendChoice, BackendChoices } from '../apply/select-backend.js';
import type { InitOptions, Ipv6Mode } from './init-options.js';
import { parseDurationMs } from '../common/duration.js';
import { flagLabel, indexFlags, normalisePflagArgs } from './normalise-pflag-args.js';

export interface ParsedInit {
  readonly capture: CaptureConfig;
  readonly options: InitOptions;
}

type Env = Readonly<Record<string, string | undefined>>;

interface OptionFlag {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly describe: string;
}

export const OptionFlags: Readonly<Record<string, OptionFlag>> = {
  'dry-run': { short: 'n', type: 'boolean', describe: 'Print the iptables-restore input (the nft script with --native-nftables); change nothing' },
  output: { type: 'string', describe: 'With --dry-run: text or json (default text)' },
  'cleanup-only': { type: 'boolean', describe: 'Remove every rule, chain, route and address outrigger added' },
  'run-validation': { type: 'boolean', describe: 'Prove that redirection works; exit 126 if it does not' },
  'skip-rule-apply': { type: 'boolean', describe: 'Do not apply rules (use with --run-validation in CNI mode)' },
  'iptables-probe-port': { type: 'string', describe: 'Destination port the validation probe connects to (default 15002)' },
  'probe-timeout': { type: 'string', describe: 'How long validation may take, e.g. 5s (default 5s)' },
  ipv6: { type: 'string', describe: 'auto (from the pod\'s addresses), true or false (default auto)' },
  'resolv-conf': { type: 'string', describe: 'Where DNS servers come from (default /etc/resolv.conf)' },
  'iptables-backend': { type: 'string', describe: 'auto, legacy, nft or plain (default auto, chosen as Istio does)' },
  'network-namespace': { type: 'string', describe: 'Apply in this network namespace (path)' },
  'log-level': { type: 'string', describe: 'debug, info, warn, error or silent (default info)' },
  'restore-format': { short: 'f', type: 'boolean', describe: 'Accepted for istio-iptables compatibility; always on' },
  help: { short: 'h', type: 'boolean', describe: 'Show this help' },
};

const allFlags: readonly (readonly [string, OptionFlag])[] = [
  ...CaptureFlags.map((f) => [f.long, { type: f.kind, describe: f.describe, ...(f.short ? { short: f.short } : {}) }] as const),
  ...Object.entries(OptionFlags),
];

const parseArgsOptions: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  allFlags.map(([long, f]) => [long, { type: f.type, multiple: true, ...(f.short ? { short: f.short } : {}) }]),
);

const flagIndex = indexFlags(allFlags.map(([long, f]) => ({ long, type: f.type, ...(f.short ? { short: f.short } : {}) })));

export function initUsage(): string {
  const rows = allFlags.map(([long, f]) => {
    const name = `${f.short ? `-${f.short}, ` : '    '}--${long}${f.type === 'string' ? ' VALUE' : ''}`;
    return `  ${name.padEnd(50)}${f.describe}`;
  });
  return `Usage: outrigger init [flags]\n\nApply the capture rules (istio-iptables compatible) in this network namespace.\n\nFlags:\n${rows.join('\n')}\n`;
}

/** A flag given twice keeps the last value, as pflag does. */
function lastValue(value: unknown): unknown {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function collectCaptureSettings(args: Record<string, unknown>, env: Env): RawCaptureSettings {
  const raw: Partial<Record<string, { text: string; source: string }>> = {};
  for (const f of CaptureFlags) {
    const value = lastValue(args[f.long]);
    if (value !== undefined) {
      raw[f.setting] = { text: String(value), source: flagLabel(f.long, f.short) };
      continue;
    }
    const envName = f.env.find((name) => env[name] !== undefined && env[name] !== '');
    if (envName) raw[f.setting] = { text: env[envName] ?? '', source: `env ${envName}` };
  }
  for (const { env: name, setting } of CaptureEnvOnly) {
    const text = env[name];
    if (text !== undefined && text !== '') raw[setting] = { text, source: `env ${name}` };
  }
  return raw as RawCaptureSettings;
}

function collectOptions(args: Record<string, unknown>, problems: FieldProblem[]): InitOptions {
  const str = (name: string): string | undefined => {
    const v = lastValue(args[name]);
    return v === undefined ? undefined : String(v);
  };
  const bool = (name: string): boolean => lastValue(args[name]) === true;

  const output = str('output') ?? 'text';
  if (output !== 'text' && output !== 'json') problems.push({ source: '--output', value: output, reason: 'must be text or json' });

  const probePortText = str('iptables-probe-port') ?? '15002';
  const probePort = parsePort(probePortText);
  if (!probePort.ok) problems.push({ source: '--iptables-probe-port', value: probePortText, reason: probePort.reason });

  const timeoutText = str('probe-timeout') ?? '5s';
  const probeTimeoutMs = parseDurationMs(timeoutText);
  if (probeTimeoutMs === null || probeTimeoutMs <= 0 || probeTimeoutMs > 600_000) {
    problems.push({ source: '--probe-timeout', value: timeoutText, reason: 'must be a duration between 1ms and 10m, e.g. 5s or 500ms' });
  }

  const ipv6Text = str('ipv6') ?? 'auto';
  let ipv6: Ipv6Mode = 'auto';
  if (ipv6Text !== 'auto') {
    const parsed = parseBoolean(ipv6Text);
    if (parsed.ok && ipv6Text.trim() !== '') ipv6 = parsed.value;
    else problems.push({ source: '--ipv6', value: ipv6Text, reason: 'must be auto, true or false' });
  }

  const backendText = str('iptables-backend') ?? 'auto';
  const backend = BackendChoices.find((b) => b === backendText);
  if (!backend) problems.push({ source: '--iptables-backend', value: backendText, reason: `must be one of ${BackendChoices.join(', ')}` });

  const logLevel = str('log-level') ?? 'info';
  if (!isLogLevel(logLevel, CommandLogLevels)) {
    problems.push({ source: '--log-level', value: logLevel, reason: 'must be debug, info, warn, error or silent' });
  }

  const resolvConfPath = str('resolv-conf') ?? '/etc/resolv.conf';
  if (resolvConfPath === '') problems.push({ source: '--resolv-conf', value: '', reason: 'must be a file path' });
  const networkNamespace = str('network-namespace');
  if (networkNamespace !== undefined && !networkNamespace.startsWith('/')) {
    problems.push({ source: '--network-namespace', value: networkNamespace, reason: 'must be an absolute path such as /var/run/netns/NAME' });
  }

  const options: InitOptions = {
    dryRun: bool('dry-run'),
    output: output === 'json' ? 'json' : 'text',
    cleanupOnly: bool('cleanup-only'),
    runValidation: bool('run-validation'),
    skipRuleApply: bool('skip-rule-apply'),
    probePort: probePort.ok ? probePort.value : 15002,
    probeTimeoutMs: probeTimeoutMs ?? 5000,
    ipv6,
    resolvConfPath,
    backend: (backend ?? 'auto') as BackendChoice,
    ...(networkNamespace !== undefined ? { networkNamespace } : {}),
    logLevel,
  };
  if (options.dryRun && options.cleanupOnly) {
    problems.push({ source: '--cleanup-only', value: 'true', reason: 'cannot be combined with --dry-run' });
  }
  return options;
}

export type ParseInitResult = { readonly kind: 'help' } | ({ readonly kind: 'run' } & ParsedInit);

export function parseInitFlags(argv: readonly string[], env: Env): ParseInitResult {
  // pflag's spellings (`-c=net1`, `-c -abc`, `-n=false`, clusters) become `--long=value` first.
  const { args: normalised, problems } = normalisePflagArgs(argv, flagIndex);
  let args: Record<string, unknown>;
  try {
    args = parseArgs({ args: normalised, options: parseArgsOptions, strict: true, allowPositionals: false, allowNegative: true }).values;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
    throw invalidInput([...problems, { source: 'arguments', value: argv.join(' '), reason: message }], 'flags');
  }
  // Help only for a command line pflag would read; otherwise every problem is reported below.
  if (lastValue(args.help) === true && problems.length === 0) return { kind: 'help' };

  const options = collectOptions(args, problems);
  let capture: CaptureConfig | undefined;
  try {
    capture = buildCaptureConfig(collectCaptureSettings(args, env));
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    problems.push(...error.problems);
  }
  if (capture?.nativeNftables && options.backend !== 'auto') {
    problems.push({ source: '--iptables-backend', value: options.backend, reason: 'cannot be combined with --native-nftables, which applies without iptables' });
  }
  if (problems.length > 0 || !capture) throw invalidInput(problems, 'flags');
  return { kind: 'run', capture, options };
}
