/**
 * The cluster's own network namespace: loopback, one veth link to the host on a /30 of the link
 * pool, blackhole routes for both test ranges (the service ranges route to loopback instead, see
 * below) and no default route, so nothing in it can send to any address outside the machine (a route lookup for anything else fails with "Network is
 * unreachable" before a packet exists). Forwarding is on inside it, for pod traffic between
 * bridges later. The host side gets only the /30's connected route.
 * Limits: needs root and iproute2; removal is by deleting the namespace (which takes the veth).
 */

import { existsSync } from 'node:fs';
import { ClusterCidrs, clusterNames, linkAddresses, type ClusterAddresses } from './cluster-layout.ts';
import { run, runOk } from './run-command.ts';

export interface ClusterNetwork extends ClusterAddresses {
  readonly netns: string;
  readonly netnsPath: string;
  readonly hostVeth: string;
  readonly linkIndex: number;
}

/** Link indexes already used on this host (by any cluster, alive or not yet cleaned up). */
function usedLinkIndexes(): Set<number> {
  const used = new Set<number>();
  const out = run('ip', ['-4', '-o', 'addr', 'show']).stdout;
  for (const match of out.matchAll(/inet 198\.18\.0\.(\d+)\//g)) used.add(Math.floor(Number(match[1]) / 4));
  return used;
}

export function createClusterNetwork(id: string): ClusterNetwork {
  const names = clusterNames(id);
  const used = usedLinkIndexes();
  const free = Array.from({ length: 64 }, (_, i) => i).filter((i) => !used.has(i));
  if (free.length === 0) throw new Error('all 64 cluster links of 198.18.0.0/24 are in use on this host');
  const linkIndex = free[Math.floor(Math.random() * free.length)] as number;
  const addresses = linkAddresses(linkIndex);
  const inNs = (args: string[]) => runOk('ip', ['-n', names.netns, ...args]);

  runOk('ip', ['netns', 'add', names.netns]);
  try {
    inNs(['link', 'set', 'lo', 'up']);
    runOk('ip', ['link', 'add', names.hostVeth, 'type', 'veth', 'peer', 'name', names.clusterVeth, 'netns', names.netns]);
    runOk('ip', ['addr', 'add', `${addresses.hostIp}/30`, 'dev', names.hostVeth]);
    runOk('ip', ['link', 'set', names.hostVeth, 'up']);
    inNs(['addr', 'add', `${addresses.clusterIp}/30`, 'dev', names.clusterVeth]);
    inNs(['link', 'set', names.clusterVeth, 'up']);
    inNs(['route', 'add', 'blackhole', ClusterCidrs.testRangeV4]);
    inNs(['-6', 'route', 'add', 'blackhole', ClusterCidrs.testRangeV6]);
    // A node process's connection to a ClusterIP is routed before kube-proxy's DNAT (nat OUTPUT), and
    // a blackhole route fails it at connect() (EINVAL). A real node's default route plays this part;
    // here the service ranges route to loopback, where anything kube-proxy did not DNAT is dropped.
    inNs(['route', 'add', ClusterCidrs.serviceV4, 'dev', 'lo']);
    inNs(['-6', 'route', 'add', ClusterCidrs.serviceV6, 'dev', 'lo']);
    runOk('ip', ['netns', 'exec', names.netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    assertNoRouteOut(names.netns);
  } catch (error) {
    run('ip', ['netns', 'del', names.netns]);
    throw error;
  }
  return { ...addresses, netns: names.netns, netnsPath: `/run/netns/${names.netns}`, hostVeth: names.hostVeth, linkIndex };
}

/**
 * Fails unless the namespace has no default route in either family and routes an address of
 * each documentation range (192.0.2.1, 2001:db8::1 is a test address and blackholed) nowhere.
 * Route lookups only: nothing is sent.
 */
export function assertNoRouteOut(netns: string): void {
  for (const family of ['-4', '-6']) {
    const routes = runOk('ip', ['-n', netns, family, 'route', 'show', 'default']).trim();
    if (routes !== '') throw new Error(`cluster namespace ${netns} has a default route (${family}): ${routes}`);
  }
  for (const address of ['192.0.2.1', '8.8.8.8', '2001:4860:4860::8888', '198.18.200.1', '2001:db8:ffff::1']) {
    const lookup = run('ip', ['-n', netns, 'route', 'get', address]);
    const routed = lookup.status === 0 && !/\b(blackhole|unreachable)\b/.test(lookup.stdout);
    if (routed) throw new Error(`cluster namespace ${netns} routes ${address}: ${lookup.stdout.trim()}`);
  }
}

export function deleteClusterNetwork(netns: string): void {
  if (existsSync(`/run/netns/${netns}`)) run('ip', ['netns', 'del', netns]);
}
