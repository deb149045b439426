// End to end in a real pod runtime: builds the images (cached), injects a Deployment with
// `outrigger inject`, and runs the resulting Pod with `podman kube play` next to a peer pod on a
// private 198.18.x.0/24 bridge with no gateway (reachable only between the two pods). proxy-init runs
// first with only NET_ADMIN and NET_RAW, the stand-in proxy (uid 1337) and the app (uid 1000) share
// the pod's network namespace, and real connections show: the app's outbound and the peer's inbound
// traffic reach the proxy on 15001/15006 with their original destinations, the proxy's own traffic
// goes direct, a rerun of the init container changes nothing, and the same Pod played again works.
// IPv4 and IPv6 (dual-stack network). Classic sidecar mode (per-pod annotation): podman 4.3 predates native sidecars. CNI mode and the
// control-plane image have their own files (e2e-podman-cni, e2e-injector-image). Runs for both capture backends: iptables, and native
// nftables (the injector config's capture.nativeNftables adds --native-nftables to proxy-init's args).
// Needs root and podman (scripts/setup-host.sh installs it); fails with the reason otherwise.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Cli, connectFrom as connectIn, type E2eEnvironment, E2eFixtures, expectCapturedOutbound as expectCaptured, expectCapturedOverIpv6, injectorConfigFor, startE2eEnvironment } from '../helpers/e2e-environment.js';
import { podFromInjectedWorkload, type PodmanPod } from '../helpers/pod-for-podman.js';
import { containerNames, containerStatusField, playKube, podFilterState, podIp, podIptables, podman, podNftables, removePods, runOk } from '../helpers/podman.js';
import { type CaptureBackend, CaptureBackends } from '../helpers/capture-backends.js';

