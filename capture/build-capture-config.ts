/**
 * Turns raw setting text from any adapter (flags/env, pod annotations, CNI config) into a
 * validated CaptureConfig, or one InvalidInput error naming every bad field and its source.
 * Defaults equal istio-iptables' own.
 */

import { type FieldProblem, invalidInput } from '../common/errors.js';
import type { CaptureConfig, Cidr, InterceptionMode, OwnerGroupFilter, Selection } from './capture-config.js';
import { CaptureConstants, InterceptionModes } from './capture-config.js';
import {
  type Parsed,
  parseBoolean,
  parseCidrItem,
  parseCidrList,
  parseCidrSelection,
  parseInterfaceList,
  parseMark,
  parseOwnerList,
  parsePort,
  parsePortList,
  parsePortSelection,
  parseRouteTable,
  splitList,
} from './capture-values.js';
import { cidrContains } from './ip-address.js';
import { MaxOwnerGroupsInclude } from './plan-outbound.js';

/** One raw value and where it came from, e.g. `{ text: "abc", source: "--proxy-uid" }`. */
export interface RawValue {
  readonly text: string;
  readonly source: string;
}

export const CaptureSettingKeys = [
  'proxyPort',
  'inboundCapturePort',
  'inboundTunnelPort',
  'proxyUids',
  'proxyGids',
  'inboundInterceptionMode',
  'inboundTproxyMark',
  'inboundTproxyRouteTable',
  'inboundPorts',
  'inboundPortsExclude',
  'outboundPortsInclude',
  'outboundPortsExclude',
  'outboundIpRangesInclude',
  'outboundIpRangesExclude',
  'excludeInterfaces',
  'kubeVirtInterfaces',
  'ownerGroupsInclude',
  'ownerGroupsExclude',
  'redirectDns',
  'captureAllDns',
  'dropInvalid',
  'dualStack',
  'ipv4LoopbackCidr',
  'nativeNftables',
] as const;

export type CaptureSettingKey = (typeof CaptureSettingKeys)[number];

export type RawCaptureSettings = Partial<Record<CaptureSettingKey, RawValue>>;

/** istio-iptables' defaults, as raw text so they go through the same parsers. */
export const CaptureDefaults: Readonly<Record<CaptureSettingKey, string>> = {
  proxyPort: '15001',
  inboundCapturePort: '15006',
  inboundTunnelPort: '15008',
  proxyUids: '1337',
  proxyGids: '', // empty: same as proxyUids
  inboundInterceptionMode: 'REDIRECT',
  inboundTproxyMark: '1337',
  inboundTproxyRouteTable: '133',
  inboundPorts: '',
  inboundPortsExclude: '',
  outboundPortsInclude: '',
  outboundPortsExclude: '',
  outboundIpRangesInclude: '',
  outboundIpRangesExclude: '',
  excludeInterfaces: '',
  kubeVirtInterfaces: '',
  ownerGroupsInclude: '*',
  ownerGroupsExclude: '',
  redirectDns: 'false',
  captureAllDns: 'false',
  dropInvalid: 'false',
  dualStack: 'false',
  ipv4LoopbackCidr: '127.0.0.1/32',
  nativeNftables: 'false',
};

function parseMode(text: string): Parsed<InterceptionMode> {
  const upper = text.trim().toUpperCase();
  const mode = InterceptionModes.find((m) => m === upper);
  return mode ? { ok: true, value: mode } : { ok: false, reason: `must be one of ${InterceptionModes.join(', ')}` };
}

