/** The init flag/env adapter: Istio names and defaults, precedence, and one error naming every bad value. */

import { describe, expect, it } from 'vitest';
import { isOutriggerError, type OutriggerError } from '../../common/errors.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';

function parse(argv: string[], env: Record<string, string> = {}) {
  const result = parseInitFlags(argv, env);
  if (result.kind !== 'run') throw new Error('expected a run');
  return result;
}

function failure(argv: string[], env: Record<string, string> = {}): OutriggerError {
  try {
    parseInitFlags(argv, env);
  } catch (error) {
    if (isOutriggerError(error)) return error;
    throw error;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('parseInitFlags', () => {
  it('uses istio-iptables defaults', () => {
    const { capture, options } = parse([]);
    expect(capture.proxyPort).toBe(15001);
    expect(capture.inboundCapturePort).toBe(15006);
    expect(capture.inboundTunnelPort).toBe(15008);
    expect(capture.proxyUids).toEqual(['1337']);
    expect(capture.proxyGids).toEqual(['1337']);
    expect(capture.inboundInterceptionMode).toBe('REDIRECT');
    expect(capture.inboundPorts).toEqual({ all: false, items: [] });
    expect(capture.outboundIpRangesInclude).toEqual({ all: false, items: [] });
    expect(capture.ipv4LoopbackCidr.text).toBe('127.0.0.1/32');
    expect(options).toMatchObject({ dryRun: false, ipv6: 'auto', backend: 'auto', resolvConfPath: '/etc/resolv.conf', probePort: 15002, probeTimeoutMs: 5000 });
  });

  it('accepts short and long names alike', () => {
    const short = parse(['-p', '16001', '-z', '16006', '-u', '1,2', '-g', '3', '-m', 'tproxy', '-b', '*', '-d', '15090,15021', '-i', '*', '-x', '10.0.0.0/8,2001:db8::/32', '-q', '443', '-o', '25', '-c', 'eth9', '-k', 'vm0', '-t', '77', '-r', '99']).capture;
    const long = parse(['--envoy-port', '16001', '--inbound-capture-port', '16006', '--proxy-uid', '1,2', '--proxy-gid', '3', '--istio-inbound-interception-mode', 'TPROXY', '--istio-inbound-ports', '*', '--istio-local-exclude-ports', '15090,15021', '--istio-service-cidr', '*', '--istio-service-exclude-cidr', '10.0.0.0/8,2001:db8::/32', '--istio-outbound-ports', '443', '--istio-local-outbound-ports-exclude', '25', '--istio-exclude-interfaces', 'eth9', '--kube-virt-interfaces', 'vm0', '--istio-inbound-tproxy-mark', '77', '--istio-inbound-tproxy-route-table', '99']).capture;
    expect(long).toEqual(short);
    expect(short.inboundInterceptionMode).toBe('TPROXY');
    expect(short.outboundIpRangesExclude.map((c) => c.text)).toEqual(['10.0.0.0/8', '2001:db8::/32']);
  });

  it('reads Istio environment variables, and flags win over them', () => {
    const env = { ENVOY_PORT: '17001', ISTIO_INBOUND_PORTS: '80', ISTIO_META_DNS_CAPTURE: 'true', INVALID_DROP: 'true', ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: '888,ftp', ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: '127.0.0.1/8' };
    const { capture } = parse(['-b', '90'], env);
    expect(capture.proxyPort).toBe(17001);
    expect(capture.inboundPorts).toEqual({ all: false, items: [90] });
    expect(capture.redirectDns).toBe(true);
    expect(capture.dropInvalid).toBe(true);
    expect(capture.ownerGroups).toEqual({ mode: 'except', groups: ['888', 'ftp'] });
    expect(capture.ipv4LoopbackCidr.text).toBe('127.0.0.1/8');
  });

  it('ignores empty list items like istio-iptables (6000,7000,)', () => {
    expect(parse(['-d', '6000,7000,']).capture.inboundPortsExclude).toEqual([6000, 7000]);
  });

  it('names every bad flag and value in one error', () => {
    const error = failure(['-p', '70000', '-i', '10.0.0.0/33', '-x', '*', '-m', 'MAGIC', '-c', 'this-name-is-too-long', '-u', 'Bad User', '--ipv6', 'maybe', '-b', '80,*']);
    expect(error.code).toBe('INVALID_INPUT');
    const sources = error.problems.map((p) => p.source);
    expect(sources).toEqual(expect.arrayContaining([
      '--envoy-port (-p)', '--istio-service-cidr (-i)', '--istio-service-exclude-cidr (-x)', '--istio-inbound-interception-mode (-m)',
      '--istio-exclude-interfaces (-c)', '--proxy-uid (-u)', '--ipv6', '--istio-inbound-ports (-b)',
    ]));
    expect(error.problems).toHaveLength(8);
    expect(error.message).toContain('--envoy-port (-p) "70000": must be a port number 1-65535');
    expect(error.message).toContain('"*" is not allowed here');
  });

  it('names the environment variable when the bad value came from there', () => {
    const error = failure([], { ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR: '10.0.0.0/8' });
    expect(error.problems[0]).toMatchObject({ source: 'env ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR', value: '10.0.0.0/8' });
  });

  it('refuses unknown flags and stray arguments', () => {
    expect(failure(['--no-such-flag', 'x']).message).toMatch(/Unknown option '--no-such-flag'/);
    expect(failure(['15001']).problems[0]).toMatchObject({ source: 'arguments' });
    expect(failure(['15001']).message).toMatch(/Unexpected argument '15001'/);
  });

  it('accepts pflag-style boolean values', () => {
    expect(parse(['--redirect-dns=true', '--drop-invalid=false'], { INVALID_DROP: 'true' }).capture).toMatchObject({ redirectDns: true, dropInvalid: false });
    expect(failure(['--redirect-dns=perhaps']).problems[0]).toMatchObject({ source: '--redirect-dns', value: 'perhaps' });
  });

  it('refuses both owner-group lists at once', () => {
    const error = failure([], { ISTIO_OUTBOUND_OWNER_GROUPS: 'java', ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: 'ftp' });
    expect(error.problems[0]?.source).toBe('env ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE');
  });

  it('accepts at most 48 owner groups to include, the most one iptables rule holds (found by the real-kernel property test)', () => {
    const groups = (n: number) => Array.from({ length: n }, (_, i) => String(1000 + i)).join(',');
    expect(parse([], { ISTIO_OUTBOUND_OWNER_GROUPS: groups(48) }).capture.ownerGroups).toMatchObject({ mode: 'only' });
    expect(failure([], { ISTIO_OUTBOUND_OWNER_GROUPS: groups(49) }).problems).toEqual([
      { source: 'env ISTIO_OUTBOUND_OWNER_GROUPS', value: groups(49), reason: 'names 49 groups; at most 48 fit in the one iptables rule they share' },
    ]);
    // Excluded groups get a rule each: no such limit.
    expect(parse([], { ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: groups(100) }).capture.ownerGroups).toMatchObject({ mode: 'except' });
  });

  it('refuses a TPROXY mark equal to the reserved outbound mark and reserved route tables', () => {
    const error = failure(['-t', '1338', '-r', '254']);
    expect(error.problems.map((p) => p.source)).toEqual(['--istio-inbound-tproxy-route-table (-r)', '--istio-inbound-tproxy-mark (-t)']);
  });

  it('parses Go-style probe timeouts', () => {
    expect(parse(['--probe-timeout', '1m30s']).options.probeTimeoutMs).toBe(90_000);
    expect(parse(['--probe-timeout', '250ms']).options.probeTimeoutMs).toBe(250);
    expect(failure(['--probe-timeout', 'soon']).problems[0]?.source).toBe('--probe-timeout');
  });

  it('returns help without validating anything', () => {
    expect(parseInitFlags(['--help'], {}).kind).toBe('help');
  });
});
