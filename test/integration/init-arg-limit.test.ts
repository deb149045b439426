// The argument limit of issue 9, item 10, on the kernel: execve refuses one argument of
// MAX_ARG_STRLEN bytes (with its NUL, one over) with E2BIG and takes one byte less; the injector's
// proxy-init container for the longest CIDR list it allows runs as the built `outrigger init
// --dry-run` (its exact args, from this machine's execve) and plans a rule for every CIDR; with one
// CIDR more the injector refuses the pod, and the container it would have made cannot even start.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DefaultInjectorConfig } from '../../injector/config/injector-config.js';
import { MaxArgStrlen, MaxInitArgBytes } from '../../injector/mutation/init-arg-limit.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { deploymentPod } from '../helpers/admission-requests.js';
import { cidr, longestCidrList } from '../helpers/cidr-lists.js';
import { cliPath } from '../helpers/outrigger-cli.js';

const excludeRanges = 'traffic.sidecar.istio.io/excludeOutboundIPRanges';

function run(file: string, args: readonly string[]) {
  return spawnSync(file, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
}

describe('one argument of at most MAX_ARG_STRLEN - 1 bytes', () => {
  it('execve: E2BIG at MAX_ARG_STRLEN bytes, success one byte below', () => {
    const over = run('/bin/true', ['x'.repeat(MaxArgStrlen)]);
    expect((over.error as NodeJS.ErrnoException | undefined)?.code).toBe('E2BIG');
    const fits = run('/bin/true', ['x'.repeat(MaxInitArgBytes)]);
    expect(fits.error).toBeUndefined();
    expect(fits.status).toBe(0);
  });

  it('the longest list the injector allows runs as outrigger init --dry-run; one CIDR more is refused and could not start', () => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
    const longest = longestCidrList(MaxInitArgBytes);
    const injected = reviewPod({ pod: deploymentPod({ annotations: { [excludeRanges]: longest.text } }), namespace: 'shop', config: DefaultInjectorConfig });
    expect(injected.kind).toBe('inject');
    if (injected.kind !== 'inject') return;
    const init = injected.pod.spec.initContainers?.find((c) => c.name === 'proxy-init');
    expect(init?.command).toEqual(['outrigger']);
    const args = init?.args ?? [];
    expect(Math.max(...args.map((a) => Buffer.byteLength(a)))).toBe(Buffer.byteLength(longest.text));

    // The container's command, as the image runs it (node and the bundle), plus --dry-run.
    const dry = run(process.execPath, [cliPath, ...args, '--dry-run']);
    expect(dry.error).toBeUndefined();
    expect(dry.status, dry.stderr).toBe(0);
    const excluded = new Set(dry.stdout.split('\n').flatMap((line) => /-d (198\.\d+\.\d+\.\d+\/32) .*-j RETURN/.exec(line)?.[1] ?? []));
    expect(excluded.size).toBe(longest.count);

    const oneMore = `${longest.text},${cidr(longest.count)}`;
    const refused = reviewPod({ pod: deploymentPod({ annotations: { [excludeRanges]: oneMore } }), namespace: 'shop', config: DefaultInjectorConfig });
    expect(refused.kind).toBe('deny');
    const wouldBe = args.map((a) => (a === longest.text ? oneMore : a));
    const e2big = run(process.execPath, [cliPath, ...wouldBe, '--dry-run']);
    expect((e2big.error as NodeJS.ErrnoException | undefined)?.code).toBe('E2BIG');
  });
});