describe.each(CaptureBackends)('podman kube play of an injected Deployment ($name)', (backend: CaptureBackend) => {
  let env: E2eEnvironment;
  let web = '';
  let peer = '';
  let injected = '';
  let podmanPod: PodmanPod;
  const connectFrom = (container: string, host: string, port: number) => connectIn(env.setup, container, host, port);
  const expectCapturedOutbound = (webIp: string, peerIp: string) => expectCaptured(env.setup, web, webIp, peerIp);

  function playWeb(): void {
    const path = join(env.dir, 'web-pod.yaml');
    writeFileSync(path, podmanPod.yaml);
    playKube(env.setup, env.network, path);
  }

  beforeAll(() => {
    env = startE2eEnvironment();
    web = `web-${env.id}`;
    peer = env.peer;
    env.track(web);
    const config = injectorConfigFor(env.dir, 'injector-config.yaml', backend.name === 'nftables');
    injected = runOk(process.execPath, [Cli, 'inject', '-f', `${E2eFixtures}/web-deployment.yaml`, '--config-file', config]);
    podmanPod = podFromInjectedWorkload(injected, web);
    playWeb();
  }, 1_800_000);

  afterAll(() => env?.stop());

  it('outrigger inject added proxy-init and a classic proxy sidecar; only the podman 4.3 adaptations were made', () => {
    const deployment = parseYaml(injected) as { kind: string; spec: { template: { spec: { initContainers: { name: string; args: string[]; securityContext: { capabilities: { add: string[] } } }[]; containers: { name: string }[] } } } };
    expect(deployment.kind).toBe('Deployment');
    const spec = deployment.spec.template.spec;
    expect(spec.initContainers.map((c) => c.name)).toEqual(['proxy-init']);
    expect(spec.containers.map((c) => c.name)).toEqual(['proxy', 'app']);
    expect(spec.initContainers[0]?.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
    expect(podmanPod.changes).toEqual(['restartPolicy Always -> OnFailure', 'proxy: env POD_NAMESPACE (metadata.namespace) = shop', 'proxy: env INSTANCE_IP (status.podIP) dropped', 'proxy: ports 15090 not published', 'app: ports 8080 not published', expect.stringMatching(/^annotation sidecar\.istio\.io\/status dropped/)]);
    // The classic-mode annotation itself reaches the pod.
    expect((podmanPod.pod.metadata as { annotations: Record<string, string> }).annotations['sidecar.istio.io/nativeSidecar']).toBe('false');
  });

  it('ran proxy-init first (to completion) and left the capture rules in the pod network namespace', () => {
    // podman removes an init container once it has succeeded; the pod keeps the proxy and the app.
    expect(containerNames(env.setup, web).filter((n) => !n.endsWith('-infra'))).toEqual([`${web}-app`, `${web}-proxy`]);
    const initArgs = (parseYaml(podmanPod.yaml) as { spec: { initContainers: { args: string[] }[] } }).spec.initContainers[0]?.args ?? [];
    expect(initArgs.includes('--native-nftables')).toBe(backend.name === 'nftables');
    if (backend.name === 'iptables') {
      const rules = podIptables(env.setup, web);
      expect(rules).toMatch(/-A ISTIO_REDIRECT -p tcp -m comment --comment "outrigger\/to-outbound-listener" -j REDIRECT --to-ports 15001/);
      expect(rules).toMatch(/-A ISTIO_IN_REDIRECT -p tcp -m comment --comment "outrigger\/to-inbound-listener" -j REDIRECT --to-ports 15006/);
      expect(rules).toMatch(/-m owner --uid-owner 1337 -m comment --comment "outrigger\/proxy-own-traffic" -j RETURN/);
    } else {
      const listed = podNftables(env.setup, web);
      expect(listed).toMatch(/chain istio-redirect \{\s+meta l4proto tcp counter\s+redirect to :15001 comment "outrigger\/to-outbound-listener"/);
      expect(listed).toMatch(/chain istio-in-redirect \{\s+meta l4proto tcp counter\s+redirect to :15006 comment "outrigger\/to-inbound-listener"/);
      expect(listed).toMatch(/meta skuid 1337 counter\s+return comment "outrigger\/proxy-own-traffic"/);
      expect(podIptables(env.setup, web)).not.toContain('ISTIO');
    }
  });

  it('runs the proxy as 1337 and the app as 1000, both without capabilities, as their securityContexts say', () => {
    expect(containerStatusField(env.setup, `${web}-proxy`, 'Uid')).toBe('1337');
    expect(containerStatusField(env.setup, `${web}-proxy`, 'Gid')).toBe('1337');
    expect(containerStatusField(env.setup, `${web}-proxy`, 'CapEff')).toBe('0000000000000000');
    expect(containerStatusField(env.setup, `${web}-app`, 'Uid')).toBe('1000');
    expect(containerStatusField(env.setup, `${web}-app`, 'CapEff')).toBe('0000000000000000');
  });

  it("captures the app's outbound connection into the proxy (15001) with its original destination", () => {
    expectCapturedOutbound(podIp(env.setup, web), podIp(env.setup, peer));
  });

  it("lets the proxy's own traffic (uid 1337) go direct", () => {
    const peerIp = podIp(env.setup, peer);
    const out = connectFrom(`${web}-proxy`, peerIp, 8080);
    expect(out.client_uid).toBe(1337);
    expect(out.lines).toEqual([expect.objectContaining({ app: 'peer', local: `${peerIp}:8080` })]);
  });

  it('captures inbound connections into the proxy (15006), which hands them to the app from 127.0.0.6', () => {
    const webIp = podIp(env.setup, web);
    const out = connectFrom(`${peer}-app`, webIp, 8080);
    expect(out.error).toBeUndefined();
    expect(out.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'inbound', original_dst: `${webIp}:8080`, uid: 1337 });
    expect(out.lines[1]).toMatchObject({ app: 'web', local: `${webIp}:8080`, uid: 1000 });
    expect(String(out.lines[1]?.peer)).toMatch(/^127\.0\.0\.6:\d+$/);
  });

  it('captures IPv6 as well on the dual-stack network: outbound, proxy direct, inbound from ::6', () => {
    // proxy-init saw a global IPv6 address (--ipv6 auto) and planned the same capture for ip6tables.
    expectCapturedOverIpv6(env.setup, web, peer, 'web', backend.name);
  });

  it('a rerun of the same init container in the same pod changes nothing and traffic is still captured', () => {
    const before = podFilterState(env.setup, web);
    const init = (parseYaml(podmanPod.yaml) as { spec: { initContainers: { image: string; command: string[]; args: string[] }[] } }).spec.initContainers[0];
    if (!init) throw new Error('no init container');
    const rerun = podman(env.setup, ['run', '--rm', '--pod', web, '--user', '0:0', '--read-only', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN,NET_RAW', '--entrypoint', init.command[0] as string, init.image, ...init.args], 60_000);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout + rerun.stderr).toContain('nothing changed');
    expect(podFilterState(env.setup, web)).toEqual(before);
    expectCapturedOutbound(podIp(env.setup, web), podIp(env.setup, peer));
  });

  it('without NET_ADMIN the init container fails, names the cause and leaves the rules as they were', () => {
    const before = podFilterState(env.setup, web);
    const init = (parseYaml(podmanPod.yaml) as { spec: { initContainers: { image: string; command: string[]; args: string[] }[] } }).spec.initContainers[0];
    if (!init) throw new Error('no init container');
    const denied = podman(env.setup, ['run', '--rm', '--pod', web, '--user', '0:0', '--read-only', '--cap-drop', 'ALL', '--entrypoint', init.command[0] as string, init.image, ...init.args, '--ipv6', 'false', '-p', '15002'], 60_000);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toMatch(/Permission denied|Operation not permitted/);
    expect(podFilterState(env.setup, web)).toEqual(before);
  });

  it('the same Pod played again (new pod, new network namespace) is captured again', () => {
    removePods(env.setup, [web]);
    playWeb();
    expect(containerNames(env.setup, web).filter((n) => !n.endsWith('-infra'))).toEqual([`${web}-app`, `${web}-proxy`]);
    expectCapturedOutbound(podIp(env.setup, web), podIp(env.setup, peer));
    const inbound = connectFrom(`${peer}-app`, podIp(env.setup, web), 8080);
    expect(inbound.lines[0]).toMatchObject({ listener: 'inbound' });
  });
});

