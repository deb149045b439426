// Benchmark: wall time of `outrigger init` (process start to exit) applying capture in a fresh
// network namespace, with each backend, beside its floor:
//   iptables: Node starting an empty script plus one iptables-restore per family of the very same
//             rules (taken from `outrigger init --dry-run --output json`);
//   nftables (--native-nftables): Node starting an empty script plus one `nft -f` of the very same
//             script (`outrigger init --native-nftables --dry-run`).
// Every arm runs as `ip netns exec NS sh -c '...'` so they pay the same wrapper cost, in a rotating
// order within each round.
// Usage: node bench/init-bench.mjs [runs]   (needs root; run `npm run build` first)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';

const runs = Number(process.argv[2] ?? 30);
const warmup = 3;
const node = process.execPath;
const cli = resolve('dist/outrigger.mjs');
if (process.getuid?.() !== 0) throw new Error('the init benchmark needs root to create network namespaces');

const scenarios = [
  { name: 'REDIRECT, all ports, IPv4+IPv6', flags: ['-b', '*', '-i', '*', '-d', '15090,15021,15020', '--ipv6', 'true'] },
  { name: 'TPROXY + DNS capture-all, IPv4+IPv6', flags: ['-m', 'TPROXY', '-b', '*', '-i', '*', '--redirect-dns', '--capture-all-dns', '--ipv6', 'true'] },
  // An IPv4-only pod: the floor restores one family; init also reads ip6tables once (an earlier
  // run's IPv6 rules would be removed), which this arm prices.
  { name: 'REDIRECT, all ports, IPv4 only', flags: ['-b', '*', '-i', '*', '-d', '15090,15021,15020', '--ipv6', 'false'] },
];

const dir = mkdtempSync(join(tmpdir(), 'or-bench-'));
const empty = join(dir, 'empty.mjs');
writeFileSync(empty, '');
const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
const freshScript = (text) => text.split('\n').filter((l) => !/^(add|delete) table /.test(l)).join('\n');

function timed(ns, script) {
  const start = process.hrtime.bigint();
  const result = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${script} failed: ${result.stderr}`);
  return ms;
}

function freshNamespace(i) {
  const ns = `or-bench-${process.pid}-${i}`;
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  return ns;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p90: at(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length };
};

const lines = [];
for (const scenario of scenarios) {
  const json = JSON.parse(execFileSync(node, [cli, 'init', '--dry-run', '--output', 'json', ...scenario.flags], { encoding: 'utf8' }));
  const v4 = join(dir, 'v4.rules');
  const v6 = join(dir, 'v6.rules');
  writeFileSync(v4, json.ipv4);
  writeFileSync(v6, json.ipv6 ?? '');
  const script = join(dir, 'capture.nft');
  // The script init runs in a fresh namespace: the dry-run's without its removal prelude (the
  // listing shows none of our tables, so the applier removes none).
  writeFileSync(script, freshScript(execFileSync(node, [cli, 'init', '--dry-run', '--native-nftables', ...scenario.flags], { encoding: 'utf8' })));
  const arms = {
    ours: `${quote(node)} ${quote(cli)} init ${scenario.flags.map(quote).join(' ')} --log-level silent`,
    floor: `${quote(node)} ${quote(empty)} && iptables-nft-restore --noflush < ${quote(v4)}${json.ipv6 ? ` && ip6tables-nft-restore --noflush < ${quote(v6)}` : ''}`,
    oursNft: `${quote(node)} ${quote(cli)} init ${scenario.flags.map(quote).join(' ')} --native-nftables --log-level silent`,
    floorNft: `${quote(node)} ${quote(empty)} && nft -f ${quote(script)}`,
  };
  const samples = Object.fromEntries(Object.keys(arms).map((arm) => [arm, []]));
  const names = Object.keys(arms);
  for (let i = 0; i < warmup + runs; i++) {
    // Rotate the order so no arm always runs on a warmer machine.
    for (const arm of names.map((_, k) => names[(k + i) % names.length])) {
      const ns = freshNamespace(`${i}-${arm}`);
      try {
        const ms = timed(ns, arms[arm]);
        if (i >= warmup) samples[arm].push(ms);
      } finally {
        execFileSync('ip', ['netns', 'del', ns]);
      }
    }
  }
  const o = stats(samples.ours);
  const f = stats(samples.floor);
  const on = stats(samples.oursNft);
  const fn = stats(samples.floorNft);
  lines.push(`| ${scenario.name} | iptables | ${o.median.toFixed(1)} | ${o.p90.toFixed(1)} | ${f.median.toFixed(1)} | ${f.p90.toFixed(1)} | ${(o.median / f.median).toFixed(2)}x |`);
  lines.push(`| ${scenario.name} | nftables | ${on.median.toFixed(1)} | ${on.p90.toFixed(1)} | ${fn.median.toFixed(1)} | ${fn.p90.toFixed(1)} | ${(on.median / fn.median).toFixed(2)}x (${(on.median / o.median).toFixed(2)}x of iptables init) |`);
}

const nftVersion = spawnSync('nft', ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${nftVersion}, ${runs} runs per arm after ${warmup} warm-up runs, fresh namespace per run, iptables nft backend.`);
console.log('');
console.log('| scenario | backend | outrigger init median ms | p90 ms | floor median ms | floor p90 ms | ratio (medians) |');
console.log('|---|---|---|---|---|---|---|');
for (const line of lines) console.log(line);
