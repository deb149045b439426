// Benchmark: wall time (process start to exit) of the outrigger-cni single executable doing ADD
// for a pod prepared for CNI mode, in a fresh network namespace each run:
//   runtime  - annotations from runtimeConfig `io.kubernetes.cri.pod-annotations` (no API call)
//   api      - no runtime annotations: the pod is read from a local Kubernetes API stand-in
//              (HTTPS on 127.0.0.1, test/helpers/kube-api-stand-in.mjs) through a kubeconfig
//   skip     - a pod without the annotation (what every other pod on the node pays)
// beside the floor: the same executable answering VERSION (start-up and exit, nothing else)
// plus one `iptables-restore --noflush` per family of exactly the same rules, entered with the
// same `nsenter --net=` the plugin uses (rules from `outrigger init --dry-run --output json`).
// With native nftables (the pod's settings carry nativeNftables): ADD beside its floor, the same
// VERSION start-up plus one `nft -f` of the same script (`outrigger init --native-nftables --dry-run`).
// Every arm runs as `sh -c '...'` from the root namespace, as a runtime starts a plugin.
// Also reports the executable's size and start time (VERSION) beside `node` running an empty file.
// Usage: node bench/cni-bench.mjs [runs]   (root; after `npm run build`)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generate } from 'selfsigned';

const runs = Number(process.argv[2] ?? 30);
const warmup = 3;
const node = process.execPath;
const plugin = resolve('dist/outrigger-cni');
const cli = resolve('dist/outrigger.mjs');
if (process.getuid?.() !== 0) throw new Error('the CNI benchmark needs root to create network namespaces');

const dir = mkdtempSync(join(tmpdir(), 'or-cni-bench-'));
const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9) };
};

// The settings the injector writes for Istio's defaults, and the same rules for the floor.
const flags = ['-b', '*', '-i', '*', '-x', '', '-d', '15090,15021,15020', '-m', 'REDIRECT', '--ipv6', 'true'];
const settings = JSON.stringify({ inboundInterceptionMode: 'REDIRECT', inboundPorts: '*', inboundPortsExclude: '15090,15021,15020', outboundIpRangesExclude: '', outboundIpRangesInclude: '*' });
const rules = JSON.parse(execFileSync(node, [cli, 'init', '--dry-run', '--output', 'json', ...flags], { encoding: 'utf8' }));
writeFileSync(join(dir, 'v4.rules'), rules.ipv4);
writeFileSync(join(dir, 'v6.rules'), rules.ipv6);
const nftSettings = JSON.stringify({ ...JSON.parse(settings), nativeNftables: 'true' });
// What ADD runs in a fresh namespace: the dry-run script without its removal prelude.
writeFileSync(join(dir, 'capture.nft'), execFileSync(node, [cli, 'init', '--dry-run', '--native-nftables', ...flags], { encoding: 'utf8' }).split('\n').filter((l) => !/^(add|delete) table /.test(l)).join('\n'));

// A local Kubernetes API stand-in for the fallback arm.
const token = 'bench-token';
const pems = await generate([{ name: 'commonName', value: 'kube-apiserver stand-in' }], {
  keySize: 2048,
  extensions: [{ name: 'basicConstraints', cA: true }, { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
});
writeFileSync(join(dir, 'api.crt'), pems.cert);
writeFileSync(join(dir, 'api.key'), pems.private);
writeFileSync(join(dir, 'token'), token);
writeFileSync(join(dir, 'pods.json'), JSON.stringify({ 'shop/web-1': { metadata: { name: 'web-1', namespace: 'shop', uid: 'u-1', annotations: { 'outrigger.dev/capture-settings': settings } } } }));
const api = spawn(node, ['test/helpers/kube-api-stand-in.mjs', '--cert', join(dir, 'api.crt'), '--key', join(dir, 'api.key'), '--token', token, '--pods', join(dir, 'pods.json'), '--max-seconds', '1800'], { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolvePort, reject) => {
  api.stdout.on('data', (d) => {
    const m = /READY (\d+)/.exec(d.toString());
    if (m) resolvePort(Number(m[1]));
  });
  api.on('exit', () => reject(new Error('API stand-in exited')));
});
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(kubeconfig, JSON.stringify({
  apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
  clusters: [{ name: 'k', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(pems.cert).toString('base64') } }],
  users: [{ name: 'u', user: { tokenFile: join(dir, 'token') } }],
  contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
}));

const prevResult = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'eth0', mac: '0a:58:c6:12:01:02', sandbox: '' }],
  ips: [{ address: '198.18.1.2/24', gateway: '198.18.1.1', interface: 0 }, { address: '2001:db8:1::2/64', gateway: '2001:db8:1::1', interface: 0 }],
};
function confFile(name, extra) {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'outrigger-cni', logLevel: 'warn', logFile: join(dir, 'cni.log'), prevResult, ...extra }));
  return path;
}
const confs = {
  runtime: confFile('runtime', { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'outrigger.dev/capture-settings': settings } } }),
  api: confFile('api', { kubeconfig }),
  skip: confFile('skip', { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'other/annotation': 'x' } } }),
  runtimeNft: confFile('runtime-nft', { runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'outrigger.dev/capture-settings': nftSettings } } }),
};

