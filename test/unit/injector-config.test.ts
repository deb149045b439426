// The injector configuration parser: defaults when empty, every documented key read, every bad
// field named at once with its path (unknown keys, wrong types, bad quantities, selectors,
// capture baseline values through the capture model), and label selector matching.
import { describe, expect, it } from 'vitest';
import { isOutriggerError } from '../../common/errors.js';
import { DefaultInjectorConfig, parseInjectorConfig } from '../../injector/config/injector-config.js';
import { selectorMatches } from '../../injector/kube/label-selector.js';

function problemsOf(text: string): string[] {
  try {
    parseInjectorConfig(text, 'config.yaml');
  } catch (error) {
    if (isOutriggerError(error)) {
      expect(error.code).toBe('INVALID_INPUT');
      return error.problems.map((p) => p.source);
    }
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('parseInjectorConfig', () => {
  it('gives the documented defaults for an empty file or empty mapping', () => {
    expect(parseInjectorConfig('', 'c')).toEqual(DefaultInjectorConfig);
    expect(parseInjectorConfig('{}\n', 'c')).toEqual(DefaultInjectorConfig);
    expect(DefaultInjectorConfig.proxy.ports).toEqual({ outbound: 15001, inbound: 15006, admin: 15000, health: 15021, prometheus: 15090, status: 15020 });
    expect(DefaultInjectorConfig.proxy.uid).toBe(1337);
    expect(DefaultInjectorConfig.containerNames).toEqual({ proxy: 'proxy', init: 'proxy-init', validation: 'proxy-validation' });
    expect(DefaultInjectorConfig.nativeSidecars).toBe(true);
    expect(DefaultInjectorConfig.cniMode).toBe(false);
    expect(DefaultInjectorConfig.defaultPolicy).toBe('enabled');
  });

  it('reads every key', () => {
    const config = parseInjectorConfig(
      `
proxy:
  image: envoy:custom
  resources: { requests: { cpu: 50m, memory: 64Mi }, limits: { memory: 1.5Gi } }
  env: [{ name: A, value: "1" }, { name: B, valueFrom: { fieldRef: { fieldPath: spec.nodeName } } }]
  volumes: [{ name: certs, secret: { secretName: s } }]
  volumeMounts: [{ name: certs, mountPath: /certs, readOnly: true }]
  uid: 1500
  gid: 1600
  ports: { outbound: 1, inbound: 2, admin: 3, health: 4, prometheus: 5, status: 6 }
  logLevel: debug
  concurrency: 0
  bootstrapOverride: { stats_flush_interval: 10s }
init: { image: init:custom, resources: { limits: { cpu: 200m } } }
imagePullPolicy: Never
imagePullSecrets: [reg]
containerNames: { proxy: p, init: i, validation: v }
nativeSidecars: false
cniMode: true
defaultPolicy: disabled
neverInjectSelector: [{ matchLabels: { a: b } }]
alwaysInjectSelector: [{ matchExpressions: [{ key: x, operator: In, values: [y] }] }]
capture: { outboundIpRangesExclude: [10.0.0.0/8, 192.168.0.0/16], redirectDns: false, inboundPortsExclude: 9999 }
revision: canary
`,
      'c',
    );
    expect(config.proxy.image).toBe('envoy:custom');
    expect(config.proxy.resources).toEqual({ requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '1.5Gi' } });
    expect(config.proxy.env).toHaveLength(2);
    expect(config.proxy.volumes).toEqual([{ name: 'certs', secret: { secretName: 's' } }]);
    expect(config.proxy.volumeMounts).toEqual([{ name: 'certs', mountPath: '/certs', readOnly: true }]);
    expect([config.proxy.uid, config.proxy.gid, config.proxy.concurrency, config.proxy.logLevel]).toEqual([1500, 1600, 0, 'debug']);
    expect(config.proxy.ports).toEqual({ outbound: 1, inbound: 2, admin: 3, health: 4, prometheus: 5, status: 6 });
    expect(config.proxy.bootstrapOverride).toEqual({ stats_flush_interval: '10s' });
    expect(config.init).toEqual({ image: 'init:custom', resources: { limits: { cpu: '200m' } } });
    expect(config.imagePullPolicy).toBe('Never');
    expect(config.imagePullSecrets).toEqual(['reg']);
    expect(config.containerNames).toEqual({ proxy: 'p', init: 'i', validation: 'v' });
    expect([config.nativeSidecars, config.cniMode, config.defaultPolicy, config.revision]).toEqual([false, true, 'disabled', 'canary']);
    expect(config.neverInjectSelector).toEqual([{ matchLabels: { a: 'b' } }]);
    expect(config.alwaysInjectSelector).toEqual([{ matchExpressions: [{ key: 'x', operator: 'In', values: ['y'] }] }]);
    expect(config.captureBaseline).toMatchObject({ outboundIpRangesExclude: '10.0.0.0/8,192.168.0.0/16', redirectDns: 'false', inboundPortsExclude: '9999', inboundPorts: '*' });
  });

  it('names every bad field at once, with its path', () => {
    const sources = problemsOf(`
color: blue
proxy:
  image: ""
  resources: { requests: { cpu: lots } }
  env: [{ value: x }, { name: "1 bad", value: 2 }]
  volumes: [{ name: Bad_Name, emptyDir: {} }, { name: two, emptyDir: {}, secret: {} }]
  volumeMounts: [{ name: v, mountPath: relative }]
  uid: 0
  ports: { outbound: 70000, admin: 15006 }
  logLevel: loud
  extra: 1
init: { image: 5 }
imagePullPolicy: Sometimes
containerNames: { proxy: same, init: same }
nativeSidecars: "yes"
defaultPolicy: maybe
neverInjectSelector: [{ matchExpressions: [{ key: a, operator: Is }] }, { matchExpressions: [{ key: b, operator: Exists, values: [c] }] }]
capture: { proxyPort: "1", outboundIpRangesInclude: 10.0.0.0/33, inboundPorts: http, nope: 1 }
`);
    for (const expected of [
      'config.yaml .color',
      'config.yaml .proxy.image',
      'config.yaml .proxy.resources.requests.cpu',
      'config.yaml .proxy.env[0].name',
      'config.yaml .proxy.env[1].name',
      'config.yaml .proxy.env[1].value',
      'config.yaml .proxy.volumes[0].name',
      'config.yaml .proxy.volumes[1]',
      'config.yaml .proxy.volumeMounts[0].mountPath',
      'config.yaml .proxy.uid',
      'config.yaml .proxy.ports.outbound',
      'config.yaml .proxy.ports.admin',
      'config.yaml .proxy.logLevel',
      'config.yaml .proxy.extra',
      'config.yaml .init.image',
      'config.yaml .imagePullPolicy',
      'config.yaml .containerNames',
      'config.yaml .nativeSidecars',
      'config.yaml .defaultPolicy',
      'config.yaml .neverInjectSelector[0].matchExpressions[0].operator',
      'config.yaml .neverInjectSelector[1].matchExpressions[0].values',
      'config.yaml .capture.proxyPort',
      'config.yaml .capture.nope',
      'config.yaml .capture.outboundIpRangesInclude',
      'config.yaml .capture.inboundPorts',
    ]) {
      expect(sources).toContain(expected);
    }
  });

  it('refuses DNS capture unless the bootstrap is overridden to serve DNS over UDP on 15053', () => {
    expect(problemsOf('capture: { redirectDns: true }\n')).toEqual(['config.yaml .capture.redirectDns']);
    // An override that serves no DNS is not enough (it used to be).
    expect(problemsOf('capture: { redirectDns: true }\nproxy: { bootstrapOverride: { stats_flush_interval: 10s } }\n')).toEqual(['config.yaml .capture.redirectDns']);
    expect(parseInjectorConfig('capture: { redirectDns: "false" }\n', 'c').captureBaseline.redirectDns).toBe('false');
  });

  it('refuses YAML that does not parse, duplicate keys and a non-mapping document', () => {
    expect(problemsOf('proxy: [unclosed\n')).toEqual(['config.yaml']);
    expect(problemsOf('cniMode: true\ncniMode: false\n')).toEqual(['config.yaml']);
    expect(problemsOf('- a\n- b\n')).toEqual(['config.yaml .']);
  });
});

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'front' };
  it('matches like the API server', () => {
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'db' } }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, labels)).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels)).toBe(false);
  });
});
