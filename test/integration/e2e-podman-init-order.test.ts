// End to end in podman: the pod's own init containers must be able to reach the network
// (issue 9 item 4). The workload (test/fixtures/e2e/init-client-deployment.yaml) has an init
// container, `fetch-config` (uid 1000, no capabilities), that makes a real TCP connection to the
// peer pod on the test's private 198.18.x.0/24 bridge and fails if it cannot.
// - Classic sidecar mode (sidecar.istio.io/nativeSidecar "false"): proxy-init comes last, as in
//   Istio, so fetch-config runs before capture exists and reaches the peer directly; the app's
//   traffic is captured afterwards. Control: the same pod in the order outrigger used before
//   (proxy-init first) really blackholes it: its connection is redirected to 15001, where no proxy
//   listens yet, and refused.
// - Native sidecar mode (the default): proxy-init, then the proxy, then fetch-config, whose
//   connection is captured and carried by the running proxy. podman 4.3 cannot run native sidecars,
//   so the kubelet's sequencing is a labelled stand-in (test/helpers/native-sidecar-stand-in.ts):
//   kube play runs proxy-init and starts the proxy; once the proxy is ready the test runs
//   fetch-config in the pod exactly as its container spec says. The order itself is the injector's.
// Needs root and podman; fails with the reason otherwise.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { Cli, type E2eEnvironment, E2eFixtures, expectCapturedOutbound, hostPort, startE2eEnvironment } from '../helpers/e2e-environment.js';
import { nativeSidecarStandIn, runInitContainerInPod } from '../helpers/native-sidecar-stand-in.js';
import { podFromInjectedWorkload, type PodmanPod } from '../helpers/pod-for-podman.js';
import { containerNames, podIp, podman, runOk } from '../helpers/podman.js';

type Json = Record<string, any>;

let env: E2eEnvironment;
let peerIp = '';

interface ConnectOutcome {
  client_uid: number;
  target: string;
  lines: Json[];
  error?: string;
}

/** The injected Deployment for a mode, with the peer's address and a results directory of the run's own. */
function injectClient(mode: 'native' | 'classic'): { injected: string; results: string } {
  const results = join(env.dir, `results-${mode}`);
  mkdirSync(results, { recursive: true });
  chmodSync(results, 0o777); // fetch-config runs as uid 1000
  const workload = parseYaml(readFileSync(`${E2eFixtures}/init-client-deployment.yaml`, 'utf8')) as Json;
  const spec = workload.spec.template.spec as Json;
  const command = spec.initContainers[0].command as string[];
  command[2] = (command[2] as string).replace('PEER_ADDRESS', peerIp);
  spec.volumes[0].hostPath.path = results;
  if (mode === 'classic') workload.spec.template.metadata.annotations = { 'sidecar.istio.io/nativeSidecar': 'false' };
  const path = join(env.dir, `client-${mode}.yaml`);
  writeFileSync(path, stringify(workload));
  const injected = runOk(process.execPath, [Cli, 'inject', '-f', path, '--config-file', `${E2eFixtures}/injector-config.yaml`]);
  return { injected, results };
}

function play(name: string, pod: Json): ReturnType<typeof podman> {
  env.track(name);
  const path = join(env.dir, `${name}.yaml`);
  writeFileSync(path, stringify({ ...pod, metadata: { ...pod.metadata, name } }, { aliasDuplicateObjects: false }));
  return podman(env.setup, ['kube', 'play', '--network', env.network.name, path], 180_000);
}

function outcome(results: string): ConnectOutcome {
  return JSON.parse(readFileSync(join(results, 'fetch-config.json'), 'utf8')) as ConnectOutcome;
}

const initNames = (spec: Json): string[] => ((spec.initContainers ?? []) as Json[]).map((c) => c.name as string);

beforeAll(() => {
  env = startE2eEnvironment();
  peerIp = podIp(env.setup, env.peer);
}, 1_800_000);

afterAll(() => env?.stop());

