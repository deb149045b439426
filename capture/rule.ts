/**
 * Rules as data. A plan is a list of these per address family; the iptables-restore text, the
 * cleanup and the "already applied?" check are all derived from the same list.
 */

import type { IpFamily } from './capture-config.js';

export const Tables = ['mangle', 'nat', 'raw'] as const;
export type Table = (typeof Tables)[number];

/** Istio's chain names, kept so `iptables-save` in a pod reads the same as with istio-init. */
export const Chains = {
  inbound: 'ISTIO_INBOUND',
  inRedirect: 'ISTIO_IN_REDIRECT',
  output: 'ISTIO_OUTPUT',
  redirect: 'ISTIO_REDIRECT',
  outputDns: 'ISTIO_OUTPUT_DNS',
  divert: 'ISTIO_DIVERT',
  tproxy: 'ISTIO_TPROXY',
  drop: 'ISTIO_DROP',
} as const;

export const OwnChainNames: readonly string[] = Object.values(Chains);

export const BuiltinChains = ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'] as const;

export function isBuiltinChain(chain: string): boolean {
  return (BuiltinChains as readonly string[]).includes(chain);
}

export interface Rule {
  readonly table: Table;
  readonly chain: string;
  /** 1-based position for an insert (`-I CHAIN N`); absent for an append (`-A CHAIN`). */
  readonly insertAt?: number;
  /** Match and target arguments, e.g. `['-p', 'tcp', '--dport', '15008', '-j', 'RETURN']`. */
  readonly spec: readonly string[];
  /** Why the rule exists; rendered as `-m comment --comment "outrigger/<purpose>"`. */
  readonly purpose: string;
}

export interface FamilyPlan {
  readonly family: IpFamily;
  readonly rules: readonly Rule[];
}

/** The target of a rule (`-j X`), if any. */
export function ruleTarget(rule: Rule): string | undefined {
  const index = rule.spec.indexOf('-j');
  return index >= 0 ? rule.spec[index + 1] : undefined;
}
