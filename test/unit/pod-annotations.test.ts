// The pod-annotation adapter: Istio's defaults and annotations, every bad annotation named, the
// CNI settings annotation round trip, and the rendered proxy-init command line parsing back to
// the same capture configuration through `outrigger init`'s own flag parser.
import { describe, expect, it } from 'vitest';
import { isOutriggerError } from '../../common/errors.js';
import {
  CaptureSettingsAnnotation,
  captureConfigFromAnnotations,
  decodeCaptureSettings,
  encodeCaptureSettings,
  rawSettingsFromAnnotations,
} from '../../capture/pod-annotations.js';
import { renderInitArgs } from '../../capture/render-init-args.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';

function errorOf(fn: () => unknown): { message: string; sources: string[] } {
  try {
    fn();
  } catch (error) {
    if (isOutriggerError(error)) return { message: error.message, sources: error.problems.map((p) => p.source) };
    throw error;
  }
  throw new Error('expected an error');
}

describe('pod annotations', () => {
  it('renders Istio\'s default proxy-init command line for a pod without annotations', () => {
    const { raw } = rawSettingsFromAnnotations({});
    expect(renderInitArgs(raw).args).toEqual(['-m', 'REDIRECT', '-b', '*', '-d', '15090,15021,15020', '-i', '*', '-x', '']);
  });

  it('maps each traffic annotation to its setting, with the status port in the inbound excludes', () => {
    const { config } = captureConfigFromAnnotations({
      'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/8,2001:db8::/32',
      'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.96.0.1/32',
      'traffic.sidecar.istio.io/includeInboundPorts': '8080,9090',
      'traffic.sidecar.istio.io/excludeInboundPorts': '9000',
      'traffic.sidecar.istio.io/includeOutboundPorts': '3306',
      'traffic.sidecar.istio.io/excludeOutboundPorts': '5432',
      'traffic.sidecar.istio.io/excludeInterfaces': 'eth1',
      'traffic.sidecar.istio.io/kubevirtInterfaces': 'net1',
      'sidecar.istio.io/interceptionMode': 'TPROXY',
      'status.sidecar.istio.io/port': '15999',
    });
    expect(config.outboundIpRangesInclude).toEqual({ all: false, items: [expect.objectContaining({ text: '10.0.0.0/8' }), expect.objectContaining({ text: '2001:db8::/32' })] });
    expect(config.outboundIpRangesExclude.map((c) => c.text)).toEqual(['10.96.0.1/32']);
    expect(config.inboundPorts).toEqual({ all: false, items: [8080, 9090] });
    // Istio's excludeInboundPort: the status port is appended to the pod's list.
    expect(config.inboundPortsExclude).toEqual([15090, 15021, 9000, 15999]);
    expect(config.outboundPortsInclude).toEqual([3306]);
    expect(config.outboundPortsExclude).toEqual([5432]);
    expect(config.excludeInterfaces).toEqual(['eth1']);
    expect(config.kubeVirtInterfaces).toEqual(['net1']);
    expect(config.inboundInterceptionMode).toBe('TPROXY');
  });

  it('drops the status port when it is 0', () => {
    const { config } = captureConfigFromAnnotations({ 'status.sidecar.istio.io/port': '0' });
    expect(config.inboundPortsExclude).toEqual([15090, 15021]);
  });

  it('names every bad annotation with its value in one error', () => {
    const error = errorOf(() =>
      captureConfigFromAnnotations({
        'traffic.sidecar.istio.io/excludeInboundPorts': '70000',
        'traffic.sidecar.istio.io/includeOutboundIPRanges': '10.0.0.0/33',
        'traffic.sidecar.istio.io/excludeOutboundPorts': '*',
        'sidecar.istio.io/interceptionMode': 'MAGIC',
        'status.sidecar.istio.io/port': 'abc',
      }),
    );
    expect(error.sources.sort()).toEqual([
      'annotation sidecar.istio.io/interceptionMode',
      'annotation status.sidecar.istio.io/port',
      'annotation traffic.sidecar.istio.io/excludeInboundPorts',
      'annotation traffic.sidecar.istio.io/excludeOutboundPorts',
      'annotation traffic.sidecar.istio.io/includeOutboundIPRanges',
    ]);
    expect(error.message).toContain('"70000"');
    expect(error.message).toContain('"MAGIC"');
  });

  it('round-trips the CNI settings annotation and refuses unknown keys and non-strings', () => {
    const { raw } = rawSettingsFromAnnotations({ 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432' });
    const decoded = decodeCaptureSettings(encodeCaptureSettings(raw));
    expect(Object.fromEntries(Object.entries(decoded).map(([k, v]) => [k, v?.text]))).toEqual(
      Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v?.text])),
    );
    const error = errorOf(() => decodeCaptureSettings('{"proxyPort":15001,"bogus":"1"}'));
    expect(error.sources).toEqual([`annotation ${CaptureSettingsAnnotation} .proxyPort`, `annotation ${CaptureSettingsAnnotation} .bogus`]);
    expect(errorOf(() => decodeCaptureSettings('[')).message).toContain('not JSON');
  });

  it('renders a command line that outrigger init parses back to the same capture config', () => {
    const annotations = {
      'traffic.sidecar.istio.io/excludeOutboundIPRanges': '198.18.0.0/15',
      'sidecar.istio.io/interceptionMode': 'TPROXY',
      'traffic.sidecar.istio.io/excludeInterfaces': 'eth1',
    };
    const { config, raw } = captureConfigFromAnnotations(annotations, {
      outboundIpRangesInclude: '*', inboundPorts: '*', redirectDns: 'true', ownerGroupsExclude: '1000',
    });
    const { args, env } = renderInitArgs(raw);
    const parsed = parseInitFlags(args, env);
    expect(parsed.kind).toBe('run');
    if (parsed.kind === 'run') expect(parsed.capture).toEqual(config);
  });
});
