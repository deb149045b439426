/**
 * The plan's host facts for a pod, from what the plugin can see on the node: IPv6 is planned
 * when the previous plugin gave the pod a non-link-local IPv6 address; DNS servers are never
 * known here (see pod-capture.ts: CNI mode captures all DNS instead).
 */

import type { HostFacts } from '../../capture/capture-config.js';
import type { ResultAddress } from '../skel/cni-result.js';

export function hostFactsFromResult(addresses: readonly ResultAddress[]): HostFacts {
  const ipv6 = addresses.some((a) => a.family === 6 && !/^fe[89ab]/i.test(a.address) && a.address !== '::1');
  return { ipv6, dnsServersV4: [], dnsServersV6: [] };
}
