/**
 * A test "node" for CNI tests: a node namespace (where the bridge lives and the plugins run), a
 * pod namespace, a CNI bin directory with Debian's reference plugins (/usr/lib/cni) and the built
 * dist/outrigger-cni, and a conflist chaining bridge + host-local, portmap and outrigger-cni.
 * Bridge name and subnets (198.18.X.0/24, 2001:db8:X::/64) are random per call; host-local keeps
 * its leases in a per-call directory. destroy() removes all of it.
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { encodeCaptureSettings, rawSettingsFromAnnotations } from '../../capture/pod-annotations.js';
import type { Conflist, RuntimeCall } from './cni-runtime.js';
import { createNamespace, type Namespace } from './netns.js';

export const cniPluginPath = fileURLToPath(new URL('../../dist/outrigger-cni', import.meta.url));
export const ReferencePluginDir = '/usr/lib/cni';
export const PodAnnotationsCapability = 'io.kubernetes.cri.pod-annotations';
export const SettingsAnnotation = 'outrigger.dev/capture-settings';

/** The annotation value the injector writes for a pod with Istio's defaults (`-i * -b * -d 15090,15021,15020`). */
export function defaultSettingsAnnotation(extra: Readonly<Record<string, string>> = {}): string {
  const { raw } = rawSettingsFromAnnotations({});
  return encodeCaptureSettings({ ...raw, ...Object.fromEntries(Object.entries(extra).map(([k, text]) => [k, { text, source: 'test' }])) });
}

export function requireCniPlugins(): void {
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!existsSync(join(ReferencePluginDir, plugin))) {
      throw new Error(`${ReferencePluginDir}/${plugin} is missing: install Debian's containernetworking-plugins (scripts/setup-host.sh)`);
    }
  }
  if (!existsSync(cniPluginPath)) throw new Error(`${cniPluginPath} is missing: run \`npm run build:cni\` (npm test builds it)`);
}

export interface CniNode {
  readonly node: Namespace;
  readonly pod: Namespace;
  readonly binDir: string;
  readonly dataDir: string;
  readonly bridge: string;
  readonly gatewayV4: string;
  readonly gatewayV6: string;
  readonly containerId: string;
  readonly podUid: string;
  readonly list: (outrigger?: Record<string, unknown>, cniVersion?: string) => Conflist;
  readonly call: (overrides?: Partial<RuntimeCall> & { annotations?: Record<string, string> | null }) => RuntimeCall;
  destroy(): void;
}

export function createCniNode(): CniNode {
  const node = createNamespace('or-node');
  const pod = createNamespace('or-pod');
  const dataDir = mkdtempSync(join(tmpdir(), 'or-cni-'));
  const binDir = join(dataDir, 'bin');
  mkdirSync(binDir);
  symlinkSync(cniPluginPath, join(binDir, 'outrigger-cni'));
  const x = 1 + ((randomBytes(1)[0] ?? 0) % 250);
  const bridge = `orbr${randomBytes(4).toString('hex')}`.slice(0, 15);
  const containerId = randomBytes(16).toString('hex');
  const podUid = randomUUID();
  return {
    node,
    pod,
    binDir,
    dataDir,
    bridge,
    gatewayV4: `198.18.${x}.1`,
    gatewayV6: `2001:db8:${x.toString(16)}::1`,
    containerId,
    podUid,
    list(outrigger = {}, cniVersion = '1.0.0') {
      return {
        cniVersion,
        name: 'or-test-net',
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            ipam: {
              type: 'host-local',
              dataDir: join(dataDir, 'ipam'),
              ranges: [[{ subnet: `198.18.${x}.0/24` }], [{ subnet: `2001:db8:${x.toString(16)}::/64` }]],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true }, snat: false },
          {
            type: 'outrigger-cni',
            capabilities: { [PodAnnotationsCapability]: true },
            logFile: join(dataDir, 'outrigger-cni.log'),
            logLevel: 'debug',
            ...outrigger,
          },
        ],
      };
    },
    call(overrides = {}) {
      const { annotations, ...rest } = overrides;
      const podAnnotations = annotations === undefined ? { [SettingsAnnotation]: defaultSettingsAnnotation() } : annotations;
      return {
        containerId,
        netns: pod.path,
        ifName: 'eth0',
        args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=${podUid}`,
        capabilityArgs: {
          portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp' }],
          ...(podAnnotations ? { [PodAnnotationsCapability]: podAnnotations } : {}),
        },
        binDirs: [binDir, ReferencePluginDir],
        ...rest,
      };
    },
    destroy() {
      pod.destroy();
      node.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Our rules in the pod: anything mentioning ISTIO_ chains or outrigger comments, both families and backends. */
export async function ownRules(pod: Namespace): Promise<string> {
  const found: string[] = [];
  for (const family of [4, 6] as const) {
    for (const backend of ['nft', 'legacy'] as const) {
      const saved = await pod.save(family, backend);
      found.push(...saved.split('\n').filter((l) => /ISTIO_|outrigger\//.test(l)).map((l) => `v${family} ${backend}: ${l}`));
    }
  }
  const listed = await pod.run('nft', ['list', 'ruleset']);
  found.push(...listed.stdout.split('\n').filter((l) => /istio-proxy-|outrigger\//.test(l)).map((l) => `nftables: ${l.trim()}`));
  return found.join('\n');
}

