// End to end, CNI mode as a node gets it: `outrigger cni install` runs from the outrigger image as the
// cni overlay's DaemonSet runs it (rendered args, NODE_NAME, host paths, root without capabilities,
// read-only root, the service-account token and CA), against a Kubernetes API STAND-IN
// (test/helpers/pod-api-stand-in.ts: no API server exists here). The "node" is this machine's podman:
// its CNI config directory holds a primary bridge network, and the directory the installer fills is on
// podman's plugin path. The installer copies the plugin and chains it into the primary config; podman
// then runs it for a CNI-mode injected pod, the plugin fetches the pod's annotations from the API with
// the kubeconfig the installer wrote, capture is applied, proxy-validation passes and traffic is
// captured; on SIGTERM the installer removes exactly what it added.
// Two differences from a cluster, both because this is not one: --host-cni-conf-dir names where the
// "node's" CNI config really is and --metrics-port=0 keeps clear of ports other tests use; and a
// three-line shim names the pod in CNI_ARGS (K8S_POD_NAMESPACE/K8S_POD_NAME), which podman does not
// do and a Kubernetes runtime does. Needs root and podman; fails with the reason otherwise.
import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Cli, connectFrom, type E2eEnvironment, E2eFixtures, expectCapturedOutbound, startE2eEnvironment } from '../helpers/e2e-environment.js';
import { loadObjects, renderOverlay } from '../helpers/manifests.js';
import { podFromInjectedWorkload } from '../helpers/pod-for-podman.js';
import { type KubeApiStandIn, startKubeApiStandIn } from '../helpers/pod-api-stand-in.js';
import { containerNames, playKubeAsync, podIp, type PodNetwork, podman, podmanOk, runOk } from '../helpers/podman.js';
import { allowed, type PolicyRule, resourceRequest } from '../helpers/rbac.js';

const NodeName = 'e2e-node';
let env: E2eEnvironment;
let api: KubeApiStandIn;
let nodeNetwork: PodNetwork;
let web = '';
let installer = '';
let primary = '';
let primaryBefore = '';
let rules: PolicyRule[] = [];

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const plugins = () => (JSON.parse(readFileSync(primary, 'utf8')) as { plugins: { type: string; kubeconfig?: string }[] }).plugins;

