// Benchmark of `outrigger cni install` on a temporary node layout (flannel's conflist):
//  1. start to ready: process spawn until /readyz answers 200 (binary copied, kubeconfig written,
//     entry in the conflist), beside the floor of Node starting an empty script;
//  2. re-insert latency: the network plugin replaces its conflist (rename); time until our entry is
//     back, seen by an fs.watch in this process; floor: the same watch seeing a plain rename;
//  3. stop: SIGTERM until exit (entry, binary and kubeconfig removed).
// Usage: node bench/cni-install-bench.mjs [runs]   (run `npm run build` first; no root needed)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const runs = Number(process.argv[2] ?? 20);
const node = process.execPath;
const cli = resolve('dist/outrigger.mjs');
const flannel = readFileSync('test/fixtures/cni-configs/10-flannel.conflist', 'utf8');
const root = mkdtempSync(join(tmpdir(), 'or-cni-bench-'));
const empty = join(root, 'empty.mjs');
writeFileSync(empty, '');
const plugin = join(root, 'outrigger-cni');
writeFileSync(plugin, randomBytes(64 * 1024 * 1024)); // about the size of a Node single executable

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
};
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function layout(i) {
  const dir = join(root, `node-${i}`);
  for (const sub of ['bin', 'net.d', 'sa']) mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(join(dir, 'sa', 'token'), 'bench-token');
  writeFileSync(join(dir, 'sa', 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'net.d', '10-flannel.conflist'), flannel);
  return dir;
}

async function ready(port) {
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return;
    } catch {}
    await sleep(2);
  }
}

function waitFor(dir, name, predicate) {
  return new Promise((resolveWait) => {
    const check = () => {
      let text = '';
      try { text = readFileSync(join(dir, name), 'utf8'); } catch {}
      if (predicate(text)) {
        watcher.close();
        resolveWait(now());
      }
    };
    // Only changes after the call count (the file may still hold the old state now).
    const watcher = watch(dir, check);
  });
}

const start = [], reinsert = [], stop = [], floorStart = [], floorWatch = [];
for (let i = 0; i < runs + 2; i++) {
  const dir = layout(i);
  const t0 = now();
  spawnSync(node, [empty]);
  const floor = now() - t0;

  const t1 = now();
  const child = spawn(node, [cli, 'cni', 'install', '--cni-bin-dir', join(dir, 'bin'), '--cni-conf-dir', join(dir, 'net.d'),
    '--plugin-binary', plugin, '--token-file', join(dir, 'sa', 'token'), '--ca-file', join(dir, 'sa', 'ca.crt'),
    '--namespace-file', join(dir, 'sa', 'namespace'), '--repair-mode', 'off', '--metrics-port', '0', '--log-level', 'info'], {
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443', PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await new Promise((r) => {
    let text = '';
    child.stderr.on('data', (d) => {
      text += d;
      const m = /"port":(\d+),"msg":"serving \/readyz/.exec(text);
      if (m) r(Number(m[1]));
    });
  });
  await ready(port);
  const started = now() - t1;

  // The network plugin rewrites its conflist; time until our entry is back.
  const confDir = join(dir, 'net.d');
  writeFileSync(join(confDir, 'rewrite.tmp'), flannel);
  const back = waitFor(confDir, '10-flannel.conflist', (t) => t.includes('outrigger-cni'));
  const t2 = now();
  renameSync(join(confDir, 'rewrite.tmp'), join(confDir, '10-flannel.conflist'));
  const reinserted = (await back) - t2;

  // Floor: the same watch seeing a plain rename of another file.
  writeFileSync(join(confDir, 'floor.tmp'), 'x');
  const seen = waitFor(confDir, 'floor.txt', (t) => t === 'x');
  const t3 = now();
  renameSync(join(confDir, 'floor.tmp'), join(confDir, 'floor.txt'));
  const watched = (await seen) - t3;
  rmSync(join(confDir, 'floor.txt'));

  const t4 = now();
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  const code = await exited;
  const stopped = now() - t4;
  if (code !== 0) throw new Error(`installer exited ${code}`);
  if (readFileSync(join(confDir, '10-flannel.conflist'), 'utf8') !== flannel) throw new Error('conflist not restored');
  rmSync(dir, { recursive: true, force: true });
  if (i < 2) continue; // warm-up
  start.push(started); reinsert.push(reinserted); stop.push(stopped); floorStart.push(floor); floorWatch.push(watched);
}
rmSync(root, { recursive: true, force: true });

const fmt = (x) => x.toFixed(1);
const row = (name, xs, floor) => {
  const a = stats(xs), f = stats(floor);
  return `| ${name} | ${fmt(a.median)} | ${fmt(a.p90)} | ${fmt(f.median)} | ${fmt(f.p90)} |`;
};
console.log(`${runs} runs, ${cpus().length} CPUs (${cpus()[0]?.model}), Node ${process.version}`);
console.log('| measure | median ms | p90 ms | floor median ms | floor p90 ms |');
console.log('|---|---|---|---|---|');
console.log(row('start to /readyz 200 (64 MiB binary copied)', start, floorStart));
console.log(row('re-insert after the network plugin rewrites its conflist', reinsert, floorWatch));
console.log(`| SIGTERM to exit, everything removed | ${fmt(stats(stop).median)} | ${fmt(stats(stop).p90)} | — | — |`);
