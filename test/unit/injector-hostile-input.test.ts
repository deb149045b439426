// Hostile AdmissionReviews through the app plugin (fastify's inject, the review on the server's own
// thread; the built CLI's worker path is covered by test/integration/injector-hostile-input.test.ts):
// - item 7: a value nested 5,000 levels deep anywhere in the pod is answered with an AdmissionReview
//   carrying the uid, never a 500; past Go's 10,000 levels or the parse limits, a 4xx Status;
// - item 8: `__proto__` and `constructor` keys are ordinary keys: the pod is injected like any
//   other, the patch applies to it, and nothing reaches Object.prototype;
// and the pieces that make it so: the bounded preview of bad values, iterative deep equality, the
// shape scan, the cap on listed problems.
import fastify from 'fastify';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MaxListedProblems, admitReview } from '../../injector/admission/admit-review.js';
import { jsonShapeProblem, MaxJsonContainers, MaxJsonDepth, MaxJsonValues, ScanFromLength } from '../../injector/admission/json-shape.js';
import { DefaultInjectorConfig } from '../../injector/config/injector-config.js';
import type { JsonPatchOperation } from '../../injector/kube/pod-types.js';
import { createInjectorMetrics } from '../../injector/metrics/injector-metrics.js';
import { deepEqual } from '../../injector/mutation/compute-pod-patch.js';
import { jsonPreview } from '../../injector/mutation/json-preview.js';
import { injectorApp } from '../../injector/server/injector-app.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { applyIndependently } from '../helpers/injector-checks.js';
import { nestedArrays, nestedObjects, reviewWithRaw } from '../helpers/hostile-reviews.js';

async function app() {
  const instance = fastify({ logger: false });
  await instance.register(injectorApp, { admit: (review) => admitReview(review, DefaultInjectorConfig), metrics: createInjectorMetrics({ defaultMetrics: false }), isReady: () => true });
  return instance;
}

interface Answer {
  readonly statusCode: number;
  readonly json: { kind: string; code?: number; message?: string; response?: { uid: string; allowed: boolean; patch?: string; status?: { code: number; message: string } } };
}

async function post(instance: Awaited<ReturnType<typeof app>>, body: string): Promise<Answer> {
  const res = await instance.inject({ method: 'POST', url: '/inject', payload: body, headers: { 'content-type': 'application/json' } });
  return { statusCode: res.statusCode, json: res.json() };
}

function patchOf(answer: Answer): JsonPatchOperation[] {
  return JSON.parse(Buffer.from(answer.json.response?.patch ?? '', 'base64').toString('utf8')) as JsonPatchOperation[];
}

/** Where a hostile value can sit in a Deployment's pod: a path of keys and indexes. */
const places: readonly (readonly (string | number)[])[] = [
  ['metadata', 'extra'],
  ['metadata', 'annotations', 'example.com/deep'], // not a string: the pod is denied, with the uid
  ['metadata', 'labels', 'deep'], // idem
  ['metadata', 'ownerReferences', 0, 'extra'],
  ['spec', 'extra'],
  ['spec', 'containers', 0, 'extra'],
  ['spec', 'containers', 0, 'env', 1, 'value'],
  ['spec', 'containers', 0, 'securityContext'],
  ['spec', 'volumes', 0, 'projected', 'sources'],
  ['spec', 'volumes', 1],
  ['spec', 'initContainers'],
  ['spec', 'tolerations', 0],
  ['status', 'extra'],
];

function podWithPlaceholder(path: readonly (string | number)[]): Record<string, unknown> {
  const pod = deploymentPod() as Record<string, unknown>;
  let at: Record<string | number, unknown> = pod;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) at[key] = 'RAW';
    else {
      at[key] ??= typeof path[i + 1] === 'number' ? [] : {};
      at = at[key] as Record<string | number, unknown>;
    }
  }
  return pod;
}

