/**
 * The capture backends every real-kernel capture test runs for: the same case table drives both,
 * only the flag that selects the backend and the way its rules are read back differ.
 */

import type { Namespace } from './netns.js';
import { listRuleset } from './nft.js';

export interface CaptureBackend {
  readonly name: 'iptables' | 'nftables';
  /** Extra `outrigger init` arguments that select it. */
  readonly args: readonly string[];
  /** Capture settings (annotation / CNI) that select it. */
  readonly settings: Readonly<Record<string, string>>;
}

export const CaptureBackends: readonly CaptureBackend[] = [
  { name: 'iptables', args: [], settings: {} },
  { name: 'nftables', args: ['--native-nftables'], settings: { nativeNftables: 'true' } },
];

/** What a namespace's packet filter holds: both iptables families (nft backend) and the nftables ruleset. */
export async function filterState(ns: Namespace): Promise<string> {
  return [await ns.save(4), await ns.save(6), await listRuleset(ns)].join('\n---\n');
}

/** Whether the namespace holds any rule or chain of ours, in either backend. */
export async function holdsCapture(ns: Namespace): Promise<boolean> {
  return /ISTIO_|istio-proxy-|outrigger\//.test(await filterState(ns));
}
