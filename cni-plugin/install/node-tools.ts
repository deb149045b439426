/**
 * Whether the node has the tools the plugin will run there. The plugin runs `nft` from the node
 * (it is executed by the runtime on the host), so with native nftables the installer looks for it
 * in the node's sbin directories (mounted read-only into the DaemonSet) and reports a node without
 * it at install time, instead of letting each pod's ADD fail later.
 */

import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/** The directories (of those given) that hold an executable `name`; empty when none does. */
export function findNodeTool(name: string, dirs: readonly string[]): string[] {
  return dirs.filter((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
