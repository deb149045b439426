// The injection decision table, in Istio's order (label over annotation, present-but-empty label
// included; then never/always selectors; then the default policy), one row per case.
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
    ['plain pod, default enabled', pod({}), config, 'shop', { inject: true }],
    ['host network wins over everything', pod({ [L]: 'true' }, {}, { hostNetwork: true }), config, 'shop', { inject: false, reason: 'hostNetwork' }],
    ['windows pod', pod({ [L]: 'true' }, {}, { os: { name: 'windows' } }), config, 'shop', { inject: false, reason: 'windowsPod' }],
    ['system namespace wins over the label', pod({ [L]: 'true' }), config, 'kube-system', { inject: false, reason: 'systemNamespace' }],
    ['label false over annotation true', pod({ [L]: 'false' }, { [L]: 'true' }), config, 'shop', { inject: false, reason: 'labelDisabled' }],
    ['label true over annotation false', pod({ [L]: 'true' }, { [L]: 'false' }), config, 'shop', { inject: true }],
    ['label YES (any case) injects', pod({ [L]: 'YES' }), disabled, 'shop', { inject: true }],
    ['label typo skips, as in Istio', pod({ [L]: 'ture' }), config, 'shop', { inject: false, reason: 'labelDisabled' }],
    ['empty label hides the annotation; never selector decides', pod({ [L]: '', never: '1' }, { [L]: 'true' }), config, 'shop', { inject: false, reason: 'neverInjectSelector' }],
    ['annotation off', pod({}, { [L]: 'off' }), config, 'shop', { inject: false, reason: 'annotationDisabled' }],
    ['annotation on beats the never selector', pod({ never: '1' }, { [L]: 'on' }), config, 'shop', { inject: true }],
    ['never selector beats always selector', pod({ never: '1', always: '1' }), config, 'shop', { inject: false, reason: 'neverInjectSelector' }],
    ['always selector beats a disabled default', pod({ always: '1' }), disabled, 'shop', { inject: true }],
    ['disabled default', pod({}), disabled, 'shop', { inject: false, reason: 'defaultPolicyDisabled' }],
  ] as const)('%s', (_name, p, c, ns, expected) => {
    expect(decideInjection(p, ns, c)).toEqual(expected);
  });
});
