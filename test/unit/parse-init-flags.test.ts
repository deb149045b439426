/** The init flag/env adapter: Istio names and defaults, precedence, and one error naming every bad value. */

import { describe, expect, it } from 'vitest';
import { isOutriggerError, type OutriggerError } from '../../common/errors.js';
import { OptionFlags, parseInitFlags } from '../../init/parse-init-flags.js';
import { CaptureFlags } from '../../capture/capture-flags.js';

const BadBoolean = 'must be true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)';

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

/** The spellings spf13/pflag accepts (see init/normalise-pflag-args.ts), read as istio-iptables reads them. */
describe('parseInitFlags: pflag spellings', () => {
  // A valid value for every short string flag; the first test proves none is missing.
  const shortValues: Record<string, string> = {
    p: '16001', z: '16006', e: '16009', u: '1,2', g: '3', m: 'TPROXY', t: '77', r: '99', b: '*', d: '15090,15021',
    i: '*', x: '10.0.0.0/8', q: '443', o: '25', c: 'eth9', k: 'vm0',
  };
  const shortFlags = [...CaptureFlags.map((f) => ({ long: f.long, short: f.short, type: f.kind })), ...Object.entries(OptionFlags).map(([long, f]) => ({ long, short: f.short, type: f.type }))]
    .filter((f): f is { long: string; short: string; type: 'string' | 'boolean' } => f.short !== undefined);

  it('covers every short string flag the parser defines', () => {
    expect(shortFlags.filter((f) => f.type === 'string').map((f) => f.short).sort()).toEqual(Object.keys(shortValues).sort());
    expect(shortFlags.filter((f) => f.type === 'boolean').map((f) => f.short).sort()).toEqual(['f', 'h', 'n']);
  });

  it('reads -X=value, -Xvalue and -X value alike for every short string flag', () => {
    for (const [short, value] of Object.entries(shortValues)) {
      const long = shortFlags.find((f) => f.short === short)?.long ?? '';
      const spaced = parse([`-${short}`, value]);
      expect(parse([`-${short}=${value}`]), `-${short}=${value}`).toEqual(spaced);
      expect(parse([`-${short}${value}`]), `-${short}${value}`).toEqual(spaced);
      expect(parse([`--${long}=${value}`]), `--${long}=${value}`).toEqual(spaced);
      expect(parse([`--${long}`, value]), `--${long} ${value}`).toEqual(spaced);
      expect(spaced).not.toEqual(parse([]));
    }
    expect(parse(['-c=net1']).capture.excludeInterfaces).toEqual(['net1']);
  });

  it('takes the next argument as a string flag\'s value whatever it starts with', () => {
    expect(parse(['-c', '-abc']).capture.excludeInterfaces).toEqual(['-abc']);
    expect(parse(['--kube-virt-interfaces', '-abc']).capture.kubeVirtInterfaces).toEqual(['-abc']);
    // Even a flag's name: pflag sets -k to "--dry-run" and dry-run stays off.
    const eaten = parse(['-k', '--dry-run']);
    expect(eaten.capture.kubeVirtInterfaces).toEqual(['--dry-run']);
    expect(eaten.options.dryRun).toBe(false);
    expect(failure(['-p', '-1']).problems).toEqual([{ source: '--envoy-port (-p)', value: '-1', reason: 'must be a port number 1-65535' }]);
    expect(failure(['-x', '--']).problems[0]).toMatchObject({ source: '--istio-service-exclude-cidr (-x)', value: '--' });
  });

  it('reads an empty value as empty, and -X= as the value "=" (pflag needs a character after "=")', () => {
    const withExcludes = ['-i', '*', '-x', '10.0.0.0/8'];
    for (const empty of [['-x', ''], ['--istio-service-exclude-cidr='], ['--istio-service-exclude-cidr', '']]) {
      expect(parse([...withExcludes, ...empty], { ISTIO_SERVICE_EXCLUDE_CIDR: '192.168.0.0/16' }).capture.outboundIpRangesExclude, empty.join(' ')).toEqual([]);
    }
    expect(failure(['-c=']).problems).toEqual([expect.objectContaining({ source: '--istio-exclude-interfaces (-c)', value: '=' })]);
  });

  it('reads a value containing "=" after the first "="', () => {
    expect(failure(['--istio-exclude-interfaces=a=b']).problems[0]).toMatchObject({ source: '--istio-exclude-interfaces (-c)', value: 'a=b' });
    expect(failure(['-c=a=b']).problems[0]).toMatchObject({ value: 'a=b' });
  });

  it('keeps the last value of a flag given twice, whatever its spelling', () => {
    expect(parse(['-p', '1001', '--envoy-port=1002', '-p=1003']).capture.proxyPort).toBe(1003);
    expect(parse(['-p=1003', '--envoy-port', '1002']).capture.proxyPort).toBe(1002);
    expect(parse(['-n', '--dry-run=false']).options.dryRun).toBe(false);
    expect(parse(['-n=false', '--dry-run']).options.dryRun).toBe(true);
  });

  it('reads booleans: bare means true, =V sets V, a separate value is a stray argument', () => {
    expect(parse(['-n']).options.dryRun).toBe(true);
    expect(parse(['-n=true']).options.dryRun).toBe(true);
    expect(parse(['-n=false']).options.dryRun).toBe(false);
    expect(parse(['-n=0', '-f=false']).options.dryRun).toBe(false);
    expect(parse(['--redirect-dns']).capture.redirectDns).toBe(true);
    expect(parse(['--redirect-dns=false'], { ISTIO_META_DNS_CAPTURE: 'true' }).capture.redirectDns).toBe(false);
    expect(failure(['-n=maybe']).problems).toEqual([{ source: '--dry-run (-n)', value: 'maybe', reason: BadBoolean }]);
    expect(failure(['--redirect-dns=']).problems).toEqual([{ source: '--redirect-dns', value: '', reason: BadBoolean }]);
    expect(failure(['--redirect-dns', 'false']).message).toMatch(/Unexpected argument 'false'/);
    expect(failure(['-n', 'false']).message).toMatch(/Unexpected argument 'false'/);
    // pflag reads `-n=` as -n, then "=" as an unknown shorthand.
    expect(failure(['-n=']).problems).toEqual([{ source: 'arguments', value: '-n=', reason: "unknown shorthand flag '=' in -n=" }]);
  });

  it("reads a boolean's value exactly as Go's strconv.ParseBool does, nothing more", () => {
    for (const word of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      expect(parse([`--dry-run=${word}`]).options.dryRun, word).toBe(true);
      expect(parse([`-n=${word}`, '-f']).options.dryRun, word).toBe(true);
    }
    for (const word of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
      expect(parse([`--dry-run=${word}`]).options.dryRun, word).toBe(false);
      expect(parse(['-n', `-n=${word}`]).options.dryRun, word).toBe(false);
      expect(parse([`--redirect-dns=${word}`], { ISTIO_META_DNS_CAPTURE: 'true' }).capture.redirectDns, word).toBe(false);
    }
    // pflag refuses each of these ("strconv.ParseBool: parsing ...: invalid syntax").
    for (const word of ['yes', 'on', 'off', 'no', 'y', 'n', 'tRue', 'FaLse', ' true', 'true ', '01', '2', 'TRUE\n']) {
      expect(failure([`--dry-run=${word}`]).problems, `--dry-run=${word}`).toEqual([{ source: '--dry-run (-n)', value: word, reason: BadBoolean }]);
      expect(failure([`-n=${word}`]).problems, `-n=${word}`).toEqual([{ source: '--dry-run (-n)', value: word, reason: BadBoolean }]);
    }
    expect(failure(['--redirect-dns=on']).problems).toEqual([{ source: '--redirect-dns', value: 'on', reason: BadBoolean }]);
  });

  it('has no --no-name spelling, as pflag has none', () => {
    expect(failure(['--no-dry-run']).problems).toEqual([{ source: 'arguments', value: '--no-dry-run', reason: 'unknown flag: --no-dry-run' }]);
    expect(failure(['--no-redirect-dns=1']).problems).toEqual([{ source: 'arguments', value: '--no-redirect-dns=1', reason: 'unknown flag: --no-redirect-dns' }]);
  });

  it('reads shorthand clusters as pflag does: booleans, then at most one string flag taking the rest', () => {
    const spaced = parse(['-n', '-c', 'eth0']);
    expect(spaced.options.dryRun).toBe(true);
    for (const cluster of [['-nc', 'eth0'], ['-nceth0'], ['-nc=eth0'], ['-fnc', 'eth0']]) expect(parse(cluster), cluster.join(' ')).toEqual(spaced);
    expect(parse(['-nf=false']).options.dryRun).toBe(true);
    // A string letter first takes the rest of the cluster as its value.
    const valued = parse(['-cn']);
    expect(valued.capture.excludeInterfaces).toEqual(['n']);
    expect(valued.options.dryRun).toBe(false);
  });

  it('refuses unknown shorthands anywhere in a cluster, naming the letter', () => {
    expect(failure(['-Z']).problems).toEqual([{ source: 'arguments', value: '-Z', reason: "unknown shorthand flag 'Z' in -Z" }]);
    expect(failure(['-nZ']).problems[0]).toMatchObject({ reason: "unknown shorthand flag 'Z' in -nZ" });
    // Not the `--` terminator in disguise.
    expect(failure(['-n-']).problems[0]).toMatchObject({ reason: "unknown shorthand flag '-' in -n-" });
    expect(failure(['-n', '-Z', '-p', '70000']).problems.map((p) => p.source)).toEqual(['arguments', '--envoy-port (-p)']);
  });

  it('names the flag that needs a value when argv ends', () => {
    const needs = (source: string) => [{ source, value: '', reason: 'needs a value, and nothing follows it' }];
    expect(failure(['-c']).problems).toEqual(needs('--istio-exclude-interfaces (-c)'));
    expect(failure(['-n', '-nc']).problems).toEqual(needs('--istio-exclude-interfaces (-c)'));
    expect(failure(['--envoy-port']).problems).toEqual(needs('--envoy-port (-p)'));
    expect(failure(['--probe-timeout']).problems).toEqual(needs('--probe-timeout'));
  });

  it('ends flags at --, and refuses what follows as arguments', () => {
    expect(failure(['--', '-p', '1']).message).toMatch(/Unexpected argument '-p'/);
    expect(failure(['-']).message).toMatch(/Unexpected argument '-'/);
    expect(parse(['-p', '1', '--']).capture.proxyPort).toBe(1);
  });

  it('keeps --help and -h, unless the command line itself is wrong', () => {
    expect(parseInitFlags(['-h'], {}).kind).toBe('help');
    expect(parseInitFlags(['-p', '1', '-h=true'], {}).kind).toBe('help');
    expect(parseInitFlags(['--help=false'], {}).kind).toBe('run');
    expect(failure(['--help', '-nZ']).problems[0]).toMatchObject({ value: '-nZ' });
    expect(failure(['--help', '--no-such-flag']).message).toMatch(/Unknown option '--no-such-flag'/);
  });
});
