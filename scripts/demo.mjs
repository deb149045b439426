// The README's main job: outrigger end to end on one machine.
//  1. the webhook: `outrigger injector` over HTTPS (files TLS mode, a throwaway self-signed
//     certificate) answering a real AdmissionReview for a Deployment's pod, with the shipped
//     ConfigMap's configuration (manifests/base);
//  2. the injected pod spec: `outrigger inject` of the same Deployment (the same code path);
//  3. the capture rules proxy-init would apply, from its injected args (dry run: works anywhere);
//  4. with root: those args applied by `outrigger init` in a pod network namespace beside a peer
//     namespace (198.18.7.0/24, no route anywhere else), the stand-in proxy (uid 1337) on
//     15001/15006, the app (uid 1000), and real connections showing what is captured; then cleanup.
// Without root it says so after step 3. Every step is bounded in time; everything it starts it stops.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stageForOtherUsers } from './stage-for-other-users.ts';
import { generate } from 'selfsigned';
import { parse as parseYaml, parseAllDocuments, stringify } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/outrigger.mjs');
// Run as the proxy's and the app's uids: staged where those users can read it.
const standIn = stageForOtherUsers(join(root, 'images/stand-in-proxy.py'));
const node = process.execPath;
const work = mkdtempSync(join(tmpdir(), 'outrigger-demo-'));
const children = [];
const namespaces = [];
let cleaned = false;
const cleanup = () => {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

const say = (text) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const note = (text) => process.stdout.write(`   ${text}\n`);
const quote = (a) => (a === '' || /[\s*"]/.test(a) ? `'${a}'` : a);
const show = (cmd, args, options = {}) => {
  process.stdout.write(`$ ${[cmd, ...args].map(quote).join(' ')}\n`);
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, ...options });
  process.stdout.write(result.stdout ?? '');
  if (result.status !== 0) process.stdout.write(result.stderr ?? '');
  return result;
};
const elide = (text) => (text.length > 100 ? `${text.slice(0, 60)}... (${text.length} characters)` : text);

// The workload: what a user applies in a namespace labelled istio-injection=enabled.
const deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'registry.example/shop/web:1.4.2', ports: [{ containerPort: 9090, name: 'http' }] }] },
    },
  },
};
const deploymentPath = join(work, 'web-deployment.yaml');
writeFileSync(deploymentPath, stringify(deployment));
// The shipped injector configuration: the ConfigMap in manifests/base.
const configMap = parseYaml(readFileSync(join(root, 'manifests/base/injector-configmap.yaml'), 'utf8'));
const configPath = join(work, 'config.yaml');
writeFileSync(configPath, configMap.data['config.yaml']);

// ---- 1. the webhook
say('1. The webhook: outrigger injector over HTTPS answers a real AdmissionReview');
const pems = await generate([{ name: 'commonName', value: 'outrigger-injector.outrigger.svc' }], {
  keyType: 'ec', algorithm: 'sha256', notAfterDate: new Date(Date.now() + 86_400_000),
  extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'outrigger-injector.outrigger.svc' }, { type: 2, value: 'localhost' }] }],
});
writeFileSync(join(work, 'tls.crt'), pems.cert);
writeFileSync(join(work, 'tls.key'), pems.private, { mode: 0o600 });
const port = await new Promise((resolve, reject) => {
  const probe = createServer().listen(0, '127.0.0.1', () => { const { port: p } = probe.address(); probe.close(() => resolve(p)); });
  probe.on('error', reject);
});
const injectorArgs = ['injector', `--port=${port}`, '--address=127.0.0.1', `--config-file=${configPath}`, `--tls-cert-file=${join(work, 'tls.crt')}`, `--tls-key-file=${join(work, 'tls.key')}`, '--log-level=warn', '--shutdown-drain=0'];
note(`outrigger ${injectorArgs.join(' ').replaceAll(work, '$TMP')}`);
const injector = spawn(node, [cli, ...injectorArgs], { stdio: ['ignore', 'inherit', 'inherit'] });
children.push(injector);

