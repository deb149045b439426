/**
 * What the injector writes into a pod works on the real kernel: the proxy-init container's
 * command line, run by the built CLI with only the capabilities the container is given
 * (NET_ADMIN, NET_RAW; no new privileges), captures traffic into the ports the generated Envoy
 * bootstrap listens on, leaves the proxy's readiness and stats ports and its own user alone, and
 * honours the pod's traffic annotations and Istio's inbound-exclusion arithmetic (an app port 15020
 * is captured when the status port is elsewhere; a pod's excludeInboundPorts replaces the
 * mesh-wide list). In CNI mode, the proxy-validation command (as the
 * proxy's user, no capabilities) fails before capture exists and passes once the rules the
 * capture-settings annotation describes are applied. Both backends: with the injector config's
 * capture.nativeNftables, proxy-init's args carry --native-nftables and capture lands in nftables.
 * Stand-ins: probe-server.py plays Envoy (as the proxy container's user) and the apps.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderInitArgs } from '../../capture/render-init-args.js';
import { CaptureSettingsAnnotation, decodeCaptureSettings } from '../../capture/pod-annotations.js';
import { DefaultInjectorConfig, type InjectorConfig, parseInjectorConfig } from '../../injector/config/injector-config.js';
import type { Container, Pod } from '../../injector/kube/pod-types.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { createPodPair, destroyAllNamespaces, type Namespace, type PodPair, requireRealKernel, type RunResult } from '../helpers/netns.js';
import { cliForAnyUser, cliPath } from '../helpers/outrigger-cli.js';
import { hostPort, probe, startProbe, stopAllProbes } from '../helpers/probes.js';
import { type CaptureBackend, CaptureBackends } from '../helpers/capture-backends.js';
import { listRuleset } from '../helpers/nft.js';

/** The injector configuration that selects a backend (the default one for iptables). */
const configFor = (backend: CaptureBackend, extra = ''): InjectorConfig =>
  backend.name === 'nftables' || extra ? parseInjectorConfig(`${extra}${backend.name === 'nftables' ? 'capture:\n  nativeNftables: true\n' : ''}`, 'injector.yaml') : DefaultInjectorConfig;

type Obj = Record<string, any>;
const APP = { uid: 1000, gid: 1000 };

beforeAll(() => requireRealKernel(['nft']));
afterEach(() => stopAllProbes());
afterAll(() => destroyAllNamespaces());

interface Injected {
  readonly pod: Pod;
  readonly first: Container;
  readonly proxy: Container;
  readonly ports: { outbound: number; inbound: number; readiness: number; prometheus: number };
}

