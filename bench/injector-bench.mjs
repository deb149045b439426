// Benchmark: admissions per second and p50/p99 latency of `outrigger injector` (the built CLI, its
// own process) for a typical pod and a huge one (2,000 env vars, ~64 KB), side by side with the
// floor: a null fastify HTTPS handler (bench/null-admission-server.mjs, also its own process, same
// TLS and body settings) answering `allowed: true` to exactly the same requests. autocannon over
// HTTPS with keep-alive connections, as kube-apiserver calls webhooks. Arms alternate; each
// measurement is bounded in time. Usage: node bench/injector-bench.mjs [seconds] [connections]
// (run `npm run build` first). autocannon does not verify certificates (it forces
// rejectUnauthorized: false); that only affects handshakes, identical for both arms.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { generate } from 'selfsigned';
import { admissionReview, deploymentPod, hugePod } from '../test/helpers/admission-requests.ts';

const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 8);
const node = process.execPath;
const cli = resolve('dist/outrigger.mjs');

const dir = mkdtempSync(join(tmpdir(), 'or-injector-bench-'));
const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
  keyType: 'ec',
  curve: 'P-256',
  algorithm: 'sha256',
  extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
});
const certFile = join(dir, 'tls.crt');
const keyFile = join(dir, 'tls.key');
writeFileSync(certFile, pems.cert);
writeFileSync(keyFile, pems.private, { mode: 0o600 });

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  return port;
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Waits until the port is taken (the child listens), bounded to 10 s. */
async function waitListening(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((done) => {
      const s = createServer();
      s.once('error', () => done(true));
      s.listen(port, '127.0.0.1', () => s.close(() => done(false)));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

async function startArm(name) {
  const port = await freePort();
  const args =
    name === 'injector'
      ? [cli, 'injector', '--address', '127.0.0.1', '--port', String(port), '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--shutdown-drain', '0']
      : [resolve('bench/null-admission-server.mjs'), String(port), certFile, keyFile];
  const child = spawn(node, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitListening(port);
  return { port, pid: child.pid, stop: async () => { child.kill('SIGTERM'); await once(child, 'exit'); } };
}

function cannon(port, body, duration, connectionsNow) {
  return new Promise((done, fail) => {
    autocannon(
      {
        url: `https://127.0.0.1:${port}/inject`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: connectionsNow,
        pipelining: 1,
        duration,
        servername: 'localhost',
      },
      (error, result) => (error ? fail(error) : done(result)),
    );
  });
}

const scenarios = [
  { name: 'typical pod', body: JSON.stringify(admissionReview(deploymentPod())) },
  { name: 'huge pod (2,000 env vars)', body: JSON.stringify(admissionReview(hugePod())) },
];

// Where an admission's time goes, in process (no HTTP/TLS): the same modules bundled on the fly.
async function breakdown() {
  const { build } = await import('esbuild');
  const out = await build({
    stdin: {
      contents: `export { parseAdmissionReview } from './injector/admission/parse-admission-review.ts';
        export { admitReview } from './injector/admission/admit-review.ts';
        export { reviewPod } from './injector/mutation/review-pod.ts';
        export { DefaultInjectorConfig } from './injector/config/injector-config.ts';`,
      resolveDir: resolve('.'),
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  });
  const file = join(dir, 'breakdown.mjs');
  writeFileSync(file, out.outputFiles[0].text);
  const m = await import(file);
  const rows = [];
  for (const scenario of scenarios) {
    const n = scenario.body.length > 10_000 ? 300 : 3000;
    // Median of 7 batches: GC pauses from the parsed garbage land in some batches, not all.
    const time = (fn) => {
      for (let i = 0; i < n / 10; i++) fn();
      const batches = [];
      for (let b = 0; b < 7; b++) {
        const t = process.hrtime.bigint();
        for (let i = 0; i < n / 7; i++) fn();
        batches.push(Number(process.hrtime.bigint() - t) / 1e3 / (n / 7));
      }
      return batches.sort((x, y) => x - y)[3];
    };
    const parse = time(() => JSON.parse(scenario.body));
    const envelope = time(() => m.parseAdmissionReview(JSON.parse(scenario.body))) - parse;
    const review = time(() => m.reviewPod({ pod: JSON.parse(scenario.body).request.object, namespace: 'shop', config: m.DefaultInjectorConfig })) - parse;
    const whole = time(() => JSON.stringify(m.admitReview(m.parseAdmissionReview(JSON.parse(scenario.body)), m.DefaultInjectorConfig).review));
    rows.push(`| ${scenario.name} | ${parse.toFixed(0)} | ${envelope.toFixed(0)} | ${review.toFixed(0)} | ${(whole - parse - envelope - review).toFixed(0)} | ${whole.toFixed(0)} |`);
  }
  // Issue 9: the pre-parse shape scan (json-shape.ts) where the build has it, and reviewPod on the
  // pod whose re-injection stripping was quadratic (40,000 containers, half in the status annotation).
  let scan = 'n/a (not in this build)';
  try {
    const shape = await build({ stdin: { contents: "export { jsonShapeProblem } from './injector/admission/json-shape.ts';", resolveDir: resolve('.'), loader: 'ts' }, bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'silent' });
    const shapeFile = join(dir, 'shape.mjs');
    writeFileSync(shapeFile, shape.outputFiles[0].text);
    const { jsonShapeProblem } = await import(shapeFile);
    const body = scenarios[0].body;
    for (let i = 0; i < 3000; i++) jsonShapeProblem(body);
    const t = process.hrtime.bigint();
    for (let i = 0; i < 30000; i++) jsonShapeProblem(body);
    scan = `${(Number(process.hrtime.bigint() - t) / 1e3 / 30000).toFixed(1)} µs for the typical pod's ${body.length} bytes`;
  } catch {
    // an older build without the scan
  }
  // As test/helpers/hostile-reviews.ts strippingPod(40_000) builds it.
  const list = Array.from({ length: 40_000 }, (_, i) => ({ name: `c${i}`, image: 'registry.example/app:1' }));
  const status = { initContainers: null, containers: list.filter((_, i) => i % 2 === 0).map((c) => c.name), volumes: null, imagePullSecrets: null, revision: 'default' };
  const strippingBody = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'shop', generateName: 'many-', annotations: { 'sidecar.istio.io/status': JSON.stringify(status) } }, spec: { containers: list } });
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    const result = m.reviewPod({ pod: JSON.parse(strippingBody), namespace: 'shop', config: m.DefaultInjectorConfig });
    runs.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (result.kind !== 'inject') throw new Error(`the stripping pod was not injected: ${result.kind}`);
  }
  return [
    '| pod | JSON.parse µs | envelope check µs | reviewPod µs | response encode µs | total µs |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Shape scan before parsing: ${scan}.`,
    `JSON.parse + reviewPod of the 40,000-container pod with a status annotation (${strippingBody.length} bytes), 3 runs: ${runs.map((x) => x.toFixed(0)).join(', ')} ms.`,
  ];
}

async function measure(connectionsNow, roundsNow) {
  const results = {};
  for (let round = 0; round < roundsNow; round++) {
    for (const scenario of scenarios) {
      for (const arm of round % 2 === 0 ? ['null', 'injector'] : ['injector', 'null']) {
        const server = await startArm(arm);
        try {
          await cannon(server.port, scenario.body, 2, connectionsNow); // warm-up (JIT, TLS sessions)
          const cpuBefore = cpuSeconds(server.pid);
          const r = await cannon(server.port, scenario.body, seconds, connectionsNow);
          const cpu = cpuSeconds(server.pid) - cpuBefore;
          if (r.non2xx > 0 || r.errors > 0) throw new Error(`${arm} ${scenario.name}: ${r.non2xx} non-2xx, ${r.errors} errors`);
          const total = r.requests.total;
          (results[`${scenario.name}|${arm}`] ??= []).push({ rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total, cpuUs: (cpu * 1e6) / total });
        } finally {
          await server.stop();
        }
      }
    }
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lines = [
    `${connectionsNow} connection(s), ${seconds} s per measurement, ${roundsNow} round(s), arms alternating`,
    '',
    '| pod | body bytes | injector adm/s | p50 ms | p99 ms | server CPU µs/adm | null adm/s | p50 ms | p99 ms | server CPU µs/adm | throughput ratio | CPU ratio (null/injector) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const scenario of scenarios) {
    const ours = results[`${scenario.name}|injector`];
    const floor = results[`${scenario.name}|null`];
    const rps = mean(ours.map((x) => x.rps));
    const frps = mean(floor.map((x) => x.rps));
    lines.push(
      `| ${scenario.name} | ${scenario.body.length} | ${rps.toFixed(0)} | ${mean(ours.map((x) => x.p50)).toFixed(1)} | ${Math.max(...ours.map((x) => x.p99)).toFixed(1)} | ${mean(ours.map((x) => x.cpuUs)).toFixed(0)} | ${frps.toFixed(0)} | ${mean(floor.map((x) => x.p50)).toFixed(1)} | ${Math.max(...floor.map((x) => x.p99)).toFixed(1)} | ${mean(floor.map((x) => x.cpuUs)).toFixed(0)} | ${(rps / frps).toFixed(2)}x | ${(mean(floor.map((x) => x.cpuUs)) / mean(ours.map((x) => x.cpuUs))).toFixed(2)}x |`,
    );
  }
  return [...lines, '', `raw: ${JSON.stringify(results)}`];
}

console.log(`Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(['', '## In-process cost per admission (no HTTP, no TLS)', '', ...(await breakdown())].join('\n'));
console.log(['', '## Throughput', '', ...(await measure(connections, 2))].join('\n'));
console.log(['', '## Latency, one request at a time', '', ...(await measure(1, 1))].join('\n'));
rmSync(dir, { recursive: true, force: true });