const https = (method, path, body) => new Promise((resolve, reject) => {
  let tls = 'unknown';
  const req = request({ host: '127.0.0.1', port, method, path, servername: 'localhost', ca: pems.cert, minVersion: 'TLSv1.2', timeout: 5000, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
    tls = res.socket?.getProtocol?.() ?? tls;
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { text += d; });
    res.on('end', () => resolve({ status: res.statusCode, text, tls }));
  });
  req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
  req.on('error', reject);
  req.end(body ? JSON.stringify(body) : undefined);
});
const readyBy = Date.now() + 15_000;
let ready;
while (Date.now() < readyBy) {
  ready = await https('GET', '/readyz').catch(() => undefined);
  if (ready?.status === 200) break;
  if (injector.exitCode !== null) break;
  await new Promise((r) => setTimeout(r, 200));
}
if (ready?.status !== 200) {
  console.error('demo: the injector did not become ready within 15 s');
  process.exit(1);
}
note(`GET /readyz -> ${ready.status} over ${ready.tls}, certificate verified against its CA`);
const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'web-7d4b9c8f6d-', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6d' } },
  spec: deployment.spec.template.spec,
};
const review = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: randomUUID(),
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    requestKind: { group: '', version: 'v1', kind: 'Pod' },
    requestResource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'shop',
    operation: 'CREATE',
    userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    object: pod,
    dryRun: false,
    options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
  },
};
const answer = await https('POST', '/inject', review);
const response = JSON.parse(answer.text).response;
note(`POST /inject (AdmissionReview v1, uid ${review.request.uid}) -> HTTP ${answer.status}`);
note(`response: uid matches: ${response.uid === review.request.uid}, allowed: ${response.allowed}, patchType: ${response.patchType}`);
const patch = JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8') || '[]');
const describeValue = (value) => {
  if (Array.isArray(value)) return value.map(describeValue).join(', ');
  if (value?.name && value?.image) return `${value.name} (${value.image})`;
  if (value && typeof value === 'object') return Object.keys(value).join(', ');
  return elide(JSON.stringify(value));
};
for (const op of patch) note(`  ${op.op} ${op.path}: ${describeValue(op.value)}`);
const metrics = await https('GET', '/metrics');
for (const line of metrics.text.split('\n').filter((l) => /^outrigger_injector_(requests|injections)_total/.test(l))) note(line);
injector.kill('SIGTERM');

// ---- 2. the injected pod spec
say('2. The injected pod spec: outrigger inject (the same mutation, offline)');
const injected = spawnSync(node, [cli, 'inject', '-f', deploymentPath, '--config-file', configPath], { encoding: 'utf8', timeout: 30_000 });
if (injected.status !== 0) {
  console.error(`demo: outrigger inject failed: ${injected.stderr}`);
  process.exit(1);
}
const injectedDoc = parseAllDocuments(injected.stdout)[0].toJS();
const podSpec = injectedDoc.spec.template.spec;
// The parts that matter here (the full YAML is what `outrigger inject` prints): who runs what, as whom.
const brief = (c) => ({
  name: c.name, image: c.image,
  ...(c.command || c.args ? { command: [...(c.command ?? []), ...(c.args ?? []).map(elide)].map(quote).join(' ') } : {}),
  ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}), securityContext: c.securityContext,
});
process.stdout.write(stringify({
  annotations: injectedDoc.spec.template.metadata.annotations,
  initContainers: (podSpec.initContainers ?? []).map(brief),
  containers: podSpec.containers.map(brief),
}, { lineWidth: 0 }).replace(/^/gm, '   '));
const initContainer = podSpec.initContainers.find((c) => c.name === 'proxy-init');
const initArgs = initContainer.args.slice(1); // after `init`
note(`proxy-init runs as uid ${initContainer.securityContext.runAsUser} with only ${initContainer.securityContext.capabilities.add.join(', ')}; the proxy is a native`);
note('sidecar (an init container with restartPolicy Always); sidecar.istio.io/nativeSidecar: "false" makes it a classic one.');

// ---- 3. the rules
say("3. The capture rules proxy-init applies, from its injected args (dry run: nothing is touched)");
show(node, [cli, 'init', ...initArgs, '--ipv6', 'false', '--dry-run']);

