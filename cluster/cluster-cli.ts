/**
 * `npm run cluster -- up|down|list|build`: the test cluster by hand.
 *   up [--node]  start a control plane (kept until `down`), with a node (kubelet, containerd, kube-proxy)
 *                when asked; prints its id and how to point kubectl at it
 *   down [ID]    stop one cluster, or every cluster with no ID
 *   list         the clusters on this machine, with their owners
 *   build        build the binaries (as scripts/setup-host.sh does)
 * Run by Node directly (type stripping), so this folder's imports name .ts files.
 */

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildBinaries } from './cluster-binaries.ts';
import { ClustersRoot } from './cluster-layout.ts';
import { readState } from './cluster-state.ts';
import { isRunning } from './component-process.ts';
import { startNode } from './cluster-node.ts';
import { startCluster, stopClusterById } from './cluster.ts';

function clusterIds(): string[] {
  try {
    return readdirSync(ClustersRoot).filter((entry) => /^[0-9a-f]{6}$/.test(entry));
  } catch {
    return [];
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const cluster = await startCluster({ manual: true });
      if (rest.includes('--node')) {
        try {
          const node = await startNode(cluster);
          console.log(`node ${node.name} is Ready (containerd: ctr --address ${node.paths.containerdSocket} -n k8s.io ...)`);
        } catch (error) {
          await cluster.stop();
          throw error;
        }
      }
      console.log(`cluster ${cluster.id} is up (API server ${cluster.apiServerUrl}, namespace ${cluster.netns})`);
      console.log(`  export KUBECONFIG=${cluster.kubeconfig} PATH=${cluster.binDir}:$PATH`);
      console.log(`  logs: ${cluster.logDir}   stop: npm run cluster -- down ${cluster.id}`);
      return 0;
    }
    case 'down': {
      const ids = rest.length > 0 ? rest : clusterIds();
      let failed = 0;
      for (const id of ids) {
        if (await stopClusterById(id)) console.log(`cluster ${id} stopped`);
        else { console.error(`cluster: no cluster ${id}`); failed++; }
      }
      return failed === 0 ? 0 : 1;
    }
    case 'list': {
      for (const id of clusterIds()) {
        const state = readState(join(ClustersRoot, id));
        if (!state) { console.log(`${id}  (no state)`); continue; }
        const running = state.components.filter(isRunning).map((c) => c.name);
        const owner = state.owner ? `owner pid ${state.owner.pid}${isRunning(state.owner) ? '' : ' (gone)'}` : 'started by hand';
        console.log(`${id}  https://${state.clusterIp}:6443  ${owner}  running: ${running.join(', ') || 'nothing'}`);
      }
      return 0;
    }
    case 'build':
      console.log(buildBinaries());
      return 0;
    default:
      console.error('usage: npm run cluster -- up [--node] | down [ID...] | list | build');
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error: unknown) => {
  console.error(`cluster: ${(error as Error).message}`);
  process.exit(1);
});
