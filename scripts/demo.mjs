// The README's main job: shows outrigger end to end on one machine.
//  1. the capture plan outrigger init would apply (dry run: works anywhere);
//  2. with root: a pod and a peer network namespace, `outrigger init` applying the rules in the pod,
//     a stand-in proxy (uid 1337) on 15001/15006, and real connections showing what is captured;
//  3. cleanup.
// Without root it says so and shows step 1 only. Every step is bounded in time.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/outrigger.mjs', import.meta.url));
const probeServer = fileURLToPath(new URL('../test/helpers/probe-server.py', import.meta.url));
const probeClient = fileURLToPath(new URL('../test/helpers/probe-client.py', import.meta.url));
const node = process.execPath;
const initFlags = ['-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT', '-i', '*', '-x', '', '-b', '*', '-d', '15090,15021,15020'];

const say = (text) => process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const show = (cmd, args, options = {}) => {
  process.stdout.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const result = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, ...options });
  process.stdout.write(result.stdout ?? '');
  if (result.status !== 0) process.stdout.write(result.stderr ?? '');
  return result;
};

say('1. The capture plan (istio-iptables compatible flags, dry run: nothing is touched)');
show(node, [cli, 'init', ...initFlags, '--ipv6', 'false', '--dry-run']);

if (process.getuid?.() !== 0) {
  say('Steps 2-3 need root (network namespaces and iptables); run the demo as root to see traffic being captured.');
  process.exit(0);
}

const id = randomBytes(3).toString('hex');
const pod = `or-demo-pod-${id}`;
const peer = `or-demo-peer-${id}`;
const children = [];
const cleanup = () => {
  for (const child of children) child.kill('SIGTERM');
  for (const ns of [pod, peer]) spawnSync('ip', ['netns', 'del', ns]);
};
process.on('exit', cleanup);

say('2. A pod and a peer, joined by a veth (198.18.7.0/24, no route anywhere else)');
for (const args of [
  ['netns', 'add', pod], ['netns', 'add', peer],
  ['link', 'add', 'eth0', 'netns', pod, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer],
  ['-n', pod, 'addr', 'add', '198.18.7.2/24', 'dev', 'eth0'], ['-n', peer, 'addr', 'add', '198.18.7.1/24', 'dev', 'eth0'],
  ['-n', pod, 'link', 'set', 'eth0', 'up'], ['-n', peer, 'link', 'set', 'eth0', 'up'],
  ['-n', pod, 'link', 'set', 'lo', 'up'], ['-n', peer, 'link', 'set', 'lo', 'up'],
]) execFileSync('ip', args);

say('   outrigger init in the pod (what the proxy-init container runs)');
show('ip', ['netns', 'exec', pod, node, cli, 'init', ...initFlags, '--log-level', 'warn']);
show('ip', ['netns', 'exec', pod, 'iptables-save', '-t', 'nat']);

const startProbe = (ns, name, addresses, uid) => new Promise((resolve, reject) => {
  const asUser = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  const child = spawn('ip', ['netns', 'exec', ns, ...asUser, '/usr/bin/python3', probeServer, '--name', name, '--max-seconds', '60', ...addresses.flatMap((a) => ['--tcp', a])], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const timer = setTimeout(() => reject(new Error(`${name} did not start`)), 5000);
  child.stdout.on('data', (d) => { if (String(d).includes('READY')) { clearTimeout(timer); resolve(); } });
});
await startProbe(pod, 'stand-in proxy (outbound listener, uid 1337)', ['0.0.0.0:15001'], 1337);
await startProbe(pod, 'stand-in proxy (inbound listener, uid 1337)', ['0.0.0.0:15006'], 1337);
await startProbe(peer, 'peer app on 198.18.7.1:8080', ['0.0.0.0:8080']);

const connect = (ns, uid, host, port) => {
  const asUser = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  const out = spawnSync('ip', ['netns', 'exec', ns, ...asUser, '/usr/bin/python3', probeClient, 'tcp', host, String(port), '3'], { encoding: 'utf8', timeout: 10_000 });
  return JSON.parse(out.stdout.trim() || '{"error":"no reply"}');
};

say('   The app (uid 1000) connects to the peer: captured by the proxy, original destination preserved');
console.log(connect(pod, 1000, '198.18.7.1', 8080));
say('   The proxy itself (uid 1337) connects to the peer: goes direct, no loop');
console.log(connect(pod, 1337, '198.18.7.1', 8080));
say('   The peer connects to the pod on port 9090: captured by the inbound listener');
console.log(connect(peer, undefined, '198.18.7.2', 9090));

say('3. Cleanup: outrigger init --cleanup-only removes exactly what it added');
show('ip', ['netns', 'exec', pod, node, cli, 'init', '--cleanup-only', '--log-level', 'warn']);
show('ip', ['netns', 'exec', pod, 'iptables-save', '-t', 'nat']);
cleanup();
process.exit(0);
