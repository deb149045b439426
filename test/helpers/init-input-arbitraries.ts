/**
 * fast-check arbitraries of valid `outrigger init` inputs, as a user writes them: istio-iptables
 * flags (long, short, `--long=value` or one of the flag's environment variables, from the
 * project's own flag table), the settings Istio reads only from the environment, the pod's
 * resolv.conf and whether the pod has a global IPv6 address. Values cover the unusual corners:
 * IPv6 CIDRs in several spellings (compressed, full, upper case, with an IPv4 tail, host bits
 * set, /0), loopback ranges, owner names and numeric ids up to 2^32-2, owner-group include or
 * exclude, interface names with `.`, `@`, `-` and the `+` wildcard, TPROXY marks and route tables
 * up to 2^32-1, DNS capture with and without capture-all, drop-invalid, a custom IPv4 loopback
 * range, dual-stack, and owner-group include lists up to the longest outrigger accepts. Every
 * input is valid: owner names are the host's own (iptables resolves them) and a user name
 * without `-g` is also a group name (it then doubles as the gid).
 */

import fc from 'fast-check';
import type { CaptureSettingKey } from '../../capture/build-capture-config.js';
import { CaptureEnvOnly, type CaptureFlag, CaptureFlags } from '../../capture/capture-flags.js';
import { parseOwner } from '../../capture/capture-values.js';
import { formatAddress } from '../../capture/ip-address.js';
import { MaxOwnerGroupsInclude } from '../../capture/plan-outbound.js';

export interface InitInput {
  /** `outrigger init` arguments (capture flags and --ipv6). */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The pod's resolv.conf: where --redirect-dns finds the nameservers to capture. */
  readonly resolvConf: string;
  /** Whether the pod has a global IPv6 address (what `--ipv6 auto` looks at). */
  readonly globalIpv6: boolean;
}

