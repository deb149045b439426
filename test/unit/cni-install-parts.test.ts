/**
 * The installer's other pure parts: flag parsing (every bad flag named), the plugin entry, the
 * kubeconfig rendering, the repair decision per pod, and matching a pod UID in /proc/PID/cgroup
 * as the kubelet lays cgroups out with the cgroupfs and systemd drivers.
 */

import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { OutriggerError } from '../../common/errors.js';
import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';
import { parseInstallFlags } from '../../cni-plugin/install/install-options.js';
import { pluginEntry } from '../../cni-plugin/install/plugin-entry.js';
import { findNodeTool } from '../../cni-plugin/install/node-tools.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderKubeconfig } from '../../cni-plugin/install/render-kubeconfig.js';
import { cgroupNamesPod } from '../../cni-plugin/repair/find-pod-netns.js';
import { decideRepair, type Pod, SkipReasons } from '../../cni-plugin/repair/repair-decisions.js';

const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', NODE_NAME: 'worker-1' };

function options(argv: string[], e: Record<string, string | undefined> = env) {
  const result = parseInstallFlags(argv, e);
  if (result.kind !== 'options') throw new Error('expected options');
  return result.options;
}

function problems(argv: string[], e: Record<string, string | undefined> = env): string[] {
  try {
    parseInstallFlags(argv, e);
  } catch (error) {
    if (error instanceof OutriggerError) return error.problems.map((p) => `${p.source}=${p.value}`);
    throw error;
  }
  throw new Error('expected an error');
}

