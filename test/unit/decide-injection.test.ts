// The injection decision table, in current Istio's order and values (label over annotation,
// present-but-empty label included; only "true"/"false" decide, anything else falls back with a
// warning; then never/always selectors; then the default policy), one row per case.
import { describe, expect, it } from 'vitest';
import { parseInjectorConfig } from '../../injector/config/injector-config.js';
import type { Pod } from '../../injector/kube/pod-types.js';
import { decideInjection } from '../../injector/mutation/decide-injection.js';

const config = parseInjectorConfig('neverInjectSelector: [{ matchLabels: { never: "1" } }]\nalwaysInjectSelector: [{ matchLabels: { always: "1" } }]\n', 'c');
const disabled = parseInjectorConfig('defaultPolicy: disabled\nalwaysInjectSelector: [{ matchLabels: { always: "1" } }]\n', 'c');

function pod(labels: Record<string, string>, annotations: Record<string, string> = {}, spec: Partial<Pod['spec']> = {}): Pod {
  return { metadata: { labels, annotations }, spec: { containers: [{ name: 'a' }], ...spec } };
}

const L = 'sidecar.istio.io/inject';

describe('decideInjection', () => {
  it.each([
    ['plain pod, default enabled', pod({}), config, 'shop', { inject: true }, 0],
    ['host network wins over everything', pod({ [L]: 'true' }, {}, { hostNetwork: true }), config, 'shop', { inject: false, reason: 'hostNetwork' }, 1],
    ['windows pod', pod({ [L]: 'true' }, {}, { os: { name: 'windows' } }), config, 'shop', { inject: false, reason: 'windowsPod' }, 1],
    ['system namespace wins over the label', pod({ [L]: 'true' }), config, 'kube-system', { inject: false, reason: 'systemNamespace' }, 1],
    ['system namespace, no request: no warning', pod({}), config, 'kube-system', { inject: false, reason: 'systemNamespace' }, 0],
    ['label false over annotation true', pod({ [L]: 'false' }, { [L]: 'true' }), config, 'shop', { inject: false, reason: 'labelDisabled' }, 1],
    ['label true over annotation false', pod({ [L]: 'true' }, { [L]: 'false' }), config, 'shop', { inject: true }, 1],
    ['label YES falls back to the default policy (disabled)', pod({ [L]: 'YES' }), disabled, 'shop', { inject: false, reason: 'defaultPolicyDisabled' }, 1],
    ['label typo falls back to the default policy (enabled)', pod({ [L]: 'ture' }), config, 'shop', { inject: true }, 1],
    ['label typo falls back to the selectors too', pod({ [L]: 'ture', never: '1' }), config, 'shop', { inject: false, reason: 'neverInjectSelector' }, 1],
    ['empty label hides the annotation; never selector decides', pod({ [L]: '', never: '1' }, { [L]: 'true' }), config, 'shop', { inject: false, reason: 'neverInjectSelector' }, 1],
    ['annotation false', pod({}, { [L]: 'false' }), config, 'shop', { inject: false, reason: 'annotationDisabled' }, 0],
    ['annotation off falls back', pod({}, { [L]: 'off' }), config, 'shop', { inject: true }, 1],
    ['annotation true beats the never selector', pod({ never: '1' }, { [L]: 'true' }), config, 'shop', { inject: true }, 0],
    ['annotation on no longer beats the never selector', pod({ never: '1' }, { [L]: 'on' }), config, 'shop', { inject: false, reason: 'neverInjectSelector' }, 1],
    ['never selector beats always selector', pod({ never: '1', always: '1' }), config, 'shop', { inject: false, reason: 'neverInjectSelector' }, 0],
    ['always selector beats a disabled default', pod({ always: '1' }), disabled, 'shop', { inject: true }, 0],
    ['disabled default', pod({}), disabled, 'shop', { inject: false, reason: 'defaultPolicyDisabled' }, 0],
  ] as const)('%s', (_name, p, c, ns, expected, warnings) => {
    const { warnings: got, ...decision } = decideInjection(p, ns, c);
    expect(decision).toEqual(expected);
    expect(got).toHaveLength(warnings);
  });
});
