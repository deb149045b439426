// The injector stays responsive while it reviews the worst AdmissionReviews it accepts (issue 9,
// item 9): the built CLI (`outrigger injector`, its own process) gets a worst-case review from curl
// (another Node process, so this test's event loop does nothing but probe), while this test sends
// /healthz probes one after another on a keep-alive TLS connection and times each answer.
//
// What is asserted, and why it is robust on a loaded 2-core machine:
// - the review really was in flight: the poster's timings give the window from the end of its
//   upload to the answer's headers (both processes read the same clock), and at least 10 probes must have been sent and answered
//   inside it (before the fix, the 1.3 MB pod alone took ~7 s of the server's only thread);
// - the probes' 99th percentile, inside the window and over the whole run, is under 100 ms (the
//   issue's bound), and no probe took a second. A probe takes ~1-3 ms here; the percentile lets one
//   probe in a hundred be delayed by this shared machine's scheduler (seen up to ~300 ms under a
//   load of 7 on 2 cores), while a stalled event loop fails both: a review on the server's thread
//   holds the probes for its whole duration (hundreds of ms for a 6 MiB body's JSON.parse alone,
//   seconds for the pod before the fix), so few probes fit in the window and they are slow;
// - the review is answered properly (an AdmissionReview with its uid, or a 4xx Status).
// Worst cases: the pod (40,000 containers, half listed in sidecar.istio.io/status), the
// same at the 6 MiB body limit, a body at the parse limits (250,000 objects), one past them, and
// a hostile body just under the size that is reviewed on the server's own thread.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LargeBodyBytes, MaxBodyBytes } from '../../injector/server/injector-app.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { nestedArrays, reviewWithRaw, strippingPod } from '../helpers/hostile-reviews.js';
import { type InjectorProcess, startInjectorProcess } from '../helpers/injector-process.js';

let injector: InjectorProcess;
const dir = mkdtempSync(join(tmpdir(), 'or-responsive-'));

beforeAll(async () => {
  injector = await startInjectorProcess();
  writeFileSync(join(dir, 'ca.pem'), injector.pki.ca.cert);
});

