/**
 * Outrigger's entry in the node's conflist: the plugin type, the namespaces it leaves alone, the
 * kubeconfig for its API fallback (as the host sees the path), its log level, the capability
 * that makes containerd (1.5+) and CRI-O (1.29+) pass pod annotations in `runtimeConfig`, and
 * `nativeNftables` when the installer was told so.
 */

import { OurPluginType } from './conflist-edit.js';
import type { InstallOptions } from './install-options.js';

export function pluginEntry(options: InstallOptions): Record<string, unknown> {
  return {
    type: OurPluginType,
    logLevel: options.pluginLogLevel,
    kubeconfig: `${options.hostCniConfDir.replace(/\/+$/, '')}/${options.kubeconfigName}`,
    excludeNamespaces: [...options.excludeNamespaces],
    capabilities: { 'io.kubernetes.cri.pod-annotations': true },
    ...(options.nativeNftables ? { nativeNftables: true } : {}),
  };
}
