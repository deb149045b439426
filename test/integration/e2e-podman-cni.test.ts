// End to end, CNI mode: podman here uses its CNI backend (Debian's podman 4.3 has no netavark), so
// dist/outrigger-cni can be chained after the bridge plugin as on a Kubernetes node. One thing podman
// does not do that the kubelet's runtime does: name the pod in CNI_ARGS (podman passes only
// K8S_POD_NAME=<infra container>) and hand over the pod's annotations (runtimeConfig
// io.kubernetes.cri.pod-annotations). So this network's conflist carries the injected pod's
// annotations as a static runtimeConfig (libcni passes it through), and a three-line shim adds
// K8S_POD_NAMESPACE and K8S_POD_NAME before running the real plugin. Everything else (ADD with
// prevResult, capture in the pod's namespace, proxy-validation, DEL at removal) is real. Runs for
// both capture backends (the injector config's capture.nativeNftables reaches the plugin through the
// pod's capture-settings annotation). Needs root and podman; fails with the reason otherwise.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Cli, connectFrom as connectIn, type E2eEnvironment, E2eFixtures, expectCapturedOutbound, expectCapturedOverIpv6, injectorConfigFor, startE2eEnvironment } from '../helpers/e2e-environment.js';
import { podFromInjectedWorkload, type PodmanPod } from '../helpers/pod-for-podman.js';
import { containerNames, playKube, podIp, podIptables, podman, podNftables, runOk } from '../helpers/podman.js';
import { type CaptureBackend, CaptureBackends } from '../helpers/capture-backends.js';