describe('item 7: deeply nested values anywhere in the pod', () => {
  it('5,000 levels of arrays or objects at any place: an AdmissionReview with the uid, never a 5xx', async () => {
    const instance = await app();
    let denied = 0;
    for (const path of places) {
      for (const [kind, raw] of [['arrays', nestedArrays(5000)], ['objects', nestedObjects(5000)]] as const) {
        const uid = `deep-${path.join('.')}-${kind}`;
        const answer = await post(instance, reviewWithRaw(podWithPlaceholder(path), raw, { uid }));
        expect(answer.statusCode, `${uid}: ${JSON.stringify(answer.json).slice(0, 300)}`).toBe(200);
        expect(answer.json.response?.uid).toBe(uid);
        if (!answer.json.response?.allowed) {
          denied++;
          // A denial names the field, and shows the value cut short.
          expect(answer.json.response?.status?.code).toBe(400);
          expect(answer.json.response?.status?.message).toMatch(/pod \.(metadata|spec)/);
          expect(answer.json.response?.status?.message.length).toBeLessThan(2000);
        }
      }
    }
    expect(denied, 'the malformed places are denied, the others injected').toBeGreaterThan(0);
    expect(denied).toBeLessThan(places.length * 2);
    await instance.close();
  });

  it('from 128 KiB on, up to 10,000 levels is answered and deeper is a 400 Status before parsing; shorter bodies are parsed at any depth', async () => {
    const instance = await app();
    const at = podWithPlaceholder(['spec', 'containers', 0, 'extra']);
    // The review's own nesting down to the placeholder is 6 levels (review, request, object, spec,
    // containers, container); the padding string makes the body long enough to be scanned.
    const padded = (raw: string): string => `[${raw},"${'p'.repeat(ScanFromLength)}"]`;
    const fits = await post(instance, reviewWithRaw(at, padded(nestedArrays(MaxJsonDepth - 7)), { uid: 'fits' }));
    expect(fits.statusCode).toBe(200);
    expect(fits.json.response?.uid).toBe('fits');
    const deeper = await post(instance, reviewWithRaw(at, padded(nestedArrays(MaxJsonDepth - 6)), { uid: 'deeper' }));
    expect(deeper.statusCode).toBe(400);
    expect(deeper.json).toMatchObject({ kind: 'Status', code: 400 });
    expect(deeper.json.message).toMatch(/more than 10000 levels deep/);
    // Shorter: 50,000 levels, parsed and answered.
    const short = reviewWithRaw(at, nestedArrays(50_000), { uid: 'short' });
    expect(short.length).toBeLessThan(ScanFromLength);
    const answered = await post(instance, short);
    expect(answered.statusCode).toBe(200);
    expect(answered.json.response?.uid).toBe('short');
    await instance.close();
  });

  it('property: random JSON nested 2,000-20,000 levels at a random place (bodies under 128 KiB) is answered 200 with the uid', async () => {
    const instance = await app();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...places), fc.integer({ min: 2000, max: 20_000 }), fc.constantFrom('arrays', 'objects', 'mixed'), fc.uuid(), async (path, levels, kind, uid) => {
        const raw = kind === 'arrays' ? nestedArrays(levels) : kind === 'objects' ? nestedObjects(levels, '"x"') : `[${nestedObjects(levels >> 1, nestedArrays(levels >> 1))}]`;
        const answer = await post(instance, reviewWithRaw(podWithPlaceholder(path), raw, { uid }));
        expect(answer.statusCode).toBeLessThan(500);
        expect(answer.statusCode).toBe(200);
        expect(answer.json.response?.uid).toBe(uid);
      }),
      { numRuns: 60 },
    );
    await instance.close();
  });
});

describe('item 8: __proto__ and constructor keys are ordinary keys', () => {
  const poisoned: readonly [string, (text: string) => string][] = [
    ['__proto__ in metadata', (t) => t.replace('"metadata":{', '"metadata":{"__proto__":{"polluted":"yes"},')],
    ['constructor.prototype in metadata', (t) => t.replace('"metadata":{', '"metadata":{"constructor":{"prototype":{"polluted":"yes"}},')],
    ['a label named constructor', (t) => t.replace('"labels":{', '"labels":{"constructor":"web",')],
    ['an annotation named __proto__', (t) => t.replace('"annotations":{', '"annotations":{"__proto__":"x",')],
    ['__proto__ in the spec', (t) => t.replace('"spec":{', '"spec":{"__proto__":{"hostNetwork":true,"containers":[]},')],
    ['__proto__ in a container', (t) => t.replace('"name":"web","image"', '"name":"web","__proto__":{"securityContext":{"runAsUser":1337}},"image"')],
    ['__proto__ at the top of the review', (t) => t.replace('{"apiVersion"', '{"__proto__":{"kind":"Nope"},"apiVersion"')],
    ['escaped \\u005f\\u005fproto\\u005f\\u005f', (t) => t.replace('"metadata":{', '"metadata":{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":"yes"},')],
  ];
  for (const [name, poison] of poisoned) {
    it(`${name}: injected like any other pod, the patch applies, nothing polluted`, async () => {
      const instance = await app();
      const uid = `poisoned-${name}`;
      const text = poison(JSON.stringify(admissionReview(deploymentPod(), { uid })));
      expect(text).toMatch(/__proto__|constructor|u005f/);
      const answer = await post(instance, text);
      expect(answer.statusCode, JSON.stringify(answer.json).slice(0, 300)).toBe(200);
      expect(answer.json.response).toMatchObject({ uid, allowed: true });
      const original = (JSON.parse(text) as { request: { object: unknown } }).request.object;
      const patched = applyIndependently(original, patchOf(answer)) as { spec: { initContainers: { name: string }[] }; metadata: Record<string, unknown> };
      expect(patched.spec.initContainers.map((c) => c.name)).toEqual(['proxy-init', 'proxy']);
      // The poisoned key is still there, as data.
      expect(JSON.stringify(patched)).toBe(JSON.stringify({ ...(patched as object) }));
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      await instance.close();
    });
  }
});