function inject(annotations: Record<string, string>, config: InjectorConfig = DefaultInjectorConfig): Injected {
  const review = reviewPod({
    pod: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app', annotations }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    namespace: 'shop',
    config,
  });
  if (review.kind !== 'inject') throw new Error(`expected an injection, got ${JSON.stringify(review)}`);
  const all = [...(review.pod.spec.initContainers ?? []), ...review.pod.spec.containers];
  const first = review.pod.spec.initContainers?.[0] as Container;
  const proxy = all.find((c) => c.name === config.containerNames.proxy) as Container;
  // The bootstrap as Envoy will read it: the kubelet expands $(VAR) and turns $$ into $.
  const arg = (proxy.args ?? [])[(proxy.args ?? []).indexOf('--config-yaml') + 1] as string;
  const bootstrap = JSON.parse(arg.replace(/\$\$\(|\$\((\w+)\)/g, (_m, name: string | undefined) => (name ? `x` : '$('))) as Obj;
  const port = (name: string): number => (bootstrap.static_resources.listeners as Obj[]).find((l) => l.name === name)?.address.socket_address.port_value as number;
  return { pod: review.pod, first, proxy, ports: { outbound: port('outbound_capture'), inbound: port('inbound_capture'), readiness: port('readiness'), prometheus: port('prometheus') } };
}

/** Runs an added container's `outrigger` command in the namespace with that container's identity and capabilities. */
function runContainer(ns: Namespace, container: Container): Promise<RunResult> {
  expect(container.command).toEqual(['outrigger']);
  const sc = container.securityContext ?? {};
  const caps = (sc.capabilities?.add ?? []).map((c) => `+${c.toLowerCase()}`);
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  const identity = [`--reuid=${sc.runAsUser}`, `--regid=${sc.runAsGroup}`, '--clear-groups'];
  const privileges = [`--bounding-set=-all${caps.length ? `,${caps.join(',')}` : ''}`, '--inh-caps=-all', ...(sc.allowPrivilegeEscalation === false ? ['--no-new-privs'] : [])];
  const { node, cli } = cliForAnyUser();
  return ns.run('setpriv', [...identity, ...privileges, node, cli, ...(container.args ?? [])], { env: { ...env, PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } });
}

async function startProxy(pair: PodPair, injected: Injected): Promise<void> {
  const uid = injected.proxy.securityContext?.runAsUser as number;
  const { outbound, inbound } = injected.ports;
  await startProbe(pair.pod, { name: 'proxy-outbound', tcp: [`0.0.0.0:${outbound}`, `[::]:${outbound}`], uid });
  await startProbe(pair.pod, { name: 'proxy-inbound', tcp: [`0.0.0.0:${inbound}`, `[::]:${inbound}`], uid });
}

describe.each(CaptureBackends)('an injected pod on the real kernel ($name)', (backend: CaptureBackend) => {
  const injected = inject({}, configFor(backend));
  let pair: PodPair;

  beforeAll(async () => {
    pair = createPodPair();
    expect(injected.first.name).toBe('proxy-init');
    expect((injected.first.args ?? []).includes('--native-nftables')).toBe(backend.name === 'nftables');
    const result = await runContainer(pair.pod, injected.first);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/"level":(40|50|60)/);
    expect((await listRuleset(pair.pod)).includes('table inet istio-proxy-nat')).toBe(backend.name === 'nftables');
  });
  afterAll(() => pair.destroy());

  it('captures outbound traffic of the app into the bootstrap\'s outbound listener, IPv4 and IPv6', async () => {
    await startProxy(pair, injected);
    await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080'] });
    expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, APP)).toMatchObject({ listener: 'proxy-outbound', original_dst: hostPort(pair.peerV4, 8080) });
    expect(await probe(pair.pod, 'tcp', pair.peerV6, 8080, APP)).toMatchObject({ listener: 'proxy-outbound', original_dst: hostPort(pair.peerV6, 8080) });
  });

  it('lets the proxy container\'s own user connect directly', async () => {
    await startProxy(pair, injected);
    await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080'] });
    const proxyUser = { uid: injected.proxy.securityContext?.runAsUser as number, gid: injected.proxy.securityContext?.runAsGroup as number };
    expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, proxyUser)).toMatchObject({ listener: 'peer-app' });
  });

  it('captures inbound traffic into the bootstrap\'s inbound listener but not its readiness and stats ports', async () => {
    await startProxy(pair, injected);
    const { readiness, prometheus } = injected.ports;
    await startProbe(pair.pod, { name: 'envoy-admin-ports', tcp: [`0.0.0.0:${readiness}`, `0.0.0.0:${prometheus}`], uid: 1337 });
    expect(await probe(pair.peer, 'tcp', pair.podV4, 9090)).toMatchObject({ listener: 'proxy-inbound', original_dst: hostPort(pair.podV4, 9090) });
    expect(await probe(pair.peer, 'tcp', pair.podV4, readiness)).toMatchObject({ listener: 'envoy-admin-ports' });
    expect(await probe(pair.peer, 'tcp', pair.podV4, prometheus)).toMatchObject({ listener: 'envoy-admin-ports' });
  });
});