describe('classic sidecar mode: proxy-init runs after the pod\'s own init containers', () => {
  let pod: PodmanPod;
  let results = '';
  let name = '';

  beforeAll(() => {
    const made = injectClient('classic');
    results = made.results;
    name = `client-classic-${env.id}`;
    pod = podFromInjectedWorkload(made.injected, name);
  });

  it('the injected pod lists proxy-init last among the init containers and the proxy first among the containers', () => {
    expect(initNames(pod.pod.spec)).toEqual(['fetch-config', 'proxy-init']);
    expect((pod.pod.spec.containers as Json[]).map((c) => c.name)).toEqual(['proxy', 'app']);
  });

  it("fetch-config's outbound connection reaches the peer directly; afterwards the app's traffic is captured", () => {
    const played = play(name, pod.pod);
    expect(played.status, played.stderr).toBe(0);
    const out = outcome(results);
    expect(out.error).toBeUndefined();
    expect(out.client_uid).toBe(1000);
    // One line: the peer's own answer, no proxy in between (capture did not exist yet).
    expect(out.lines).toEqual([expect.objectContaining({ app: 'peer', local: hostPort(peerIp, 8080) })]);
    expect(containerNames(env.setup, name).filter((n) => !n.endsWith('-infra'))).toEqual([`${name}-app`, `${name}-proxy`]);
    expectCapturedOutbound(env.setup, name, podIp(env.setup, name), peerIp);
  });

  it('control: in the order used before (proxy-init first) the same init container is blackholed', () => {
    const controlResults = join(env.dir, 'results-control');
    mkdirSync(controlResults);
    chmodSync(controlResults, 0o777);
    const spec = structuredClone(pod.pod.spec) as Json;
    const init = spec.initContainers as Json[];
    spec.initContainers = [init.find((c) => c.name === 'proxy-init'), ...init.filter((c) => c.name !== 'proxy-init')];
    spec.volumes = [{ name: 'results', hostPath: { path: controlResults, type: 'Directory' } }];
    // Never: podman 4.3 would otherwise restart the failing init container (the pod's policy).
    spec.restartPolicy = 'Never';
    expect(initNames(spec)).toEqual(['proxy-init', 'fetch-config']);
    play(`client-old-order-${env.id}`, { ...pod.pod, spec });
    const out = outcome(controlResults);
    expect(out.lines).toEqual([]);
    expect(out.error).toMatch(/Connection refused/);
  });
});

describe('native sidecar mode (kubelet sequencing by a labelled stand-in): the pod\'s own init containers run behind the started proxy', () => {
  let pod: PodmanPod;
  let results = '';
  let name = '';

  beforeAll(() => {
    const made = injectClient('native');
    results = made.results;
    name = `client-native-${env.id}`;
    pod = podFromInjectedWorkload(made.injected, name);
  });

  it('the injected pod lists proxy-init, the proxy (restartPolicy Always), then fetch-config', () => {
    expect(initNames(pod.pod.spec)).toEqual(['proxy-init', 'proxy', 'fetch-config']);
    expect((pod.pod.spec.initContainers as Json[])[1]?.restartPolicy).toBe('Always');
    expect((pod.pod.spec.containers as Json[]).map((c) => c.name)).toEqual(['app']);
  });

  it("fetch-config's outbound connection is captured and carried to the peer by the proxy", () => {
    const standIn = nativeSidecarStandIn(pod.pod);
    expect(standIn.sidecars).toEqual(['proxy']);
    expect(standIn.after.map((c) => c.name)).toEqual(['fetch-config']);
    const played = play(name, standIn.pod);
    expect(played.status, played.stderr).toBe(0);
    // The startup probe's stand-in: the stand-in proxy prints its ready line once it listens.
    let ready = false;
    for (let i = 0; i < 50 && !ready; i++) {
      ready = podman(env.setup, ['logs', `${name}-proxy`], 10_000).stdout.includes('"ready"');
      if (!ready) runOk('sleep', ['0.2']);
    }
    expect(ready, 'the proxy became ready').toBe(true);
    for (const container of standIn.after) {
      const ran = runInitContainerInPod(env.setup, name, standIn.pod, container);
      expect(ran.status, ran.output).toBe(0);
    }
    const out = outcome(results);
    expect(out.error).toBeUndefined();
    expect(out.client_uid).toBe(1000);
    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatchObject({ via: 'stand-in-proxy', listener: 'outbound', original_dst: hostPort(peerIp, 8080), uid: 1337 });
    expect(out.lines[1]).toMatchObject({ app: 'peer', local: hostPort(peerIp, 8080) });
  });
});
