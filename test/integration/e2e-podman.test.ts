// End to end in a real pod runtime: builds the images (cached), injects a Deployment with
// `outrigger inject`, and runs the resulting Pod with `podman kube play` next to a peer pod on a
// private 198.18.x.0/24 bridge with no gateway (reachable only between the two pods). proxy-init runs
// first with only NET_ADMIN and NET_RAW, the stand-in proxy (uid 1337) and the app (uid 1000) share
// the pod's network namespace, and real connections show: the app's outbound and the peer's inbound
// traffic reach the proxy on 15001/15006 with their original destinations, the proxy's own traffic
// goes direct, a rerun of the init container changes nothing, and the same Pod played again works.
// Classic sidecar mode (per-pod annotation): podman 4.3 predates native sidecars.
// Needs root and podman (scripts/setup-host.sh installs it); fails with the reason otherwise.
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { parse as parseYaml } from 'yaml';
import { loadObjects, renderOverlay } from '../helpers/manifests.js';
import { podFromInjectedWorkload, type PodmanPod } from '../helpers/pod-for-podman.js';
import { containerNames, containerStatusField, createPodmanSetup, createPodNetwork, playKube, podIp, podIptables, type PodmanSetup, type PodNetwork, podman, podmanOk, removePodNetworks, removePods, run, runOk } from '../helpers/podman.js';

const id = randomBytes(3).toString('hex');
const web = `web-${id}`;
const peer = `peer-${id}`;
const fixtures = 'test/fixtures/e2e';
const cli = 'dist/outrigger.mjs';
const webCni = `web-cni-${id}`;
const webNoCni = `web-nocni-${id}`;
// One bridge and /24 for every pod of the run; each network hands out its own part of it.
const thirdOctet = randomInt(100, 250);
const segment = { bridge: `ore2e${id}`, subnet: `198.18.${thirdOctet}.0/24`, at: (host: number) => `198.18.${thirdOctet}.${host}` };
let dir = '';
let setup: PodmanSetup;
let network: PodNetwork;
const networks: PodNetwork[] = [];
let injected = '';
let podmanPod: PodmanPod;

interface ConnectResult {
  client_uid: number;
  target: string;
  lines: Record<string, unknown>[];
  error?: string;
}

/** One bounded TCP connection from inside a container (stand-in-proxy.py connect: 3 s timeout). */
function connectFrom(container: string, host: string, port: number): ConnectResult {
  const result = podman(setup, ['exec', container, '/usr/local/bin/stand-in-proxy.py', 'connect', host, String(port)], 20_000);
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as ConnectResult;
  } catch {
    throw new Error(`connect from ${container} to ${host}:${port} printed no result (exit ${result.status}): ${result.stderr}${result.stdout}`);
  }
}

function playWeb(): void {
  const path = join(dir, 'web-pod.yaml');
  writeFileSync(path, podmanPod.yaml);
  playKube(setup, network, path);
}

function expectCapturedOutbound(webIp: string, peerIp: string, pod = web): void {
  const out = connectFrom(`${pod}-app`, peerIp, 8080);
  expect(out.error).toBeUndefined();
  expect(out.client_uid).toBe(1000);
  expect(out.lines).toHaveLength(2);
  expect(out.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'outbound', original_dst: `${peerIp}:8080`, uid: 1337 });
  // The proxy's upstream connection reached the peer from the pod's address, and was not captured again.
  expect(out.lines[1]).toMatchObject({ app: 'peer', local: `${peerIp}:8080` });
  expect(String(out.lines[1]?.peer)).toMatch(new RegExp(`^${webIp.replaceAll('.', '\\.')}:\\d+$`));
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the podman end-to-end test needs root (pods with NET_ADMIN init containers, nsenter); run npm test as root');
  for (const tool of ['podman', 'nsenter', 'ip']) {
    if (run('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed: run bash scripts/setup-host.sh`);
  }
  // Cached: the first run makes the Debian base with debootstrap (minutes); later runs take seconds.
  runOk('bash', ['scripts/build-images.sh'], { timeoutMs: 1_500_000 });
  dir = mkdtempSync(join(tmpdir(), 'outrigger-e2e-'));
  setup = createPodmanSetup(dir);
  network = createPodNetwork(setup, { ...segment, name: `or-e2e-${id}`, rangeStart: segment.at(10), rangeEnd: segment.at(99) });
  networks.push(network);
  injected = runOk(process.execPath, [cli, 'inject', '-f', `${fixtures}/web-deployment.yaml`, '--config-file', `${fixtures}/injector-config.yaml`]);
  podmanPod = podFromInjectedWorkload(injected, web);
  const peerPath = join(dir, 'peer-pod.yaml');
  writeFileSync(peerPath, readFileSync(`${fixtures}/peer-pod.yaml`, 'utf8').replace('name: peer', `name: ${peer}`));
  playKube(setup, network, peerPath);
  playWeb();
}, 1_800_000);