describe.each(CaptureBackends)('CNI mode: outrigger-cni chained in podman, proxy-validation instead of proxy-init ($name)', (backend: CaptureBackend) => {
  let env: E2eEnvironment;
  let webCni = '';
  let webNoCni = '';
  let peer = '';
  const connectFrom = (container: string, host: string, port: number) => connectIn(env.setup, container, host, port);
  afterAll(() => env?.stop());

  let cniPod: PodmanPod;
  let cniInjected = '';
  const pluginLog = () => join(env.dir, 'outrigger-cni.log');

  beforeAll(() => {
    env = startE2eEnvironment();
    webCni = `web-cni-${env.id}`;
    webNoCni = `web-nocni-${env.id}`;
    peer = env.peer;
    env.track(webCni);
    env.track(webNoCni);
    const setup = env.setup;
    const config = injectorConfigFor(env.dir, 'injector-config-cni.yaml', backend.name === 'nftables');
    cniInjected = runOk(process.execPath, [Cli, 'inject', '-f', `${E2eFixtures}/web-deployment.yaml`, '--config-file', config]);
    cniPod = podFromInjectedWorkload(cniInjected, webCni);
    const annotations = (parseYaml(cniInjected) as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations;
    // The shim takes the plugin's name in the test's plugin directory; the real executable stays in dist/.
    const shim = join(setup.pluginDir, 'outrigger-cni');
    writeFileSync(shim, `#!/bin/sh\n# Names the pod as a Kubernetes runtime would (podman does not), then runs the real plugin.\nCNI_ARGS="\${CNI_ARGS:+$CNI_ARGS;}K8S_POD_NAMESPACE=shop;K8S_POD_NAME=${webCni}" exec ${join(process.cwd(), 'dist/outrigger-cni')}\n`);
    chmodSync(shim, 0o755);
    const cniNetwork = env.addNetwork('or-e2e-cni', 100, 199, [
      { type: 'outrigger-cni', excludeNamespaces: ['kube-system', 'outrigger'], logFile: pluginLog(), logLevel: 'info', runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } },
    ]);
    const path = join(env.dir, 'web-cni-pod.yaml');
    writeFileSync(path, cniPod.yaml);
    playKube(setup, cniNetwork, path);
  }, 1_800_000);

  it('the injected pod has an unprivileged proxy-validation container and no NET_ADMIN anywhere', () => {
    const spec = (parseYaml(cniInjected) as { spec: { template: { spec: { initContainers: { name: string; args: string[]; securityContext: { runAsUser: number; capabilities: { add?: string[] } } }[]; containers: { securityContext?: { capabilities?: { add?: string[] } } }[] } } } }).spec.template.spec;
    expect(spec.initContainers.map((c) => c.name)).toEqual(['proxy-validation']);
    expect(spec.initContainers[0]?.args).toEqual(expect.arrayContaining(['--run-validation', '--skip-rule-apply']));
    expect(spec.initContainers[0]?.securityContext.runAsUser).toBe(1337);
    for (const c of [...spec.initContainers, ...spec.containers]) expect(c.securityContext?.capabilities?.add ?? []).toEqual([]);
  });

  it('outrigger-cni applied capture at ADD from the runtime-passed annotations, and proxy-validation passed', () => {
    const log = readFileSync(pluginLog(), 'utf8');
    expect(log).toMatch(/"source":"runtime".*capture applied|capture applied.*"source":"runtime"/);
    // proxy-validation exits 126 when capture is missing; podman removes init containers that succeeded.
    expect(containerNames(env.setup, webCni).filter((n) => !n.endsWith('-infra'))).toEqual([`${webCni}-app`, `${webCni}-proxy`]);
    if (backend.name === 'iptables') expect(podIptables(env.setup, webCni)).toMatch(/outrigger\/to-outbound-listener" -j REDIRECT --to-ports 15001/);
    else {
      expect(podNftables(env.setup, webCni)).toMatch(/redirect to :15001 comment "outrigger\/to-outbound-listener"/);
      expect(podIptables(env.setup, webCni)).not.toContain('ISTIO');
    }
  });

  it("captures the app's traffic into the proxy, lets the proxy's own go direct, captures inbound", () => {
    const cniIp = podIp(env.setup, webCni);
    const peerIp = podIp(env.setup, peer);
    expectCapturedOutbound(env.setup, webCni, cniIp, peerIp);
    const direct = connectFrom(`${webCni}-proxy`, peerIp, 8080);
    expect(direct.lines).toEqual([expect.objectContaining({ app: 'peer' })]);
    const inbound = connectFrom(`${peer}-app`, cniIp, 8080);
    expect(inbound.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'inbound', original_dst: `${cniIp}:8080` });
  });

  it('captures IPv6 as well on the dual-stack network: the plugin planned ip6tables from prevResult', () => {
    expectCapturedOverIpv6(env.setup, webCni, peer, 'web', backend.name);
  });

  it('without the plugin (the plain network), proxy-validation refuses: exit 126, the app never starts', () => {
    const path = join(env.dir, 'web-nocni-pod.yaml');
    const unplugged = structuredClone(cniPod.pod) as { metadata: { name: string }; spec: { restartPolicy: string } };
    unplugged.metadata.name = webNoCni;
    unplugged.spec.restartPolicy = 'Never'; // report the failure instead of retrying it
    writeFileSync(path, JSON.stringify(unplugged));
    const played = podman(env.setup, ['kube', 'play', '--network', env.network.name, path], 120_000);
    const validation = podman(env.setup, ['inspect', `${webNoCni}-proxy-validation`, '--format', '{{.State.ExitCode}}']);
    expect(validation.stdout.trim(), played.stderr).toBe('126');
    const app = podman(env.setup, ['inspect', `${webNoCni}-app`, '--format', '{{.State.Status}}']);
    expect(app.stdout.trim()).not.toBe('running');
  });

  it('removing the pod runs the plugin DEL without error', () => {
    const removed = podman(env.setup, ['pod', 'rm', '--force', '--time', '0', webCni]);
    expect(removed.status, removed.stderr).toBe(0);
    expect(removed.stderr).not.toMatch(/error/i);
    expect(readFileSync(pluginLog(), 'utf8')).not.toMatch(/"level":50/);
  });
});