const cniEnv = (command, netns) =>
  `env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=${command} CNI_CONTAINERID=bench CNI_NETNS=${quote(netns)} CNI_IFNAME=eth0 CNI_PATH=${quote(resolve('dist'))} CNI_ARGS='K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1;K8S_POD_UID=u-1'`;
const arms = {
  runtime: (netns) => `${cniEnv('ADD', netns)} ${quote(plugin)} < ${quote(confs.runtime)}`,
  api: (netns) => `${cniEnv('ADD', netns)} ${quote(plugin)} < ${quote(confs.api)}`,
  skip: (netns) => `${cniEnv('ADD', netns)} ${quote(plugin)} < ${quote(confs.skip)}`,
  floor: (netns) =>
    `${cniEnv('VERSION', netns)} ${quote(plugin)} < /dev/null && nsenter --net=${quote(netns)} iptables-nft-restore --noflush < ${quote(join(dir, 'v4.rules'))} && nsenter --net=${quote(netns)} ip6tables-nft-restore --noflush < ${quote(join(dir, 'v6.rules'))}`,
  runtimeNft: (netns) => `${cniEnv('ADD', netns)} ${quote(plugin)} < ${quote(confs.runtimeNft)}`,
  floorNft: (netns) => `${cniEnv('VERSION', netns)} ${quote(plugin)} < /dev/null && nsenter --net=${quote(netns)} nft -f ${quote(join(dir, 'capture.nft'))}`,
  version: (netns) => `${cniEnv('VERSION', netns)} ${quote(plugin)} < /dev/null`,
  nodeEmpty: () => `${quote(node)} -e ''`,
};

function timed(script) {
  const start = process.hrtime.bigint();
  const result = spawnSync('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0 || String(result.stdout).includes('"code"')) throw new Error(`${script} failed: ${result.stdout}${result.stderr}`);
  return ms;
}

const samples = Object.fromEntries(Object.keys(arms).map((k) => [k, []]));
try {
  for (let i = 0; i < warmup + runs; i++) {
    const order = Object.keys(arms);
    if (i % 2 === 1) order.reverse(); // neither arm always runs on a warmer machine
    for (const arm of order) {
      const ns = `or-cni-bench-${process.pid}-${i}-${arm}`;
      execFileSync('ip', ['netns', 'add', ns]);
      try {
        execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        const ms = timed(arms[arm](`/var/run/netns/${ns}`));
        if (i >= warmup) samples[arm].push(ms);
      } finally {
        execFileSync('ip', ['netns', 'del', ns]);
      }
    }
  }
} finally {
  api.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const f = stats(samples.floor);
const row = (label, arm, floor = f) => {
  const s = stats(samples[arm]);
  return `| ${label} | ${s.median.toFixed(1)} | ${s.p90.toFixed(1)} | ${floor.median.toFixed(1)} | ${(s.median / floor.median).toFixed(2)}x |`;
};
console.log(`Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${spawnSync('nft', ['--version'], { encoding: 'utf8' }).stdout.trim()}, ${runs} runs per arm after ${warmup} warm-up runs, fresh namespace per run, iptables nft backend.`);
console.log(`Executable: ${plugin} ${(statSync(plugin).size / 1e6).toFixed(1)} MB; start to exit (VERSION) median ${stats(samples.version).median.toFixed(1)} ms, p90 ${stats(samples.version).p90.toFixed(1)} ms; \`node -e ''\` median ${stats(samples.nodeEmpty).median.toFixed(1)} ms.`);
console.log('');
console.log('| ADD | median ms | p90 ms | floor median ms | ratio (medians) |');
console.log('|---|---|---|---|---|');
console.log(row('annotations from the runtime (IPv4+IPv6)', 'runtime'));
console.log(row('API fallback, local stand-in (IPv4+IPv6)', 'api'));
console.log(row('pod without the annotation (pass-through)', 'skip'));
console.log(row('native nftables, annotations from the runtime (IPv4+IPv6; floor: VERSION + one nft -f)', 'runtimeNft', stats(samples.floorNft)));
console.log(`\nnftables ADD / iptables ADD (medians, annotations from the runtime): ${(stats(samples.runtimeNft).median / stats(samples.runtime).median).toFixed(2)}x`);