afterAll(() => {
  if (setup) removePods(setup, [web, peer, webCni, webNoCni]);
  removePodNetworks(networks);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('podman kube play of an injected Deployment', () => {
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
    expect(containerNames(setup, web).filter((n) => !n.endsWith('-infra'))).toEqual([`${web}-app`, `${web}-proxy`]);
    const rules = podIptables(setup, web);
    expect(rules).toMatch(/-A ISTIO_REDIRECT -p tcp -m comment --comment "outrigger\/to-outbound-listener" -j REDIRECT --to-ports 15001/);
    expect(rules).toMatch(/-A ISTIO_IN_REDIRECT -p tcp -m comment --comment "outrigger\/to-inbound-listener" -j REDIRECT --to-ports 15006/);
    expect(rules).toMatch(/-m owner --uid-owner 1337 -m comment --comment "outrigger\/proxy-own-traffic" -j RETURN/);
  });

  it('runs the proxy as 1337 and the app as 1000, both without capabilities, as their securityContexts say', () => {
    expect(containerStatusField(setup, `${web}-proxy`, 'Uid')).toBe('1337');
    expect(containerStatusField(setup, `${web}-proxy`, 'Gid')).toBe('1337');
    expect(containerStatusField(setup, `${web}-proxy`, 'CapEff')).toBe('0000000000000000');
    expect(containerStatusField(setup, `${web}-app`, 'Uid')).toBe('1000');
    expect(containerStatusField(setup, `${web}-app`, 'CapEff')).toBe('0000000000000000');
  });

  it("captures the app's outbound connection into the proxy (15001) with its original destination", () => {
    expectCapturedOutbound(podIp(setup, web), podIp(setup, peer));
  });

  it("lets the proxy's own traffic (uid 1337) go direct", () => {
    const peerIp = podIp(setup, peer);
    const out = connectFrom(`${web}-proxy`, peerIp, 8080);
    expect(out.client_uid).toBe(1337);
    expect(out.lines).toEqual([expect.objectContaining({ app: 'peer', local: `${peerIp}:8080` })]);
  });

  it('captures inbound connections into the proxy (15006), which hands them to the app from 127.0.0.6', () => {
    const webIp = podIp(setup, web);
    const out = connectFrom(`${peer}-app`, webIp, 8080);
    expect(out.error).toBeUndefined();
    expect(out.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'inbound', original_dst: `${webIp}:8080`, uid: 1337 });
    expect(out.lines[1]).toMatchObject({ app: 'web', local: `${webIp}:8080`, uid: 1000 });
    expect(String(out.lines[1]?.peer)).toMatch(/^127\.0\.0\.6:\d+$/);
  });

  it('a rerun of the same init container in the same pod changes nothing and traffic is still captured', () => {
    const before = podIptables(setup, web);
    const init = (parseYaml(podmanPod.yaml) as { spec: { initContainers: { image: string; command: string[]; args: string[] }[] } }).spec.initContainers[0];
    if (!init) throw new Error('no init container');
    const rerun = podman(setup, ['run', '--rm', '--pod', web, '--user', '0:0', '--read-only', '--cap-drop', 'ALL', '--cap-add', 'NET_ADMIN,NET_RAW', '--entrypoint', init.command[0] as string, init.image, ...init.args], 60_000);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(rerun.stdout + rerun.stderr).toContain('nothing changed');
    expect(podIptables(setup, web)).toEqual(before);
    expectCapturedOutbound(podIp(setup, web), podIp(setup, peer));
  });

  it('without NET_ADMIN the init container fails, names the cause and leaves the rules as they were', () => {
    const before = podIptables(setup, web);
    const init = (parseYaml(podmanPod.yaml) as { spec: { initContainers: { image: string; command: string[]; args: string[] }[] } }).spec.initContainers[0];
    if (!init) throw new Error('no init container');
    const denied = podman(setup, ['run', '--rm', '--pod', web, '--user', '0:0', '--read-only', '--cap-drop', 'ALL', '--entrypoint', init.command[0] as string, init.image, ...init.args, '--ipv6', 'false', '-p', '15002'], 60_000);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toMatch(/Permission denied|Operation not permitted/);
    expect(podIptables(setup, web)).toEqual(before);
  });

  it('the same Pod played again (new pod, new network namespace) is captured again', () => {
    removePods(setup, [web]);
    playWeb();
    expect(containerNames(setup, web).filter((n) => !n.endsWith('-infra'))).toEqual([`${web}-app`, `${web}-proxy`]);
    expectCapturedOutbound(podIp(setup, web), podIp(setup, peer));
    const inbound = connectFrom(`${peer}-app`, podIp(setup, web), 8080);
    expect(inbound.lines[0]).toMatchObject({ listener: 'inbound' });
  });
});

