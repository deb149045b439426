/**
 * Rules with no kernel: what `outrigger init` would apply for proxy-init flags (after `--`, with
 * the environment variables Istio reads given as NAME=VALUE words), planned by the same planner
 * and laid out as the chosen backend does (iptables, or native nftables with --native-nftables).
 * The facts a plan needs and a manifest or flags do not give are stated: IPv6 is planned when
 * proxy-init would (--ipv6 true, or auto and the pod has an IPv6 address: an IPv6 connection or
 * --pod-ip says so), and DNS capture captures the nameservers given (--dns-server; proxy-init's own
 * --resolv-conf when given; else the usual cluster DNS 10.96.0.10).
 */

import { readFileSync } from 'node:fs';
import type { CaptureConfig, HostFacts } from '../../capture/capture-config.js';
import { parseResolvConf } from '../../capture/parse-resolv-conf.js';
import { planCapture } from '../../capture/plan-capture.js';
import { ErrorCodes, invalidInput, isOutriggerError, OutriggerError } from '../../common/errors.js';
import type { PathRuleset } from '../../explain/path-model.js';
import { iptablesTablesOf, nftTablesOf } from '../../explain/plan-ruleset.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';

export const DefaultClusterDns = '10.96.0.10';

export interface PlanFacts {
  /** proxy-init's --ipv6 (auto: whether the pod has IPv6, from `podHasIpv6`). */
  readonly ipv6: 'auto' | boolean;
  readonly podHasIpv6: boolean;
  /** --dns-server values; empty: the default. */
  readonly dnsServers: readonly string[];
}

export function plannedRuleset(config: CaptureConfig, facts: PlanFacts, what: string, resolvConf?: { v4: string[]; v6: string[] }): PathRuleset {
  const notes: string[] = [];
  const ipv6 = facts.ipv6 === 'auto' ? facts.podHasIpv6 : facts.ipv6;
  if (facts.ipv6 === 'auto') notes.push(`IPv6 is ${ipv6 ? '' : 'not '}planned: --ipv6 auto plans it when the pod has an IPv6 address (${ipv6 ? 'it has' : 'none was given; an IPv6 --to or --pod-ip says it has one'})`);
  let servers = resolvConf;
  if (!servers) {
    const given = facts.dnsServers.length > 0 ? facts.dnsServers : [DefaultClusterDns];
    servers = { v4: given.filter((s) => !s.includes(':')), v6: given.filter((s) => s.includes(':')) };
    if (config.redirectDns && !config.captureAllDns && facts.dnsServers.length === 0) notes.push(`DNS capture is planned for the nameserver ${DefaultClusterDns} (give --dns-server for the pod's)`);
  }
  const hostFacts: HostFacts = { ipv6, dnsServersV4: servers.v4, dnsServersV6: servers.v6 };
  const plan = planCapture(config, hostFacts);
  const tables = config.nativeNftables ? nftTablesOf(plan) : iptablesTablesOf(plan);
  const backend = config.nativeNftables ? 'native nftables' : 'iptables';
  return { tables, inputs: [`${what}, planned for ${backend} (IPv4${ipv6 ? ' and IPv6' : ''})`], notes };
}

const EnvWord = /^([A-Z_][A-Z0-9_]*)=(.*)$/s;

/** proxy-init flags and NAME=VALUE environment words → the capture config and plan facts. */
export function rulesFromFlags(argv: readonly string[], facts: Omit<PlanFacts, 'ipv6'>): PathRuleset {
  const env: Record<string, string> = {};
  const flags: string[] = [];
  for (const word of argv) {
    const m = EnvWord.exec(word);
    if (m) env[m[1] ?? ''] = m[2] ?? '';
    else flags.push(word);
  }
  let parsed;
  try {
    parsed = parseInitFlags(flags, env);
  } catch (error) {
    if (isOutriggerError(error) && error.code === ErrorCodes.InvalidInput) {
      throw invalidInput(error.problems.map((p) => ({ ...p, source: `proxy-init ${p.source}` })), 'proxy-init flags after --');
    }
    throw error;
  }
  if (parsed.kind === 'help') throw invalidInput([{ source: '-- --help', value: '', reason: 'is proxy-init\'s help: run outrigger init --help' }], 'flags');
  let resolvConf: { v4: string[]; v6: string[] } | undefined;
  if (flags.some((f) => f === '--resolv-conf' || f.startsWith('--resolv-conf='))) {
    try {
      resolvConf = parseResolvConf(readFileSync(parsed.options.resolvConfPath, 'utf8'));
    } catch (cause) {
      throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read proxy-init --resolv-conf ${parsed.options.resolvConfPath}`, { cause });
    }
  }
  return plannedRuleset(parsed.capture, { ...facts, ipv6: parsed.options.ipv6 }, `proxy-init flags ${argv.join(' ')}`, resolvConf);
}
