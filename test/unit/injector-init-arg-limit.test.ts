// Capture settings too long for one argument of proxy-init (issue 9, item 10) are refused at
// admission, naming the annotation; the longest allowed one is injected as one argument that fits.
// (test/integration/init-arg-limit.test.ts runs those arguments on the kernel.)
import { describe, expect, it } from 'vitest';
import { DefaultInjectorConfig } from '../../injector/config/injector-config.js';
import type { Container, Pod } from '../../injector/kube/pod-types.js';
import { initArgProblems, MaxArgStrlen, MaxInitArgBytes } from '../../injector/mutation/init-arg-limit.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { deploymentPod } from '../helpers/admission-requests.js';
import { cidr, longestCidrList } from '../helpers/cidr-lists.js';

const excludeRanges = 'traffic.sidecar.istio.io/excludeOutboundIPRanges';

function review(annotations: Record<string, string>) {
  return reviewPod({ pod: deploymentPod({ annotations }), namespace: 'shop', config: DefaultInjectorConfig });
}

function initContainer(pod: Pod, name: string): Container {
  const found = (pod.spec.initContainers ?? []).find((c) => c.name === name);
  if (!found) throw new Error(`no ${name} in the injected pod`);
  return found;
}

describe('proxy-init arguments within Linux\'s MAX_ARG_STRLEN', () => {
  it('is the kernel\'s 32 pages, NUL included', () => {
    expect(MaxArgStrlen).toBe(131_072);
    expect(MaxInitArgBytes).toBe(131_071);
  });

  it('refuses 10,000 CIDRs (the issue\'s 143 KB) naming the annotation, its size, the flag and the limit', () => {
    const text = Array.from({ length: 10_000 }, (_, n) => cidr(n)).join(',');
    const result = review({ [excludeRanges]: text });
    expect(result.kind).toBe('deny');
    if (result.kind !== 'deny') return;
    expect(result.error.problems).toHaveLength(1);
    const [problem] = result.error.problems;
    expect(problem?.source).toBe(`annotation ${excludeRanges}`);
    expect(problem?.reason).toContain(`is ${Buffer.byteLength(text)} bytes as proxy-init's argument -x, over Linux's limit of 131071 bytes`);
    expect(problem?.value.length).toBeLessThanOrEqual(80);
  });

  for (const cniMode of [false, true]) {
    const name = cniMode ? 'proxy-validation' : 'proxy-init';
    it(`${name}: the longest list that fits is injected as one argument; one CIDR more is refused`, () => {
      const longest = longestCidrList(MaxInitArgBytes);
      expect(Buffer.byteLength(longest.text)).toBeGreaterThan(MaxInitArgBytes - 20);
      const mode = { 'outrigger.dev/cni-mode': String(cniMode) };
      const injected = review({ ...mode, [excludeRanges]: longest.text });
      expect(injected.kind).toBe('inject');
      if (injected.kind !== 'inject') return;
      const args = initContainer(injected.pod, name).args ?? [];
      expect(args[args.indexOf('-x') + 1]).toBe(longest.text);
      for (const arg of args) expect(Buffer.byteLength(arg)).toBeLessThanOrEqual(MaxInitArgBytes);

      const over = review({ ...mode, [excludeRanges]: `${longest.text},${cidr(longest.count)}` });
      expect(over.kind).toBe('deny');
      if (over.kind === 'deny') expect(over.error.message).toContain(`annotation ${excludeRanges}`);
    });
  }

  it('checks the combined inbound exclusions (-d) and the environment strings as well', () => {
    const ports = Array.from({ length: 30_000 }, (_, i) => String(20_000 + i)).join(',');
    const result = review({ 'traffic.sidecar.istio.io/excludeInboundPorts': ports });
    expect(result.kind).toBe('deny');
    if (result.kind === 'deny') expect(result.error.message).toMatch(/excludeInboundPorts.*argument -d/);
    const long = '1'.repeat(MaxInitArgBytes);
    const problems = initArgProblems({ ownerGroupsInclude: { text: long, source: 'injector config ownerGroupsInclude' } });
    expect(problems.map((p) => p.reason)).toEqual([expect.stringContaining('environment variable ISTIO_OUTBOUND_OWNER_GROUPS')]);
    expect(initArgProblems({ ownerGroupsInclude: { text: long.slice(0, MaxInitArgBytes - 'ISTIO_OUTBOUND_OWNER_GROUPS='.length), source: 'x' } })).toEqual([]);
  });
});