// CNI mode: podman here uses its CNI backend, so outrigger-cni can be chained after the bridge
// plugin as on a Kubernetes node. One thing podman does not do that the kubelet's runtime does: name
// the pod in CNI_ARGS (podman passes only K8S_POD_NAME=<infra container>) and hand over the pod's
// annotations (runtimeConfig io.kubernetes.cri.pod-annotations). So this network's conflist carries
// the injected pod's annotations as a static runtimeConfig (libcni passes it through), and a
// three-line shim adds K8S_POD_NAMESPACE and K8S_POD_NAME before running the real dist/outrigger-cni.
// Everything else (ADD with prevResult, capture in the pod's namespace, DEL at removal) is real.
describe('CNI mode: outrigger-cni chained in podman, proxy-validation instead of proxy-init', () => {
  let cniPod: PodmanPod;
  let cniInjected = '';
  const pluginLog = () => join(dir, 'outrigger-cni.log');

  beforeAll(() => {
    if (!setup) throw new Error('the podman setup did not come up (see the first failure)');
    cniInjected = runOk(process.execPath, [cli, 'inject', '-f', `${fixtures}/web-deployment.yaml`, '--config-file', `${fixtures}/injector-config-cni.yaml`]);
    cniPod = podFromInjectedWorkload(cniInjected, webCni);
    const annotations = (parseYaml(cniInjected) as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations;
    // The shim takes the plugin's name in the test's plugin directory; the real executable stays in dist/.
    const shim = join(setup.pluginDir, 'outrigger-cni');
    writeFileSync(shim, `#!/bin/sh\n# Names the pod as a Kubernetes runtime would (podman does not), then runs the real plugin.\nCNI_ARGS="\${CNI_ARGS:+$CNI_ARGS;}K8S_POD_NAMESPACE=shop;K8S_POD_NAME=${webCni}" exec ${join(process.cwd(), 'dist/outrigger-cni')}\n`);
    chmodSync(shim, 0o755);
    const cniNetwork = createPodNetwork(setup, { ...segment, name: `or-e2e-cni-${id}`, rangeStart: segment.at(100), rangeEnd: segment.at(199) }, [
      { type: 'outrigger-cni', excludeNamespaces: ['kube-system', 'outrigger'], logFile: pluginLog(), logLevel: 'info', runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } },
    ]);
    networks.push(cniNetwork);
    const path = join(dir, 'web-cni-pod.yaml');
    writeFileSync(path, cniPod.yaml);
    playKube(setup, cniNetwork, path);
  }, 300_000);

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
    expect(containerNames(setup, webCni).filter((n) => !n.endsWith('-infra'))).toEqual([`${webCni}-app`, `${webCni}-proxy`]);
    expect(podIptables(setup, webCni)).toMatch(/outrigger\/to-outbound-listener" -j REDIRECT --to-ports 15001/);
  });

  it("captures the app's traffic into the proxy, lets the proxy's own go direct, captures inbound", () => {
    const cniIp = podIp(setup, webCni);
    const peerIp = podIp(setup, peer);
    expectCapturedOutbound(cniIp, peerIp, webCni);
    const direct = connectFrom(`${webCni}-proxy`, peerIp, 8080);
    expect(direct.lines).toEqual([expect.objectContaining({ app: 'peer' })]);
    const inbound = connectFrom(`${peer}-app`, cniIp, 8080);
    expect(inbound.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'inbound', original_dst: `${cniIp}:8080` });
  });

  it('without the plugin (the plain network), proxy-validation refuses: exit 126, the app never starts', () => {
    const path = join(dir, 'web-nocni-pod.yaml');
    const unplugged = structuredClone(cniPod.pod) as { metadata: { name: string }; spec: { restartPolicy: string } };
    unplugged.metadata.name = webNoCni;
    unplugged.spec.restartPolicy = 'Never'; // report the failure instead of retrying it
    writeFileSync(path, JSON.stringify(unplugged));
    const played = podman(setup, ['kube', 'play', '--network', network.name, path], 120_000);
    const validation = podman(setup, ['inspect', `${webNoCni}-proxy-validation`, '--format', '{{.State.ExitCode}}']);
    expect(validation.stdout.trim(), played.stderr).toBe('126');
    const app = podman(setup, ['inspect', `${webNoCni}-app`, '--format', '{{.State.Status}}']);
    expect(app.stdout.trim()).not.toBe('running');
  });

  it('removing the pod runs the plugin DEL without error', () => {
    const removed = podman(setup, ['pod', 'rm', '--force', '--time', '0', webCni]);
    expect(removed.status, removed.stderr).toBe(0);
    expect(removed.stderr).not.toMatch(/error/i);
    expect(readFileSync(pluginLog(), 'utf8')).not.toMatch(/"level":50/);
  });
});

