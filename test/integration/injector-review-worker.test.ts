// The review worker (the built dist/injector-review-worker.mjs in a real worker thread) through its
// client: it answers exactly as the server's own thread would (same text, same refusals), follows a
// configuration change, and its bounds hold: a heap too small is an answer `memory` (the server's
// 413), a review past the timeout is `timeout`, more waiting reviews than allowed are `busy` (429);
// after each the next review is answered by a new worker.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { admitReview } from '../../injector/admission/admit-review.js';
import { answerReview } from '../../injector/admission/answer-review.js';
import { DefaultInjectorConfig, type InjectorConfig } from '../../injector/config/injector-config.js';
import { ReviewWorkerClient, type ReviewWorkerOptions } from '../../injector/server/review-worker-client.js';
import { admissionReview, deploymentPod, hugePod } from '../helpers/admission-requests.js';
import { nestedArrays, reviewWithRaw, strippingPod } from '../helpers/hostile-reviews.js';
import { memoryLogger } from '../helpers/injector-https.js';

const url = new URL('../../dist/injector-review-worker.mjs', import.meta.url);
const clients: ReviewWorkerClient[] = [];

function client(options: Partial<ReviewWorkerOptions> = {}): ReviewWorkerClient {
  if (!existsSync(fileURLToPath(url))) throw new Error(`${fileURLToPath(url)} is missing: run \`npm run build\` (npm test does it)`);
  const made = new ReviewWorkerClient({ url, config: () => DefaultInjectorConfig, maxHeapMb: 64, timeoutMs: 10_000, maxQueued: 4, log: memoryLogger().log, ...options });
  clients.push(made);
  return made;
}

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

describe('the review worker', () => {
  it('answers exactly as the server thread does', async () => {
    const worker = client();
    const bodies = [
      JSON.stringify(admissionReview(deploymentPod(), { uid: 'typical' })),
      JSON.stringify(admissionReview(hugePod(), { uid: 'huge' })),
      JSON.stringify(admissionReview(strippingPod(2000), { uid: 'stripping' })),
      JSON.stringify(admissionReview(deploymentPod(), { uid: 'proto' })).replace('"metadata":{', '"metadata":{"__proto__":{"x":1},'),
      reviewWithRaw({ ...deploymentPod(), extra: 'RAW' }, nestedArrays(5000), { uid: 'deep' }),
      JSON.stringify(admissionReview({ spec: {} }, { uid: 'denied' })),
      '{"apiVersion": ',
      nestedArrays(20_000),
      '',
    ];
    for (const body of bodies) {
      const inline = answerReview(body, (review) => admitReview(review, DefaultInjectorConfig));
      const answer = await worker.review(bytes(body));
      expect(answer.kind).toBe('answer');
      if (answer.kind === 'answer') expect(answer.answer).toEqual(inline);
    }
  });

  it('follows the configuration in force', async () => {
    let config: InjectorConfig = DefaultInjectorConfig;
    const worker = client({ config: () => config });
    const image = async (): Promise<string> => {
      const answer = await worker.review(bytes(JSON.stringify(admissionReview(deploymentPod()))));
      if (answer.kind !== 'answer' || answer.answer.kind !== 'decided') throw new Error(`no decision: ${JSON.stringify(answer)}`);
      const review = JSON.parse(answer.answer.text) as { response: { patch: string } };
      return /"image":"([^"]+envoy[^"]*)"/.exec(Buffer.from(review.response.patch, 'base64').toString('utf8'))?.[1] ?? '';
    };
    expect(await image()).toBe(DefaultInjectorConfig.proxy.image);
    config = { ...DefaultInjectorConfig, proxy: { ...DefaultInjectorConfig.proxy, image: 'registry.example/envoy:reloaded' } };
    expect(await image()).toBe('registry.example/envoy:reloaded');
  });

  it('a heap too small is `memory`, too slow is `timeout`, too many waiting is `busy`; each time the next review still works', async () => {
    const big = bytes(JSON.stringify(admissionReview(strippingPod(60_000), { uid: 'big' })));
    const small = (): Buffer => bytes(JSON.stringify(admissionReview(deploymentPod(), { uid: 'small' })));
    const tight = client({ maxHeapMb: 16 });
    expect((await tight.review(Buffer.from(big))).kind).toBe('memory');
    expect((await tight.review(small())).kind).toBe('answer');

    const slow = client({ timeoutMs: 1 });
    expect((await slow.review(Buffer.from(big))).kind).toBe('timeout');

    const queued = client({ maxQueued: 1 });
    const results = await Promise.all([queued.review(Buffer.from(big)), queued.review(Buffer.from(big)), queued.review(small())]);
    expect(results.map((r) => r.kind)).toEqual(['answer', 'answer', 'busy']);
    expect((await queued.review(small())).kind).toBe('answer');
  });
});
