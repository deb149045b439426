/**
 * Istio's nftables layout, so `nft list ruleset` in a pod reads as with istio-init
 * --native-nftables: three `inet` tables (one per iptables table), base chains named after their
 * hook with Istio's types and numeric priorities (nft 1.0.6 refuses the name `dstnat` on an inet
 * output chain), and Istio's chains in lower case with dashes, declared in Istio's order.
 */

import type { Chain, Table } from './rule.js';

export const NftFamily = 'inet';

export const NftTables: Readonly<Record<Table, string>> = {
  nat: 'istio-proxy-nat',
  mangle: 'istio-proxy-mangle',
  raw: 'istio-proxy-raw',
};

/** Our nft tables in the order a script writes them (Istio's). */
export const NftTableOrder: readonly Table[] = ['nat', 'mangle', 'raw'];

export interface BaseChainSpec {
  readonly type: 'nat' | 'filter' | 'route';
  readonly hook: 'prerouting' | 'output';
  readonly priority: number;
}

/** The hooked chains of each table: nat -100 (dstnat), mangle -150, raw -300, as Istio. */
export const NftBaseChains: Readonly<Record<Table, Readonly<Partial<Record<Chain, BaseChainSpec>>>>> = {
  nat: { PREROUTING: { type: 'nat', hook: 'prerouting', priority: -100 }, OUTPUT: { type: 'nat', hook: 'output', priority: -100 } },
  mangle: { PREROUTING: { type: 'filter', hook: 'prerouting', priority: -150 }, OUTPUT: { type: 'route', hook: 'output', priority: -150 } },
  raw: { PREROUTING: { type: 'filter', hook: 'prerouting', priority: -300 }, OUTPUT: { type: 'filter', hook: 'output', priority: -300 } },
};

/** The order chains are declared in, per table (Istio's). */
export const NftChainOrder: Readonly<Record<Table, readonly Chain[]>> = {
  nat: ['PREROUTING', 'OUTPUT', 'ISTIO_INBOUND', 'ISTIO_REDIRECT', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT', 'ISTIO_OUTPUT_DNS'],
  mangle: ['PREROUTING', 'OUTPUT', 'ISTIO_DIVERT', 'ISTIO_TPROXY', 'ISTIO_INBOUND', 'ISTIO_DROP'],
  raw: ['PREROUTING', 'OUTPUT', 'ISTIO_INBOUND', 'ISTIO_OUTPUT_DNS'],
};

/** `ISTIO_IN_REDIRECT` → `istio-in-redirect`, `PREROUTING` → `prerouting`. */
export function nftChainName(chain: string): string {
  return chain.toLowerCase().replace(/_/g, '-');
}

/** The nft table names of ours, for finding them in a listing. */
export const OwnNftTableNames: readonly string[] = NftTableOrder.map((t) => NftTables[t]);