// The control-plane image as the cert-manager overlay's Deployment runs it: its args, mounts and
// restricted securityContext (uid 65532, read-only root, no capabilities, no privilege escalation,
// RuntimeDefault seccomp), answering over HTTPS. Host network on a random port for the test client.
describe('the outrigger image runs the injector as the rendered Deployment does', () => {
  const name = `injector-${id}`;
  let port = 0;
  let ca = '';

  beforeAll(async () => {
    if (!setup) throw new Error('the podman setup did not come up (see the first failure)');
    const deployment = loadObjects(renderOverlay('cert-manager')).find((o) => o.kind === 'Deployment' && o.metadata.name === 'outrigger-injector');
    if (!deployment) throw new Error('no injector Deployment in the cert-manager overlay');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 86_400_000), extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }] });
    ca = pems.cert;
    // The volumes as the kubelet would fill them: the ConfigMap's keys, the Secret's tls.crt/tls.key
    // with the Secret volume's mode and the pod's fsGroup as their group.
    const configMap = loadObjects(renderOverlay('cert-manager')).find((o) => o.kind === 'ConfigMap');
    const sources: Record<string, Record<string, string>> = {
      config: configMap?.data as Record<string, string>,
      tls: { 'tls.crt': pems.cert, 'tls.key': pems.private },
    };
    const mounts: string[] = [];
    for (const mount of container.volumeMounts as { name: string; mountPath: string }[]) {
      const volume = (pod.volumes as { name: string; emptyDir?: object; secret?: { defaultMode?: number } }[]).find((v) => v.name === mount.name);
      if (volume?.emptyDir) {
        mounts.push('--tmpfs', `${mount.mountPath}:size=16m`);
        continue;
      }
      const files = sources[mount.name];
      if (!files) throw new Error(`no test content for volume ${mount.name}`);
      const hostDir = join(dir, `volume-${mount.name}`);
      mkdirSync(hostDir, { recursive: true });
      for (const [file, text] of Object.entries(files)) {
        writeFileSync(join(hostDir, file), text);
        chmodSync(join(hostDir, file), volume?.secret?.defaultMode ?? 0o644);
        chownSync(join(hostDir, file), 0, pod.securityContext.fsGroup);
      }
      mounts.push('-v', `${hostDir}:${mount.mountPath}:ro`);
    }
    port = randomInt(20_000, 40_000);
    const args = (container.args as string[]).map((a) => (a.startsWith('--port=') ? `--port=${port}` : a));
    const sc = container.securityContext;
    expect(sc).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    podmanOk(setup, [
      'run', '--detach', '--name', name, '--network', 'host',
      '--user', `${pod.securityContext.runAsUser}:${pod.securityContext.runAsGroup}`, '--group-add', String(pod.securityContext.fsGroup),
      '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', ...mounts,
      container.image, ...args, '--address=127.0.0.1',
    ]);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const ready = await httpsGet(port, '/readyz', ca).catch(() => undefined);
      if (ready?.status === 200) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the injector container did not become ready: ${podman(setup, ['logs', name]).stderr}`);
  }, 120_000);

  afterAll(() => {
    if (setup) podman(setup, ['rm', '--force', '--time', '0', name]);
  });

  it('serves /readyz and /healthz over TLS 1.2+ as uid 65532 with no capabilities', async () => {
    const ready = await httpsGet(port, '/readyz', ca);
    expect(ready.status).toBe(200);
    expect(['TLSv1.2', 'TLSv1.3']).toContain(ready.tls);
    expect((await httpsGet(port, '/healthz', ca)).status).toBe(200);
    expect(containerStatusField(setup, name, 'Uid')).toBe('65532');
    expect(containerStatusField(setup, name, 'CapEff')).toBe('0000000000000000');
    expect(containerStatusField(setup, name, 'NoNewPrivs')).toBe('1');
  });

  it('answers an AdmissionReview for a pod with the proxy-init and proxy patch, from the shipped ConfigMap', async () => {
    const review = {
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      request: {
        uid: '5a1f0c1e-0000-4000-8000-000000000001', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'shop', operation: 'CREATE', userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', namespace: 'shop' }, spec: { containers: [{ name: 'web', image: 'web:1' }] } },
      },
    };
    const answer = await httpsPost(port, '/inject', ca, review);
    expect(answer.status).toBe(200);
    const response = (JSON.parse(answer.text) as { response: { uid: string; allowed: boolean; patchType: string; patch: string } }).response;
    expect(response).toMatchObject({ uid: review.request.uid, allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as { path: string; value: unknown }[];
    const added = JSON.stringify(patch);
    expect(added).toContain('"name":"proxy-init"');
    expect(added).toContain('"image":"outrigger/proxy-init:0.1.0"');
    expect(added).toContain('"image":"docker.io/envoyproxy/envoy:v1.36.2"');
  });
});

interface HttpsAnswer {
  status: number;
  text: string;
  tls: string;
}

function httpsCall(port: number, method: string, path: string, ca: string, body?: unknown): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    let tls = 'unknown';
    const req = httpsRequest({ host: '127.0.0.1', port, method, path, servername: 'localhost', ca, minVersion: 'TLSv1.2', timeout: 5000, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      tls = (res.socket as TLSSocket | null)?.getProtocol?.() ?? tls;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, tls }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}
const httpsGet = (port: number, path: string, ca: string) => httpsCall(port, 'GET', path, ca);
const httpsPost = (port: number, path: string, ca: string, body: unknown) => httpsCall(port, 'POST', path, ca, body);
