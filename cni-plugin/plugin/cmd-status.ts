/**
 * STATUS and GC (CNI 1.1.0). STATUS reports code 50 when ADD could not work on this node: no
 * nsenter, no iptables-restore of any backend, no nft when the network config asks for native
 * nftables, or a configured kubeconfig that cannot be read.
 * GC has nothing to collect: the plugin keeps no state outside pod namespaces, which the
 * runtime removes with the pods.
 */

import { createCommandRunner } from '../../apply/create-command-runner.js';
import { CniError, CniErrorCodes } from '../skel/cni-error.js';
import { readKubeconfig } from '../kube/read-kubeconfig.js';
import { NODE_PATH, type PluginContext } from './plugin-context.js';

export async function cmdStatus(ctx: PluginContext, envPath: string | undefined): Promise<void> {
  const runner = createCommandRunner({ path: envPath ? `${envPath}:${NODE_PATH}` : NODE_PATH });
  const problems: string[] = [];
  if (!(await runner.has('nsenter'))) problems.push('nsenter is not on PATH');
  const restores = ['iptables-nft-restore', 'iptables-legacy-restore', 'iptables-restore'];
  if (!(await Promise.all(restores.map((r) => runner.has(r)))).some(Boolean)) problems.push('no iptables-restore on PATH');
  if (ctx.conf.nativeNftables && !(await runner.has('nft'))) problems.push('nft is not on PATH (nativeNftables is set): install nftables on the node');
  if (ctx.conf.kubeconfig) {
    await readKubeconfig(ctx.conf.kubeconfig).catch((error: unknown) => problems.push(error instanceof Error ? error.message : String(error)));
  }
  if (problems.length > 0) throw new CniError(CniErrorCodes.pluginNotAvailable, 'outrigger-cni cannot serve ADD on this node', problems.join('\n'));
}