beforeAll(async () => {
  env = startE2eEnvironment();
  web = `web-installed-${env.id}`;
  installer = `cni-install-${env.id}`;
  env.track(web);
  const injected = runOk(process.execPath, [Cli, 'inject', '-f', `${E2eFixtures}/web-deployment.yaml`, '--config-file', `${E2eFixtures}/injector-config-cni.yaml`]);
  const annotations = (parseYaml(injected) as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata.annotations;
  // The API holds the pod as the kubelet would find it: bound to this node, with all its annotations.
  const token = `e2e-token-${env.id}`;
  api = await startKubeApiStandIn(token);
  api.pods = [{ metadata: { name: web, namespace: 'shop', uid: randomUUID(), annotations }, spec: { nodeName: NodeName }, status: {} }];
  // The node's primary network (sorts first), and what a service-account volume holds.
  nodeNetwork = env.addNetwork('or-e2e-node', 100, 199, [], '00-node');
  primary = join(env.setup.confDir, '00-node.conflist');
  primaryBefore = readFileSync(primary, 'utf8');
  const serviceAccount = join(env.dir, 'serviceaccount');
  mkdirSync(serviceAccount, { recursive: true });
  writeFileSync(join(serviceAccount, 'token'), token);
  writeFileSync(join(serviceAccount, 'ca.crt'), api.caPem);
  writeFileSync(join(serviceAccount, 'namespace'), 'outrigger');
  const shim = join(env.setup.pluginDir, 'outrigger-cni');
  writeFileSync(shim, `#!/bin/sh\n# Names the pod as a Kubernetes runtime would (podman does not), then runs the installed plugin.\nCNI_ARGS="\${CNI_ARGS:+$CNI_ARGS;}K8S_POD_NAMESPACE=shop;K8S_POD_NAME=${web}" exec ${join(env.setup.nodeBinDir, 'outrigger-cni')}\n`);
  chmodSync(shim, 0o755);

  const objects = loadObjects(renderOverlay('cni'));
  const daemonSet = objects.find((o) => o.kind === 'DaemonSet' && o.metadata.name === 'outrigger-cni');
  const role = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'outrigger-cni');
  if (!daemonSet || !role) throw new Error('no CNI DaemonSet or ClusterRole in the cni overlay');
  rules = role.rules as PolicyRule[];
  const pod = daemonSet.spec.template.spec;
  const container = pod.containers[0];
  const hostPath = (name: string): string => (pod.volumes as { name: string; hostPath?: { path: string } }[]).find((v) => v.name === name)?.hostPath?.path ?? '';
  const nodePaths: Record<string, string> = { '/opt/cni/bin': env.setup.nodeBinDir, '/etc/cni/net.d': env.setup.confDir, '/usr/sbin': '/usr/sbin' };
  const mounts: string[] = [];
  for (const mount of container.volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]) {
    const path = hostPath(mount.name);
    if (path && !nodePaths[path]) throw new Error(`no node path for the DaemonSet's host path ${path}`);
    if (path) mounts.push('-v', `${nodePaths[path]}:${mount.mountPath}${mount.readOnly ? ':ro' : ''}`);
    else mounts.push('--tmpfs', `${mount.mountPath}:size=16m`);
  }
  const sc = container.securityContext;
  expect(sc).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  const args = (container.args as string[]).filter((a) => !a.startsWith('--metrics-port='));
  podmanOk(env.setup, [
    'run', '--detach', '--name', installer, '--network', 'host', '--user', `${sc.runAsUser}:${sc.runAsGroup}`,
    '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', ...mounts,
    '-v', `${serviceAccount}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
    '-e', `NODE_NAME=${NodeName}`, '-e', 'KUBERNETES_SERVICE_HOST=127.0.0.1', '-e', `KUBERNETES_SERVICE_PORT=${api.port}`,
    container.image, ...args, '--metrics-port=0', `--host-cni-conf-dir=${env.setup.confDir}`,
  ]);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && !(plugins().at(-1)?.type === 'outrigger-cni' && existsSync(join(env.setup.nodeBinDir, 'outrigger-cni')))) {
    await new Promise((r) => setTimeout(r, 250));
  }
  if (plugins().at(-1)?.type !== 'outrigger-cni') throw new Error(`the installer did not chain the plugin: ${podman(env.setup, ['logs', installer]).stderr}`);
  const podmanPod = podFromInjectedWorkload(injected, web);
  const path = join(env.dir, 'web-installed-pod.yaml');
  writeFileSync(path, podmanPod.yaml);
  await playKubeAsync(env.setup, nodeNetwork, path); // the API stand-in answers the plugin meanwhile
}, 1_800_000);

afterAll(async () => {
  if (env && installer) podman(env.setup, ['rm', '--force', '--time', '0', installer]);
  await api?.close();
  env?.stop();
});

describe('CNI mode installed by outrigger cni install from the image', () => {
  it("copied the plugin into the node's bin directory and chained it last into the primary config, with a kubeconfig", () => {
    expect(sha256(join(env.setup.nodeBinDir, 'outrigger-cni'))).toBe(sha256('dist/outrigger-cni'));
    const entries = plugins();
    expect(entries.map((p) => p.type)).toEqual(['bridge', 'outrigger-cni']);
    const kubeconfig = entries[1]?.kubeconfig ?? '';
    expect(kubeconfig.startsWith(`${env.setup.confDir}/`)).toBe(true);
    expect(readFileSync(kubeconfig, 'utf8')).toContain(`https://127.0.0.1:${api.port}`);
  });

  it("the plugin fetched the pod's annotations from the API, applied capture; proxy-validation passed; traffic is captured", () => {
    expect(api.requests.some((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/shop/pods/${web}` && r.status === 200)).toBe(true);
    expect(containerNames(env.setup, web).filter((n) => !n.endsWith('-infra'))).toEqual([`${web}-app`, `${web}-proxy`]);
    const webIp = podIp(env.setup, web);
    const peerIp = podIp(env.setup, env.peer);
    expectCapturedOutbound(env.setup, web, webIp, peerIp);
    expect(connectFrom(env.setup, `${web}-proxy`, peerIp, 8080).lines).toEqual([expect.objectContaining({ app: 'peer' })]);
  });

  it("every API call (the installer's repair loop and the plugin's lookup) is allowed by the cni overlay's ClusterRole", async () => {
    // The repair loop lists the node's pods, then watches them: wait for the watch.
    const watching = () => api.requests.some((r) => r.method === 'GET' && r.path === '/api/v1/pods' && r.query.watch === 'true');
    for (let waited = 0; waited < 25_000 && !watching(); waited += 250) await new Promise((r) => setTimeout(r, 250));
    expect(api.requests.every((r) => r.authorization === `Bearer ${api.token}`)).toBe(true);
    expect(watching()).toBe(true);
    const denied = api.requests.map((r) => `${r.method} ${r.path}?${new URLSearchParams(r.query).toString()}`).filter((call) => {
      const [method = '', path = ''] = call.split(' ');
      return !allowed(resourceRequest(method, path), [{ kind: 'ClusterRole', rules }]);
    });
    expect(denied).toEqual([]);
    expect(api.requests.filter((r) => r.status !== 200)).toEqual([]);
    // The repair loop listed and watched this node's pods only, and repaired nothing (the pod is captured).
    expect(api.requests.some((r) => r.method === 'DELETE')).toBe(false);
    const podQueries = api.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/pods');
    expect(podQueries.length).toBeGreaterThanOrEqual(2);
    for (const request of podQueries) expect(request.query.fieldSelector).toBe(`spec.nodeName=${NodeName}`);
  });

  it('on SIGTERM the installer removes exactly what it added: the primary config is byte for byte as before', () => {
    podmanOk(env.setup, ['pod', 'rm', '--force', '--time', '0', web]); // DEL runs while the plugin is still there
    const stopped = podman(env.setup, ['stop', '--time', '20', installer], 60_000);
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(podmanOk(env.setup, ['inspect', installer, '--format', '{{.State.ExitCode}}']).trim()).toBe('0');
    expect(readFileSync(primary, 'utf8')).toBe(primaryBefore);
    expect(existsSync(join(env.setup.nodeBinDir, 'outrigger-cni'))).toBe(false);
  });
});
