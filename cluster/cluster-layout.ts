/**
 * Where a test cluster lives: its versions, address plan, ports and folders, in one place.
 *
 * Address plan (all inside the test ranges 198.18.0.0/15 and 2001:db8::/32, nothing routable):
 * - Each cluster has its own network namespace, joined to the host by one veth pair on a /30 out of
 *   198.18.0.0/24 (host .1 of the /30, cluster .2). That /30 is the only route between them; the
 *   cluster namespace has no default route and blackholes both test ranges, so a packet to any
 *   address the cluster does not own goes nowhere.
 * - Service CIDRs 198.19.0.0/16 and 2001:db8:2::/112; pod CIDRs 198.18.64.0/18 and 2001:db8:1::/56
 *   (a /24 and a /64 per node). They exist only inside the cluster's namespace, so two clusters
 *   on one machine can use the same ones.
 * Limits: at most 64 clusters at once on a machine (the /30s of 198.18.0.0/24).
 */

export const KubernetesVersion = 'v1.34.4';

export const ClusterCidrs = {
  serviceV4: '198.19.0.0/16',
  serviceV6: '2001:db8:2::/112',
  /** The first address of each service range: the `kubernetes` Service's ClusterIPs. */
  firstServiceIpV4: '198.19.0.1',
  firstServiceIpV6: '2001:db8:2::1',
  podV4: '198.18.64.0/18',
  podV6: '2001:db8:1::/56',
  /** Every address the tests may use; blackholed in the cluster namespace. */
  testRangeV4: '198.18.0.0/15',
  testRangeV6: '2001:db8::/32',
  /** The /30 links between the host and each cluster are cut from here. */
  linkPoolV4: '198.18.0.0/24',
} as const;

export const ClusterPorts = {
  apiServer: 6443,
  etcdClient: 2379,
  etcdPeer: 2380,
  controllerManager: 10257,
  scheduler: 10259,
} as const;

export const ClusterDomain = 'cluster.local';

/** All clusters' folders are under this root (stale ones are removed by the next start). */
export const ClustersRoot = '/run/outrigger-cluster';

export interface ClusterAddresses {
  /** Host end of the link: what the cluster sees the host as. */
  readonly hostIp: string;
  /** Cluster end of the link: the API server's advertised address (and the node's, later). */
  readonly clusterIp: string;
}

/** The /30 with index 0..63 of the link pool. */
export function linkAddresses(index: number): ClusterAddresses {
  if (!Number.isInteger(index) || index < 0 || index > 63) throw new Error(`link index ${index} is outside 0..63`);
  return { hostIp: `198.18.0.${index * 4 + 1}`, clusterIp: `198.18.0.${index * 4 + 2}` };
}

/** Names derived from a cluster id (6 hex digits): namespace, veth ends (<= 15 characters). */
export function clusterNames(id: string): { readonly netns: string; readonly hostVeth: string; readonly clusterVeth: string } {
  if (!/^[0-9a-f]{6}$/.test(id)) throw new Error(`cluster id must be 6 hex digits, not '${id}'`);
  return { netns: `orc-${id}`, hostVeth: `orc${id}h`, clusterVeth: `orc${id}c` };
}