export interface HostNames {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

const commaList = (items: fc.Arbitrary<string>, min = 0, max = 3): fc.Arbitrary<string> =>
  fc.tuple(fc.array(items, { minLength: min, maxLength: max }), fc.constantFrom(',', ', ', ' ,'), fc.boolean())
    .map(([list, separator, trailing]) => `${list.join(separator)}${trailing && list.length > 0 ? ',' : ''}`);

const port = fc.oneof(fc.constantFrom(1, 53, 80, 15001, 15006, 15008, 15053, 15090, 65535), fc.integer({ min: 1, max: 65535 })).map(String);
const byte = fc.oneof(fc.constantFrom(0, 1, 127, 255), fc.integer({ min: 0, max: 255 }));

const ipv4 = fc.tuple(byte, byte, byte, byte).map((b) => b.join('.'));
const ipv4Cidr = fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`);
const loopbackV4 = fc.tuple(byte, byte, byte, fc.integer({ min: 8, max: 32 })).map(([b, c, d, p]) => `127.${b}.${c}.${d}/${p}`);

const ipv6Bytes = fc.oneof(
  fc.array(byte, { minLength: 16, maxLength: 16 }),
  fc.array(byte, { minLength: 12, maxLength: 12 }).map((rest) => [0x20, 0x01, 0x0d, 0xb8, ...rest]),
  fc.array(byte, { minLength: 4, maxLength: 4 }).map((v4) => [...new Array<number>(10).fill(0), 0xff, 0xff, ...v4]),
  fc.constantFrom([...new Array<number>(15).fill(0), 1], new Array<number>(16).fill(0), [0xfe, 0x80, ...new Array<number>(13).fill(0), 9]),
);

/** One IPv6 address in one of the spellings iptables (inet_pton) and outrigger both accept. */
function spellIpv6(bytes: readonly number[], style: 'compressed' | 'full' | 'padded' | 'upper' | 'ipv4-tail'): string {
  const groups = Array.from({ length: 8 }, (_, i) => (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16));
  switch (style) {
    case 'full':
      return groups.join(':');
    case 'padded':
      return groups.map((g) => g.padStart(4, '0')).join(':');
    case 'upper':
      return formatAddress({ family: 6, bytes }).toUpperCase();
    case 'ipv4-tail':
      return `${groups.slice(0, 6).join(':')}:${bytes.slice(12).join('.')}`;
    default:
      return formatAddress({ family: 6, bytes });
  }
}

const ipv6 = fc.tuple(ipv6Bytes, fc.constantFrom('compressed', 'full', 'padded', 'upper', 'ipv4-tail') as fc.Arbitrary<Parameters<typeof spellIpv6>[1]>)
  .map(([bytes, style]) => spellIpv6(bytes, style));
const ipv6Cidr = fc.tuple(ipv6, fc.oneof(fc.constantFrom(0, 32, 64, 128), fc.integer({ min: 0, max: 128 }))).map(([a, p]) => `${a}/${p}`);
const cidr = fc.oneof({ weight: 3, arbitrary: ipv4Cidr }, { weight: 3, arbitrary: ipv6Cidr }, { weight: 1, arbitrary: loopbackV4 }, { weight: 1, arbitrary: fc.constant('::1/128') });

/** Linux interface names: up to 15 bytes, optionally ending in iptables' `+` wildcard. */
const interfaceName = fc.tuple(
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzEXY0123456789_.@-'), minLength: 1, maxLength: 15 }),
  fc.boolean(),
).map(([name, wildcard]) => `${name}${wildcard && name.length < 15 ? '+' : ''}`).filter((name) => name !== '.' && name !== '..');

const numericId = fc.oneof(fc.constantFrom(0, 1, 1337, 65534, 4294967294), fc.integer({ min: 0, max: 4294967294 })).map(String);
const ownerIds = (names: readonly string[]): fc.Arbitrary<string> => (names.length > 0 ? fc.oneof(numericId, fc.constantFrom(...names)) : numericId);

const mark = fc.oneof(fc.constantFrom(1, 1337, 0x80000000, 0xffffffff), fc.integer({ min: 1, max: 0xffffffff })).filter((m) => m !== 1338).map(String);
const routeTable = fc.oneof(fc.constantFrom(1, 133, 252, 256, 0xffffffff), fc.integer({ min: 1, max: 0xffffffff })).filter((t) => ![253, 254, 255].includes(t)).map(String);

// Environment variables take the lenient words; flag values only Go's strconv.ParseBool spellings, as pflag.
const trueWord = fc.constantFrom('true', '1', 'yes', 'on', 't', 'TRUE');
const falseWord = fc.constantFrom('false', '0', 'no', 'off', 'f');
const flagTrueWord = fc.constantFrom('1', 't', 'T', 'TRUE', 'true', 'True');
const flagFalseWord = fc.constantFrom('0', 'f', 'F', 'FALSE', 'false', 'False');

/** How a flag's value is written: as its own argument, `--long=value`, or an environment variable. */
interface Spelling {
  readonly form: number;
  readonly envIndex: number;
}
const spelling: fc.Arbitrary<Spelling> = fc.record({ form: fc.nat({ max: 3 }), envIndex: fc.nat({ max: 3 }) });

function spellString(flag: CaptureFlag, value: string, how: Spelling, argv: string[], env: Record<string, string>): void {
  const envName = flag.env[how.envIndex % flag.env.length];
  // An environment variable set to '' counts as unset, so an empty value is always a flag.
  if (how.form === 3 && envName && value !== '') {
    env[envName] = value;
    return;
  }
  // util.parseArgs refuses a separate value that starts with '-' (pflag takes it): `--long=-x` only.
  if (how.form === 2 || value.startsWith('-')) argv.push(`--${flag.long}=${value}`);
  else if (how.form === 1 && flag.short) argv.push(`-${flag.short}`, value);
  else argv.push(`--${flag.long}`, value);
}

function spellBoolean(flag: CaptureFlag, value: boolean, words: { env: string; flag: string }, how: Spelling, argv: string[], env: Record<string, string>): void {
  const envName = flag.env[how.envIndex % flag.env.length];
  if (how.form === 3 && envName) env[envName] = words.env;
  else if (how.form === 2 || (how.form === 1 && !value)) argv.push(`--${flag.long}=${words.flag}`);
  else if (value) argv.push(`--${flag.long}`);
  // false, form 0: the flag is left out (its default)
}

type StringSettings = Partial<Record<CaptureSettingKey, string>>;

/** Owner groups from the environment: include, exclude, or `*` with exclude (never both narrowing). */
function ownerGroups(groups: readonly string[]): fc.Arbitrary<Record<string, string>> {
  const list = commaList(ownerIds(groups), 1, 3);
  // Include lists share one rule (`-m owner ! --gid-owner G` per group): also long ones, up to the limit.
  const longList = fc.array(ownerIds(groups), { minLength: MaxOwnerGroupsInclude - 8, maxLength: MaxOwnerGroupsInclude }).map((ids) => ids.join(','));
  return fc.oneof(
    fc.constant({}),
    list.map((text) => ({ ISTIO_OUTBOUND_OWNER_GROUPS: text })),
    longList.map((text) => ({ ISTIO_OUTBOUND_OWNER_GROUPS: text })),
    list.map((text) => ({ ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: text })),
    list.map((text) => ({ ISTIO_OUTBOUND_OWNER_GROUPS: '*', ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE: text })),
  );
}

const resolvConfLine = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.oneof(ipv4, fc.constantFrom('127.0.0.53', '10.96.0.10')), fc.constantFrom(' ', '\t', '  ')).map(([a, s]) => `nameserver${s}${a}`) },
  { weight: 3, arbitrary: fc.tuple(ipv6, fc.constantFrom('', '%eth0', '%2')).map(([a, zone]) => `nameserver ${a}${zone}`) },
  { weight: 1, arbitrary: fc.constantFrom('# generated', 'search svc.cluster.local cluster.local', 'options ndots:5', 'nameserver not-an-address', 'nameserver', '') },
);

export function initInput(hostNames: HostNames): fc.Arbitrary<InitInput> {
  // Only names outrigger accepts (a host may have others, e.g. with capitals).
  const accepted = (list: readonly string[]) => list.filter((n) => !/^\d+$/.test(n) && parseOwner(n).ok);
  const names = { users: accepted(hostNames.users), groups: accepted(hostNames.groups) };
  const bothNames = names.users.filter((n) => names.groups.includes(n));
  const gids = commaList(ownerIds(names.groups), 0, 3);
  // Without -g the uids are also the gids, so a user name must then be a group name too.
  const proxyIds = fc.option(gids, { nil: undefined }).chain((gidText) =>
    commaList(ownerIds(gidText && /[^ ,]/.test(gidText) ? names.users : bothNames), 1, 3).map((uidText) => ({ proxyUids: uidText, proxyGids: gidText })),
  );
  const settings: fc.Arbitrary<StringSettings> = fc.record(
    {
      proxyPort: port,
      inboundCapturePort: port,
      inboundTunnelPort: port,
      inboundInterceptionMode: fc.constantFrom('REDIRECT', 'TPROXY', 'tproxy', 'Redirect'),
      inboundTproxyMark: mark,
      inboundTproxyRouteTable: routeTable,
      inboundPorts: fc.oneof(fc.constant('*'), commaList(port)),
      inboundPortsExclude: commaList(port),
      outboundPortsInclude: commaList(port),
      outboundPortsExclude: commaList(port),
      outboundIpRangesInclude: fc.oneof(fc.constant('*'), commaList(cidr, 0, 4)),
      outboundIpRangesExclude: commaList(cidr, 0, 4),
      excludeInterfaces: commaList(interfaceName, 0, 2),
      kubeVirtInterfaces: commaList(interfaceName, 0, 2),
    },
    { requiredKeys: [] },
  );
  // DNS capture in its four states, equally often (capture-all alone changes nothing).
  const dns = fc.constantFrom<[boolean | undefined, boolean | undefined]>([undefined, undefined], [false, true], [true, false], [true, true]);
  const booleans = fc.tuple(dns, fc.record({ dropInvalid: fc.boolean(), dualStack: fc.boolean() }, { requiredKeys: [] }))
    .map(([[redirectDns, captureAllDns], rest]) => ({
      ...(redirectDns !== undefined ? { redirectDns } : {}),
      ...(captureAllDns !== undefined ? { captureAllDns } : {}),
      ...rest,
    }) as Partial<Record<'redirectDns' | 'captureAllDns' | 'dropInvalid' | 'dualStack', boolean>>);
  const spellings = fc.array(spelling, { minLength: CaptureFlags.length, maxLength: CaptureFlags.length });
  const words = fc.array(fc.tuple(trueWord, falseWord, flagTrueWord, flagFalseWord), { minLength: CaptureFlags.length, maxLength: CaptureFlags.length });

  return fc.record({
    settings,
    proxyIds,
    booleans,
    spellings,
    words,
    groupsEnv: ownerGroups(names.groups),
    loopback: fc.option(loopbackV4, { nil: undefined }),
    ipv6Mode: fc.constantFrom('true', 'false', 'auto'),
    globalIpv6: fc.boolean(),
    resolvConf: fc.array(resolvConfLine, { maxLength: 5 }).map((lines) => `${lines.join('\n')}\n`),
  }).map((g) => {
    const argv: string[] = [];
    const env: Record<string, string> = { ...g.groupsEnv };
    const values: StringSettings = { ...g.settings, proxyUids: g.proxyIds.proxyUids, ...(g.proxyIds.proxyGids !== undefined ? { proxyGids: g.proxyIds.proxyGids } : {}) };
    CaptureFlags.forEach((flag, i) => {
      const how = g.spellings[i] ?? { form: 0, envIndex: 0 };
      if (flag.kind === 'boolean') {
        const value = g.booleans[flag.setting as keyof typeof g.booleans];
        const [yes, no, flagYes, flagNo] = g.words[i] ?? ['true', 'false', 'true', 'false'];
        if (value !== undefined) spellBoolean(flag, value, value ? { env: yes, flag: flagYes } : { env: no, flag: flagNo }, how, argv, env);
        return;
      }
      const value = values[flag.setting];
      if (value !== undefined) spellString(flag, value, how, argv, env);
    });
    const loopbackEnv = CaptureEnvOnly.find((e) => e.setting === 'ipv4LoopbackCidr')?.env;
    if (g.loopback !== undefined && loopbackEnv) env[loopbackEnv] = g.loopback;
    argv.push('--ipv6', g.ipv6Mode);
    return { argv, env, resolvConf: g.resolvConf, globalIpv6: g.globalIpv6 };
  });
}