describe('install flags', () => {
  it('has the DaemonSet defaults', () => {
    expect(options([])).toMatchObject({
      cniBinDir: '/host/opt/cni/bin', cniConfDir: '/host/etc/cni/net.d', hostCniConfDir: '/etc/cni/net.d',
      pluginBinary: '/opt/outrigger/bin/outrigger-cni', kubeconfigName: 'ZZZ-outrigger-cni-kubeconfig',
      excludeNamespaces: ['kube-system', 'outrigger'], repairMode: 'delete', nodeName: 'worker-1', metricsPort: 15014,
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token', hostProc: '/host/proc', apiServer: 'https://10.96.0.1:443',
      resyncMs: 30_000, repairIntervalMs: 10_000, logLevel: 'info', pluginLogLevel: 'info',
      nativeNftables: false, hostToolDirs: ['/host/usr/sbin'],
    });
  });

  it('--native-nftables is true or false, and puts nativeNftables in the plugin entry', () => {
    expect(options(['--native-nftables=true']).nativeNftables).toBe(true);
    expect(pluginEntry(options(['--native-nftables=true']))).toMatchObject({ nativeNftables: true });
    expect(pluginEntry(options([]))).not.toHaveProperty('nativeNftables');
    expect(problems(['--native-nftables=yes', '--host-tool-dirs', 'usr/sbin'])).toEqual(['--native-nftables=yes', '--host-tool-dirs=usr/sbin']);
  });

  it('brackets an IPv6 service host', () => {
    expect(options([], { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' }).apiServer).toBe('https://[fd00::1]:443');
  });

  it('names every bad flag at once', () => {
    expect(problems(['--repair-mode', 'fix', '--metrics-port', '70000', '--cni-bin-dir', 'bin', '--kubeconfig-name', '99-x.conflist',
      '--exclude-namespaces', 'ok,Not_OK', '--resync-interval', 'soon', '--log-level', 'loud', '--nope', 'stray'], { NODE_NAME: '' })).toEqual([
      '--nope=', 'argument=stray',
      '--cni-bin-dir=bin', '--kubeconfig-name=99-x.conflist', '--exclude-namespaces=Not_OK', '--log-level=loud',
      '--repair-mode=fix', '--node-name=', '--metrics-port=70000',
      'env KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT=:', '--resync-interval=soon',
    ]);
  });

  it('needs a node name unless repair is off', () => {
    expect(problems([], { ...env, NODE_NAME: undefined })).toEqual(['--node-name=']);
    expect(options(['--repair-mode', 'off'], { ...env, NODE_NAME: undefined }).nodeName).toBe('');
  });

  it('--kubeconfig replaces the in-cluster address', () => {
    expect(options(['--kubeconfig', '/tmp/k'], { NODE_NAME: 'n' })).toMatchObject({ kubeconfig: '/tmp/k' });
  });

  it('--help wins', () => {
    expect(parseInstallFlags(['--help'], {})).toEqual({ kind: 'help' });
  });
});

describe('plugin entry', () => {
  it('carries the keys outrigger-cni reads and the pod-annotations capability', () => {
    expect(pluginEntry(options(['--exclude-namespaces', 'kube-system', '--plugin-log-level', 'debug']))).toEqual({
      type: 'outrigger-cni', logLevel: 'debug', kubeconfig: '/etc/cni/net.d/ZZZ-outrigger-cni-kubeconfig',
      excludeNamespaces: ['kube-system'], capabilities: { 'io.kubernetes.cri.pod-annotations': true },
    });
  });
});

describe('node tools', () => {
  it('finds an executable nft in the mounted sbin directories, and nothing where there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'or-sbin-'));
    try {
      expect(findNodeTool('nft', [dir])).toEqual([]);
      writeFileSync(join(dir, 'nft'), '#!/bin/sh\n');
      expect(findNodeTool('nft', [dir])).toEqual([]); // not executable
      chmodSync(join(dir, 'nft'), 0o755);
      expect(findNodeTool('nft', ['/nonexistent', dir])).toEqual([dir]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kubeconfig', () => {
  it('is a valid kubeconfig with the CA inline and the token', () => {
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    const doc = parse(renderKubeconfig({ server: 'https://[fd00::1]:443', caPem: ca, token: 'tok"en' })) as Record<string, any>;
    expect(doc['current-context']).toBe('outrigger-cni');
    expect(doc.clusters[0].cluster.server).toBe('https://[fd00::1]:443');
    expect(Buffer.from(doc.clusters[0].cluster['certificate-authority-data'], 'base64').toString()).toBe(ca);
    expect(doc.users[0].user.token).toBe('tok"en');
    expect(doc.contexts[0].context).toEqual({ cluster: 'local', user: 'outrigger-cni' });
  });
});

const uid = '5f0e2c5a-9a3b-4c1e-8d7f-0123456789ab';
function pod(overrides: { created?: string; ns?: string; annotated?: boolean; hostNetwork?: boolean; node?: string; deleting?: boolean; statuses?: unknown[] } = {}): Pod {
  return {
    metadata: {
      name: 'web-1', namespace: overrides.ns ?? 'shop', uid, creationTimestamp: overrides.created ?? '2026-01-01T00:00:00Z',
      ...(overrides.annotated === false ? {} : { annotations: { [CaptureSettingsAnnotation]: '{}' } }),
      ...(overrides.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { nodeName: overrides.node ?? 'worker-1', ...(overrides.hostNetwork ? { hostNetwork: true } : {}) },
    status: { initContainerStatuses: (overrides.statuses ?? [{ name: 'proxy-validation', restartCount: 2, state: { terminated: { exitCode: 126 } } }]) as never },
  };
}

describe('repair decision', () => {
  const opts = { nodeName: 'worker-1', excludeNamespaces: ['kube-system'], installedAtMs: Date.parse('2026-01-01T00:10:00Z') };
  it('repairs a prepared pod whose validation exited 126, now or before its back-off', () => {
    expect(decideRepair(pod(), opts)).toEqual({ repair: true, restartCount: 2 });
    const waiting = [{ name: 'proxy-validation', restartCount: 3, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 126 } } }];
    expect(decideRepair(pod({ statuses: waiting }), opts)).toEqual({ repair: true, restartCount: 3 });
    // Created just after the install time, within the allowed clock skew: still repaired.
    expect(decideRepair(pod({ created: '2026-01-01T00:10:20Z' }), opts)).toEqual({ repair: true, restartCount: 2 });
  });
  it.each([
    [{ annotated: false }, SkipReasons.notPrepared],
    [{ ns: 'kube-system' }, SkipReasons.excludedNamespace],
    [{ hostNetwork: true }, SkipReasons.hostNetwork],
    [{ node: 'worker-2' }, SkipReasons.otherNode],
    [{ deleting: true }, SkipReasons.terminating],
    [{ statuses: [{ name: 'proxy-validation', state: { terminated: { exitCode: 0 } } }] }, SkipReasons.captured],
    [{ statuses: [{ name: 'proxy-validation', state: { terminated: { exitCode: 1 } } }] }, SkipReasons.captured],
    [{ statuses: [{ name: 'proxy-validation', state: { running: {} }, lastState: { terminated: { exitCode: 126 } } }] }, SkipReasons.captured],
    [{ statuses: [{ name: 'other-init', state: { terminated: { exitCode: 126 } } }] }, SkipReasons.captured],
    [{ created: '2026-01-01T00:11:00Z' }, SkipReasons.startedAfterInstall],
  ])('leaves %j alone (%s)', (overrides, reason) => {
    expect(decideRepair(pod(overrides), opts)).toEqual({ repair: false, reason });
  });
});

describe('pod UID in /proc/PID/cgroup', () => {
  it.each([
    ['cgroup v1, cgroupfs driver', `12:memory:/kubepods/besteffort/pod${uid}/0123abcd\n1:name=systemd:/kubepods/besteffort/pod${uid}/0123abcd\n`],
    ['cgroup v2, systemd driver', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice/cri-containerd-0123.scope\n`],
    ['cgroup v2, guaranteed QoS, cgroupfs', `0::/kubepods/pod${uid}/0123\n`],
  ])('matches %s', (_name, text) => {
    expect(cgroupNamesPod(text, uid)).toBe(true);
  });
  it('does not match another pod, a prefix, or the host', () => {
    expect(cgroupNamesPod(`0::/kubepods/besteffort/pod${uid.replace('ab', 'ac')}/0123\n`, uid)).toBe(false);
    expect(cgroupNamesPod(`0::/kubepods/besteffort/pod${uid}0/0123\n`, uid)).toBe(false);
    expect(cgroupNamesPod('0::/system.slice/containerd.service\n', uid)).toBe(false);
  });
});