describe('traffic annotations on the real kernel', () => {
  it('excludes the annotated inbound port, outbound port and outbound range', async () => {
    const pair = createPodPair();
    try {
      const injected = inject({
        'traffic.sidecar.istio.io/excludeInboundPorts': '9000',
        'traffic.sidecar.istio.io/excludeOutboundPorts': '5432',
        'traffic.sidecar.istio.io/excludeOutboundIPRanges': `${pair.peerV6}/128`,
      });
      const result = await runContainer(pair.pod, injected.first);
      expect(result.exitCode, result.stderr).toBe(0);
      await startProxy(pair, injected);
      await startProbe(pair.peer, { name: 'peer-app', tcp: ['0.0.0.0:8080', '[::]:8080', '0.0.0.0:5432'] });
      await startProbe(pair.pod, { name: 'pod-app', tcp: ['0.0.0.0:9000', '0.0.0.0:9001'] });
      expect(await probe(pair.peer, 'tcp', pair.podV4, 9000)).toMatchObject({ listener: 'pod-app' });
      expect(await probe(pair.peer, 'tcp', pair.podV4, 9001)).toMatchObject({ listener: 'proxy-inbound' });
      expect(await probe(pair.pod, 'tcp', pair.peerV4, 5432, APP)).toMatchObject({ listener: 'peer-app' });
      expect(await probe(pair.pod, 'tcp', pair.peerV6, 8080, APP)).toMatchObject({ listener: 'peer-app' });
      expect(await probe(pair.pod, 'tcp', pair.peerV4, 8080, APP)).toMatchObject({ listener: 'proxy-outbound' });
    } finally {
      pair.destroy();
    }
  });
});

describe('inbound exclusions with Istio\'s arithmetic on the real kernel', () => {
  it('captures an app port 15020 when the status port is elsewhere, and the mesh-wide exclude a pod list replaces', async () => {
    const pair = createPodPair();
    try {
      // Mesh-wide: status port 15030, excludes 9100; the pod's own list (9000) replaces 9100.
      const config = parseInjectorConfig('proxy:\n  ports:\n    status: 15030\ncapture:\n  inboundPortsExclude: "9100"\n', 'mesh.yaml');
      const injected = inject({ 'traffic.sidecar.istio.io/excludeInboundPorts': '9000' }, config);
      const result = await runContainer(pair.pod, injected.first);
      expect(result.exitCode, result.stderr).toBe(0);
      await startProxy(pair, injected);
      await startProbe(pair.pod, { name: 'pod-app', tcp: ['0.0.0.0:15020', '0.0.0.0:15030', '0.0.0.0:9000', '0.0.0.0:9100'] });
      expect(await probe(pair.peer, 'tcp', pair.podV4, 15020)).toMatchObject({ listener: 'proxy-inbound', original_dst: hostPort(pair.podV4, 15020) });
      expect(await probe(pair.peer, 'tcp', pair.podV4, 9100)).toMatchObject({ listener: 'proxy-inbound' });
      expect(await probe(pair.peer, 'tcp', pair.podV4, 15030)).toMatchObject({ listener: 'pod-app' });
      expect(await probe(pair.peer, 'tcp', pair.podV4, 9000)).toMatchObject({ listener: 'pod-app' });
    } finally {
      pair.destroy();
    }
  });
});

describe.each(CaptureBackends)('CNI mode on the real kernel ($name)', (backend: CaptureBackend) => {
  it('proxy-validation fails without capture and passes once the annotated settings are applied', async () => {
    const pair = createPodPair();
    try {
      const injected = inject({}, configFor(backend, 'cniMode: true\n'));
      expect(injected.first.name).toBe('proxy-validation');
      expect(injected.first.securityContext).toMatchObject({ runAsUser: 1337, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
      expect(injected.first.securityContext?.capabilities?.add).toBeUndefined();
      const before = await runContainer(pair.pod, injected.first);
      expect(before.exitCode, before.stderr).toBe(126);

      // Stand-in for the CNI plugin: apply exactly what the pod's settings annotation says.
      const settings = decodeCaptureSettings(injected.pod.metadata?.annotations?.[CaptureSettingsAnnotation] as string);
      const apply = renderInitArgs(settings);
      const applied = await pair.pod.run(process.execPath, [cliPath, 'init', ...apply.args], { env: { ...apply.env, PATH: process.env.PATH ?? '' } });
      expect(applied.exitCode, applied.stderr).toBe(0);

      expect((await listRuleset(pair.pod)).includes('table inet istio-proxy-nat')).toBe(backend.name === 'nftables');
      const after = await runContainer(pair.pod, injected.first);
      expect(after.exitCode, after.stderr).toBe(0);
    } finally {
      pair.destroy();
    }
  });
});