if (process.getuid?.() !== 0) {
  say('Steps 4-5 need root (network namespaces and iptables): run `sudo npm run demo` to see traffic being captured.');
  process.exit(0);
}

// ---- 4. applied in a pod network namespace, with traffic
const id = randomBytes(3).toString('hex');
const podNs = `or-demo-pod-${id}`;
const peerNs = `or-demo-peer-${id}`;
say('4. A pod and a peer network namespace, joined by a veth (198.18.7.0/24, no route anywhere else)');
namespaces.push(podNs, peerNs);
for (const args of [
  ['netns', 'add', podNs], ['netns', 'add', peerNs],
  ['link', 'add', 'eth0', 'netns', podNs, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peerNs],
  ['-n', podNs, 'addr', 'add', '198.18.7.2/24', 'dev', 'eth0'], ['-n', peerNs, 'addr', 'add', '198.18.7.1/24', 'dev', 'eth0'],
  ['-n', podNs, 'link', 'set', 'eth0', 'up'], ['-n', peerNs, 'link', 'set', 'eth0', 'up'],
  ['-n', podNs, 'link', 'set', 'lo', 'up'], ['-n', peerNs, 'link', 'set', 'lo', 'up'],
]) execFileSync('ip', args);

note("proxy-init's command in the pod, with its injected args:");
show('ip', ['netns', 'exec', podNs, node, cli, 'init', ...initArgs, '--log-level', 'warn']);
show('ip', ['netns', 'exec', podNs, 'iptables-save', '-t', 'nat']);

const asUser = (uid) => (uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups']);
const start = (ns, uid, args, label) => new Promise((resolve, reject) => {
  const child = spawn('ip', ['netns', 'exec', ns, ...asUser(uid), '/usr/bin/python3', standIn, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const timer = setTimeout(() => reject(new Error(`${label} did not start`)), 5000);
  child.stdout.on('data', (d) => { if (String(d).includes('"ready"')) { clearTimeout(timer); resolve(); } });
  child.on('exit', (code) => reject(new Error(`${label} exited ${code}`)));
});
await start(podNs, 1337, ['proxy'], 'the stand-in proxy');
await start(podNs, 1000, ['serve', '--name', 'web (the app)', '--port', '9090'], 'the app');
await start(peerNs, undefined, ['serve', '--name', 'peer', '--port', '8080'], 'the peer');
note('running: stand-in proxy (uid 1337, 15001/15006) and the app (uid 1000, :9090) in the pod; a peer app on 198.18.7.1:8080');

const connect = (ns, uid, host, port) => {
  const out = spawnSync('ip', ['netns', 'exec', ns, ...asUser(uid), '/usr/bin/python3', standIn, 'connect', host, String(port)], { encoding: 'utf8', timeout: 10_000 });
  const result = JSON.parse(out.stdout.trim() || '{"error":"no reply"}');
  for (const line of result.lines ?? []) note(`  <- ${JSON.stringify(line)}`);
  if (result.error) note(`  error: ${result.error}`);
  return result;
};
say('   The app (uid 1000) connects to the peer: captured into the proxy (15001), original destination kept, relayed');
connect(podNs, 1000, '198.18.7.1', 8080);
say('   The proxy itself (uid 1337) connects to the peer: goes direct, no loop');
connect(podNs, 1337, '198.18.7.1', 8080);
say('   The peer connects to the app on 198.18.7.2:9090: captured into the proxy (15006), handed on from 127.0.0.6');
connect(peerNs, undefined, '198.18.7.2', 9090);

say('5. Cleanup: outrigger init --cleanup-only removes exactly what it added');
show('ip', ['netns', 'exec', podNs, node, cli, 'init', '--cleanup-only', '--log-level', 'warn']);
show('ip', ['netns', 'exec', podNs, 'iptables-save', '-t', 'nat']);
note('The same flow in a real pod runtime (podman kube play of the injected pod, and CNI mode) is the');
note('end-to-end test: npx vitest run test/integration/e2e-podman.test.ts (part of npm test).');
cleanup();
process.exit(0);