export function buildCaptureConfig(raw: RawCaptureSettings): CaptureConfig {
  const problems: FieldProblem[] = [];

  function take<T>(key: CaptureSettingKey, parse: (text: string) => Parsed<T>, fallback: T): T {
    const given = raw[key];
    const text = given?.text ?? CaptureDefaults[key];
    const parsed = parse(text);
    if (parsed.ok) return parsed.value;
    problems.push({ source: given?.source ?? `default ${key}`, value: text, reason: parsed.reason });
    return fallback;
  }

  const noItems = { all: false, items: [] } as const;
  const proxyUids = take('proxyUids', (t) => parseOwnerList(t, { allowEmpty: false }), [] as string[]);
  const gidsGiven = take('proxyGids', (t) => parseOwnerList(t, { allowEmpty: true }), [] as string[]);

  const ownerGroups = buildOwnerGroupFilter(raw, problems);
  const ipv4LoopbackCidr = take('ipv4LoopbackCidr', parseLoopbackCidr, LOOPBACK_FALLBACK);

  const config: CaptureConfig = {
    proxyPort: take('proxyPort', parsePort, 0),
    inboundCapturePort: take('inboundCapturePort', parsePort, 0),
    inboundTunnelPort: take('inboundTunnelPort', parsePort, 0),
    proxyUids,
    proxyGids: gidsGiven.length > 0 ? gidsGiven : proxyUids,
    inboundInterceptionMode: take('inboundInterceptionMode', parseMode, 'REDIRECT'),
    inboundTproxyMark: take('inboundTproxyMark', parseMark, 0),
    inboundTproxyRouteTable: take('inboundTproxyRouteTable', parseRouteTable, 0),
    inboundPorts: take('inboundPorts', parsePortSelection, noItems as Selection<number>),
    inboundPortsExclude: take('inboundPortsExclude', parsePortList, []),
    outboundPortsInclude: take('outboundPortsInclude', parsePortList, []),
    outboundPortsExclude: take('outboundPortsExclude', parsePortList, []),
    outboundIpRangesInclude: take('outboundIpRangesInclude', parseCidrSelection, noItems as Selection<Cidr>),
    outboundIpRangesExclude: take('outboundIpRangesExclude', parseCidrList, []),
    excludeInterfaces: take('excludeInterfaces', parseInterfaceList, []),
    kubeVirtInterfaces: take('kubeVirtInterfaces', parseInterfaceList, []),
    ownerGroups,
    redirectDns: take('redirectDns', parseBoolean, false),
    captureAllDns: take('captureAllDns', parseBoolean, false),
    dropInvalid: take('dropInvalid', parseBoolean, false),
    dualStack: take('dualStack', parseBoolean, false),
    ipv4LoopbackCidr,
    nativeNftables: take('nativeNftables', parseBoolean, false),
  };

  if (config.inboundTproxyMark === CaptureConstants.outboundMark) {
    problems.push({
      source: raw.inboundTproxyMark?.source ?? 'default inboundTproxyMark',
      value: String(config.inboundTproxyMark),
      reason: `${CaptureConstants.outboundMark} is reserved for the proxy's outbound-to-inbound mark`,
    });
  }

  if (problems.length > 0) throw invalidInput(problems, 'capture settings');
  return config;
}

const LOOPBACK_RANGE: Cidr = { family: 4, text: '127.0.0.0/8', isLoopback: true };
const LOOPBACK_FALLBACK: Cidr = { family: 4, text: '127.0.0.1/32', isLoopback: true };

function parseLoopbackCidr(text: string): Parsed<Cidr> {
  const parsed = parseCidrItem(text.trim());
  if (!parsed.ok) return parsed;
  if (!cidrContains(LOOPBACK_RANGE, parsed.value)) return { ok: false, reason: 'must be an IPv4 range inside 127.0.0.0/8' };
  return parsed;
}

/** ISTIO_OUTBOUND_OWNER_GROUPS (include, default `*`) and ..._EXCLUDE: at most one may narrow. */
function buildOwnerGroupFilter(raw: RawCaptureSettings, problems: FieldProblem[]): OwnerGroupFilter {
  const include = raw.ownerGroupsInclude;
  const exclude = raw.ownerGroupsExclude;
  const includeItems = splitList(include?.text ?? '*');
  const excludeItems = splitList(exclude?.text ?? '');
  const includeAll = includeItems.length === 0 || (includeItems.length === 1 && includeItems[0] === '*');

  const check = (items: string[], value: RawValue | undefined): string[] | null => {
    const parsed = parseOwnerList(items.join(','), { allowEmpty: true });
    if (parsed.ok) return parsed.value;
    problems.push({ source: value?.source ?? 'owner groups', value: value?.text ?? '', reason: parsed.reason });
    return null;
  };

  if (!includeAll) {
    if (excludeItems.length > 0) {
      problems.push({
        source: exclude?.source ?? 'owner groups exclude',
        value: exclude?.text ?? '',
        reason: `cannot be combined with ${include?.source ?? 'the include list'}; set only one of them`,
      });
      return { mode: 'all' };
    }
    const groups = check(includeItems, include);
    if (groups && groups.length > MaxOwnerGroupsInclude) {
      problems.push({
        source: include?.source ?? 'owner groups',
        value: include?.text ?? '',
        reason: `names ${groups.length} groups; at most ${MaxOwnerGroupsInclude} fit in the one iptables rule they share`,
      });
      return { mode: 'all' };
    }
    return groups ? { mode: 'only', groups } : { mode: 'all' };
  }
  if (excludeItems.length > 0) {
    const groups = check(excludeItems, exclude);
    return groups ? { mode: 'except', groups } : { mode: 'all' };
  }
  return { mode: 'all' };
}