afterAll(async () => {
  await injector?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface PostResult {
  readonly status: number;
  readonly body: string;
  /** When the whole request had been written, and when the answer's headers arrived: test-clock ms. */
  readonly sent: number;
  readonly answered: number;
}

// The poster, run by another Node process: its timestamps are epoch milliseconds with sub-ms
// precision (performance.timeOrigin + now()), comparable with this process's.
const poster = `
const { request } = require('node:https');
const { readFileSync } = require('node:fs');
const [file, port, caFile] = process.argv.slice(1);
const body = readFileSync(file);
const now = () => performance.timeOrigin + performance.now();
let sent = 0;
const req = request({ host: '127.0.0.1', port: Number(port), servername: 'localhost', ca: readFileSync(caFile), method: 'POST', path: '/inject',
  headers: { 'content-type': 'application/json', 'content-length': body.length }, agent: false, timeout: 60000 }, (res) => {
  const answered = now();
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8'), sent, answered })));
});
req.on('finish', () => (sent = now()));
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (e) => { process.stderr.write(String(e)); process.exit(1); });
req.end(body);
`;

/** POSTs the file from another process (bounded to 60 s by its request timeout). */
async function postFromAnotherProcess(bodyFile: string): Promise<PostResult> {
  const child = spawn(process.execPath, ['-e', poster, bodyFile, String(injector.port), join(dir, 'ca.pem')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the poster failed (${code}): ${stderr}`);
  const result = JSON.parse(stdout) as PostResult;
  const toHere = (epochMs: number): number => epochMs - performance.timeOrigin;
  return { ...result, sent: toHere(result.sent), answered: toHere(result.answered) };
}

interface Probe {
  readonly start: number;
  readonly end: number;
  readonly status: number;
}

/** /healthz probes one after another on one keep-alive connection until `done` settles (each bounded to 10 s). */
async function probeUntil(done: Promise<unknown>): Promise<Probe[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const probes: Probe[] = [];
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  try {
    while (!finished && probes.length < 20_000) {
      const start = performance.now();
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: injector.port, servername: 'localhost', ca: injector.pki.ca.cert, path: '/healthz', agent, timeout: 10_000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy(new Error('probe timed out after 10 s')));
        req.on('error', reject);
        req.end();
      });
      probes.push({ start, end: performance.now(), status });
    }
  } finally {
    agent.destroy();
  }
  return probes;
}

/** A Deployment's pod with the placeholder "RAW" as a field of its container (see reviewWithRaw). */
function podWithRaw(): Record<string, unknown> {
  const pod = deploymentPod({ name: 'hostile' }) as { spec: { containers: Record<string, unknown>[] } };
  (pod.spec.containers[0] as Record<string, unknown>).hostile = 'RAW';
  return pod;
}

interface WorstCase {
  readonly name: string;
  readonly uid: string;
  readonly body: () => string;
  /** 'review': an AdmissionReview with the uid; a number: that HTTP status. */
  readonly answer: 'review' | number;
  /** Probes that must fall inside the review's window to show it was in flight. */
  readonly minProbes: number;
}

const worstCases: readonly WorstCase[] = [
  { name: "the issue's pod: 40,000 containers, 20,000 of them listed in the status annotation (1.3 MB)", uid: 'worst-1', body: () => JSON.stringify(admissionReview(strippingPod(40_000), { uid: 'worst-1' })), answer: 'review', minProbes: 10 },
  { name: 'the same shape near the 6 MiB body limit (100,000 containers)', uid: 'worst-2', body: () => JSON.stringify(admissionReview(strippingPod(100_000), { uid: 'worst-2' })), answer: 'review', minProbes: 10 },
  {
    name: '249,000 empty objects and 450,000 numbers in a container (just inside the parse limits)',
    uid: 'worst-3',
    body: () => reviewWithRaw(podWithRaw(), `[${'{},'.repeat(249_000)}${'0,'.repeat(450_000)}0]`, { uid: 'worst-3' }),
    answer: 'review',
    minProbes: 10,
  },
  { name: '1.9 million empty arrays (past the parse limits: 413 without parsing)', uid: 'worst-4', body: () => reviewWithRaw(podWithRaw(), `[${'[],'.repeat(1_900_000)}[]]`, { uid: 'worst-4' }), answer: 413, minProbes: 3 },
  {
    // Reviewed on the server's own thread: the bound there comes from the size, not from a worker.
    name: 'a hostile body just under the size reviewed on the server thread (arrays nested ~60,000 levels deep)',
    uid: 'worst-5',
    body: () => {
      const frame = reviewWithRaw(podWithRaw(), '[]', { uid: 'worst-5' }).length;
      return reviewWithRaw(podWithRaw(), nestedArrays(Math.floor((LargeBodyBytes - 256 - frame) / 2)), { uid: 'worst-5' });
    },
    answer: 'review',
    minProbes: 0,
  },
];

describe('the injector answers /healthz within 100 ms while it reviews a worst case', () => {
  for (const worst of worstCases) {
    it(worst.name, async () => {
      const body = worst.body();
      expect(body.length).toBeLessThanOrEqual(MaxBodyBytes);
      if (worst.minProbes === 0) expect(body.length).toBeLessThan(LargeBodyBytes);
      const file = join(dir, 'body.json');
      writeFileSync(file, body);
      const posted = postFromAnotherProcess(file);
      const probes = await probeUntil(posted);
      const answer = await posted;

      if (worst.answer === 'review') {
        expect(answer.status, answer.body.slice(0, 300)).toBe(200);
        const review = JSON.parse(answer.body) as { response: { uid: string } };
        expect(review.response.uid).toBe(worst.uid);
      } else {
        expect(answer.status, answer.body.slice(0, 300)).toBe(worst.answer);
      }
      const during = probes.filter((p) => p.start >= answer.sent && p.end <= answer.answered);
      const ms = (list: readonly Probe[]): number[] => list.map((p) => p.end - p.start).sort((a, b) => a - b);
      const p99 = (sorted: readonly number[]): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
      const all = ms(probes);
      const inside = ms(during);
      const summary = `${during.length} probes in the ${Math.round(answer.answered - answer.sent)} ms review window (p99 ${p99(inside).toFixed(1)} ms, max ${(inside.at(-1) ?? 0).toFixed(1)} ms); all ${probes.length} probes p99 ${p99(all).toFixed(1)} ms, max ${(all.at(-1) ?? 0).toFixed(1)} ms`;
      if (process.env.DEBUG_PROBES) console.log(worst.uid, summary);
      expect(probes.every((p) => p.status === 200), summary).toBe(true);
      expect(during.length, `the review was not in flight long enough to prove anything: ${summary}`).toBeGreaterThanOrEqual(worst.minProbes);
      if (inside.length >= 10) expect(p99(inside), summary).toBeLessThan(100);
      expect(p99(all), summary).toBeLessThan(100);
      // One slow probe can be this machine's scheduler; a stalled event loop holds a probe for the
      // whole review (seconds before the fix).
      expect(all.at(-1), summary).toBeLessThan(1000);
    });
  }
});