describe('the parse limits and bounded messages', () => {
  it('counts containers and values from above and stops at the first limit', () => {
    const pad = `"${'p'.repeat(ScanFromLength)}"`;
    expect(jsonShapeProblem(`{"a":[1,2,{"b":"[[[[{{{,,,,"}]}`)).toBeUndefined();
    expect(jsonShapeProblem(`[${'[],'.repeat(MaxJsonContainers)}[]]`)).toBe('containers');
    expect(jsonShapeProblem(`[${'0,'.repeat(MaxJsonValues)}0]`)).toBe('values');
    expect(jsonShapeProblem(`[${pad},${nestedArrays(MaxJsonDepth - 1)}]`)).toBeUndefined();
    expect(jsonShapeProblem(`[${pad},${nestedArrays(MaxJsonDepth)}]`)).toBe('depth');
    // Not scanned below ScanFromLength.
    expect(jsonShapeProblem(nestedArrays(MaxJsonDepth + 1))).toBeUndefined();
    // Brackets inside strings, with escaped quotes and backslashes, do not count.
    expect(jsonShapeProblem(`[${pad},"${'[\\"'.repeat(MaxJsonDepth + 5)}","\\\\",${nestedArrays(3)}]`)).toBeUndefined();
    expect(jsonShapeProblem(`[${pad},"\\\\",${nestedArrays(MaxJsonDepth)}]`)).toBe('depth');
  });

  it('answers 413 for more arrays and objects than the limit', async () => {
    const instance = await app();
    const answer = await post(instance, reviewWithRaw(podWithPlaceholder(['spec', 'extra']), `[${'{},'.repeat(MaxJsonContainers)}{}]`, { uid: 'many' }));
    expect(answer.statusCode).toBe(413);
    expect(answer.json.message).toMatch(/more than 250000 JSON arrays and objects/);
    await instance.close();
  });

  it('jsonPreview renders like JSON.stringify, cut at 80 characters, in bounded work at any depth', () => {
    for (const value of [{}, [], { a: 1, b: [true, null, 'x'] }, 'text', 12.5, [[[]]], { 'k"ey': 'v\n' }]) {
      const expected = typeof value === 'string' ? value : JSON.stringify(value);
      expect(jsonPreview(value)).toBe(expected);
    }
    const deep = JSON.parse(nestedArrays(100_000)) as unknown;
    expect(jsonPreview(deep)).toBe(`${'['.repeat(77)}...`);
    const wide = Array.from({ length: 1_000_000 }, (_, i) => i);
    expect(jsonPreview(wide)).toBe(`${JSON.stringify(wide).slice(0, 77)}...`);
    expect(jsonPreview('x'.repeat(1_000_000))).toBe(`${'x'.repeat(77)}...`);
  });

  it('deepEqual is iterative: 100,000 levels deep neither overflows nor misses a difference', () => {
    const a = JSON.parse(nestedObjects(100_000, '[1,2]')) as unknown;
    const b = JSON.parse(nestedObjects(100_000, '[1,2]')) as unknown;
    const c = JSON.parse(nestedObjects(100_000, '[1,3]')) as unknown;
    expect(deepEqual(a, b)).toBe(true);
    expect(deepEqual(a, c)).toBe(false);
    expect(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
  });

  it('a denial lists the first problems and counts the rest, each line bounded', async () => {
    const instance = await app();
    const annotations: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) annotations[`example.com/bad-${i}`] = i;
    annotations[`example.com/${'k'.repeat(100_000)}`] = 1;
    const pod = deploymentPod() as { metadata: { annotations: Record<string, unknown> } };
    pod.metadata.annotations = annotations;
    const answer = await post(instance, JSON.stringify(admissionReview(pod, { uid: 'many-bad' })));
    expect(answer.statusCode).toBe(200);
    const message = answer.json.response?.status?.message ?? '';
    expect(message).toMatch(/1001 bad values/);
    expect(message).toMatch(new RegExp(`\\.\\.\\. and ${1001 - MaxListedProblems} more$`));
    expect(message.split('\n')).toHaveLength(MaxListedProblems + 2);
    expect(message.length).toBeLessThan(10_000);
    await instance.close();
  });
});
