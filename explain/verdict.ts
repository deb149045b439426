/**
 * A followed path in words: where the connection goes ("captured: redirected to the proxy's
 * outbound listener 15001 (original destination 10.1.2.3:443 kept)", "direct: exempt because the
 * socket runs as uid 1337", "DNS: redirected to the proxy's DNS listener 15053", "dropped by ..."),
 * the rule that decided it, and which setting to change for the other verdict. The words come from
 * the deciding rule's purpose (rule-purposes.ts) with the values the rule matched; a rule outrigger
 * did not plan is quoted as written. A redirect's listener is known by its purpose, or for Istio's
 * own rules (no comment) by Istio's chain names.
 */

import type { CaptureSettingKey } from '../capture/build-capture-config.js';
import { type RulePurpose, RulePurposes } from '../capture/rule-purposes.js';
import { type Connection, DefaultAppUser } from './connection.js';
import type { Disposition, PathRun, RuleRef } from './follow-packet.js';
import type { Term } from './path-model.js';
import { type SettingContext, settingName } from './setting-names.js';

export type VerdictKind = 'captured' | 'dns' | 'direct' | 'dropped' | 'rejected' | 'redirected' | 'forwarded' | 'unreachable' | 'unknown';
export type ListenerRole = 'outbound' | 'inbound' | 'dns' | 'other';

export interface Verdict {
  readonly kind: VerdictKind;
  readonly words: string;
  /** Where the proxy (or another local socket) receives it, when it was redirected or diverted. */
  readonly listener?: { readonly role: ListenerRole; readonly port: number };
  /** The rule that decided the verdict, if one did. */
  readonly decidedBy?: RuleRef;
  /** What to change to get the other verdict. */
  readonly change: readonly string[];
}

export interface VerdictContext {
  readonly connection: Connection;
  readonly settings: SettingContext;
  /** Purposes of our rules in the ruleset's tables of this family (what capture is configured). */
  readonly purposes: ReadonlySet<RulePurpose>;
}

const RolesByPurpose: Partial<Record<RulePurpose, ListenerRole>> = {
  'to-outbound-listener': 'outbound',
  'to-inbound-listener': 'inbound',
  'tproxy-to-inbound-listener': 'inbound',
  'dns-to-proxy': 'dns',
};

const RolesByChain: Readonly<Record<string, ListenerRole>> = {
  istio_redirect: 'outbound',
  istio_in_redirect: 'inbound',
  istio_tproxy: 'inbound',
  istio_output_dns: 'dns',
};

/** The listener Istio's chain of this name redirects to (`ISTIO_REDIRECT`, nft's `istio-redirect`). */
export function chainRole(chain: string): ListenerRole {
  return RolesByChain[chain.toLowerCase().replace(/-/g, '_')] ?? 'other';
}

export function roleOf(ref: RuleRef): ListenerRole {
  if (ref.rule.purpose) return RolesByPurpose[ref.rule.purpose] ?? 'other';
  return chainRole(ref.chain);
}

export function ruleLabel(ref: RuleRef): string {
  const where = ref.rule.origin.line !== undefined ? ` (line ${ref.rule.origin.line})` : '';
  return ref.rule.purpose ? `outrigger/${ref.rule.purpose}${where}` : `${JSON.stringify(ref.rule.origin.text)}${where}`;
}

const host = (address: string, port: number): string => `${address.includes(':') ? `[${address}]` : address}:${port}`;

type TermOf<K extends Term['kind']> = Term & { readonly kind: K };

function termOf<K extends Term['kind']>(ref: RuleRef | undefined, kind: K): TermOf<K> | undefined {
  return ref?.rule.terms.find((t): t is TermOf<K> => t.kind === kind);
}

/** The last rule before `target` that jumped into `chain` (the rule that chose capture). */
function entryRule(run: PathRun, target: RuleRef): RuleRef | undefined {
  let found: RuleRef | undefined;
  for (const step of run.steps) {
    if (step.kind === 'rule' && step.ref === target) break;
    if (step.kind === 'rule' && step.assumed !== false && step.ref.rule.actions.some((a) => (a.kind === 'jump' || a.kind === 'goto') && a.chain === target.chain)) found = step.ref;
  }
  return found;
}

/** The rule that let the connection through uncaptured: the last return/accept where capture happens (output, or prerouting inbound). */
function decisiveReturn(run: PathRun, direction: Connection['direction']): RuleRef | undefined {
  const hook = direction === 'outbound' ? 'output' : 'prerouting';
  let inHook = false;
  const candidates: RuleRef[] = [];
  for (const step of run.steps) {
    if (step.kind === 'hook') inHook = step.hook === hook && step.pass !== 'loopback';
    else if (inHook && step.kind === 'rule' && step.assumed !== false && step.ref.rule.actions.some((a) => a.kind === 'return' || a.kind === 'accept')) candidates.push(step.ref);
  }
  return [...candidates].reverse().find((r) => r.rule.purpose !== undefined) ?? candidates[candidates.length - 1];
}

function matchedPurpose(run: PathRun, purpose: RulePurpose): boolean {
  return run.steps.some((s) => s.kind === 'rule' && s.assumed !== false && s.ref.rule.purpose === purpose);
}

export function verdictOf(run: PathRun, context: VerdictContext): Verdict {
  const c = context.connection;
  const name = (key: CaptureSettingKey): string => settingName(key, context.settings);
  const d: Disposition = run.disposition;
  const original = host(c.destination, c.destinationPort);
  switch (d.kind) {
    case 'tproxy': {
      const role = roleOf(d.changedBy);
      const listener = { role, port: d.port };
      const change = capturedChange(run, d.changedBy, c, name);
      if (role === 'inbound') return { kind: 'captured', words: `captured: diverted with TPROXY to the proxy's inbound listener ${d.port} (original destination ${original} kept)`, listener, decidedBy: d.changedBy, change };
      return { kind: 'redirected', words: `redirected: diverted with TPROXY to port ${d.port} by ${ruleLabel(d.changedBy)}`, listener, decidedBy: d.changedBy, change };
    }
    case 'local':
    case 'remote': {
      if (d.changedBy) {
        const role = roleOf(d.changedBy);
        const listener = { role, port: d.port };
        const change = capturedChange(run, d.changedBy, c, name);
        if (d.kind === 'local' && role === 'outbound') return { kind: 'captured', words: `captured: redirected to the proxy's outbound listener ${d.port} (original destination ${original} kept)`, listener, decidedBy: d.changedBy, change };
        if (d.kind === 'local' && role === 'inbound') return { kind: 'captured', words: `captured: redirected to the proxy's inbound listener ${d.port} (original destination ${original} kept)`, listener, decidedBy: d.changedBy, change };
        if (d.kind === 'local' && role === 'dns') return { kind: 'dns', words: `DNS: redirected to the proxy's DNS listener ${d.port}`, listener, decidedBy: d.changedBy, change };
        const where = d.kind === 'local' ? `port ${d.port} in the pod` : host(d.address, d.port);
        return { kind: 'redirected', words: `redirected to ${where} by ${ruleLabel(d.changedBy)}, a rule outrigger did not plan`, ...(d.kind === 'local' ? { listener } : {}), decidedBy: d.changedBy, change: [`that rule is not outrigger's: change or remove it (${d.changedBy.source} table ${d.changedBy.table}, chain ${d.changedBy.chain})`] };
      }
      return directVerdict(run, context, name, d);
    }
    case 'dropped':
    case 'rejected': {
      const verb = d.kind;
      if (d.by) {
        const ours = d.by.rule.purpose ? `: ${RulePurposes[d.by.rule.purpose].explain}` : ', a rule outrigger did not plan';
        const change = d.by.rule.purpose === 'drop-invalid' ? [`turn off ${name('dropInvalid')} to let INVALID packets through`] : d.by.rule.purpose ? [] : [`that rule is not outrigger's: change or remove it (${d.by.source} table ${d.by.table}, chain ${d.by.chain})`];
        return { kind: verb, words: `${verb} by ${ruleLabel(d.by)}${ours}`, decidedBy: d.by, change };
      }
      return { kind: verb, words: `${verb} by the policy of chain ${d.policy?.chain ?? '?'} (table ${d.policy?.table.name ?? '?'})`, change: [] };
    }
    case 'forwarded':
      return { kind: 'forwarded', words: `not for this pod: ${d.address} is not one of its addresses, so the kernel would forward it (pods normally drop such packets)`, change: [] };
    case 'unreachable':
      return { kind: 'unreachable', words: `unreachable: the pod has no route to ${c.destination} (${d.reason}); the connection fails before any rule sees it`, change: [] };
    case 'unknown':
      return { kind: 'unknown', words: `unknown: ${ruleLabel(d.by)} decides, and what it does is not evaluated`, decidedBy: d.by, change: [] };
  }
}

function capturedChange(run: PathRun, redirect: RuleRef, c: Connection, name: (key: CaptureSettingKey) => string): string[] {
  const entry = entryRule(run, redirect);
  const purpose = redirect.rule.purpose === 'dns-to-proxy' ? 'dns-to-proxy' : (entry?.rule.purpose ?? redirect.rule.purpose);
  const max = c.destination.includes(':') ? 128 : 32;
  const range = termOf(entry, 'destination')?.cidrs[0];
  switch (purpose) {
    case 'outbound-all':
      return [`to send it directly: add ${c.destination}/${max} (or a range holding it) to ${name('outboundIpRangesExclude')}, or port ${c.destinationPort} to ${name('outboundPortsExclude')}`];
    case 'outbound-range-included':
      return [`to send it directly: remove ${range ?? 'its range'} from ${name('outboundIpRangesInclude')}, add ${c.destination}/${max} to ${name('outboundIpRangesExclude')}, or add port ${c.destinationPort} to ${name('outboundPortsExclude')}`];
    case 'outbound-port-included':
      return [`to send it directly: remove port ${c.destinationPort} from ${name('outboundPortsInclude')}, or add ${c.destination}/${max} to ${name('outboundIpRangesExclude')}`];
    case 'kubevirt-as-outbound':
      return [`it arrives on a VM interface, which goes to the outbound listener: remove ${c.interface ?? 'it'} from ${name('kubeVirtInterfaces')} to treat it as inbound`];
    case 'proxy-to-pod-ip':
      return [`the proxy's own calls to the pod's address always go to the inbound listener (except to the tunnel port, ${name('inboundTunnelPort')})`];
    case 'inbound-all-ports':
      return [`to let it reach the app directly: add port ${c.destinationPort} to ${name('inboundPortsExclude')}`];
    case 'inbound-port':
      return [`to let it reach the app directly: remove port ${c.destinationPort} from ${name('inboundPorts')}`];
    case 'dns-to-proxy':
      return [`to send DNS to ${c.destination} directly: turn off ${name('redirectDns')}`];
    default:
      return [];
  }
}

function directVerdict(run: PathRun, context: VerdictContext, name: (key: CaptureSettingKey) => string, d: Extract<Disposition, { kind: 'local' | 'remote' }>): Verdict {
  const c = context.connection;
  const by = decisiveReturn(run, c.direction);
  const dst = c.destination;
  const port = c.destinationPort;
  const reached = d.kind === 'local' ? `reaches ${host(d.address ?? dst, d.port)} in the pod without the proxy` : `goes out to ${host(d.address, d.port)} without the proxy`;
  const direct = (reason: string, change: string[], decidedBy = by): Verdict => ({ kind: 'direct', words: `direct: ${reason}`, ...(decidedBy ? { decidedBy } : {}), change });
  const purpose = by?.rule.purpose;
  if (by && purpose) {
    const owner = termOf(by, 'owner');
    const ownerText = owner ? `${owner.by} ${owner.ids.map((i) => (typeof i === 'string' ? i : i[0] === i[1] ? i[0] : `${i[0]}-${i[1]}`)).join(',')}` : '';
    const range = termOf(by, 'destination')?.cidrs.join(', ');
    const named = termOf(by, 'in-interface')?.names[0] ?? termOf(by, 'out-interface')?.names[0];
    const ifname = named ? `${named.name}${named.prefix ? '*' : ''}` : (c.interface ?? 'eth0');
    switch (purpose) {
      case 'proxy-own-traffic':
        return direct(`exempt because the socket runs as ${ownerText}`, [`to capture it: run it as another ${owner?.by ?? 'user'} than the proxy's (${name(owner?.by === 'gid' ? 'proxyGids' : 'proxyUids')})`]);
      case 'outbound-range-excluded':
        return direct(`${range} is excluded by ${name('outboundIpRangesExclude')}`, [`to capture it: remove ${range} from ${name('outboundIpRangesExclude')}`]);
      case 'outbound-port-excluded':
        return direct(`port ${port} is excluded by ${name('outboundPortsExclude')}`, [`to capture it: remove port ${port} from ${name('outboundPortsExclude')}`]);
      case 'localhost':
        return direct(`${dst} is localhost (${range}), which is never captured`, [`traffic to the loopback range ${range} is never captured (${name('ipv4LoopbackCidr')} sets the IPv4 range)`]);
      case 'app-loopback':
        return direct(`it goes over loopback from a user other than the proxy, which is not captured`, [`to capture loopback traffic, include a loopback range in ${name('outboundIpRangesInclude')}`]);
      case 'inbound-passthrough':
        return direct(`its source is the proxy's inbound passthrough address, which is never captured`, []);
      case 'owner-group-excluded':
        return direct(`the socket's group ${c.gid ?? DefaultAppUser.gid} is excluded by ${name('ownerGroupsExclude')}`, [`to capture it: remove group ${c.gid ?? DefaultAppUser.gid} from ${name('ownerGroupsExclude')}`]);
      case 'owner-group-not-captured':
        return direct(`the socket's group ${c.gid ?? DefaultAppUser.gid} is not in ${name('ownerGroupsInclude')}`, [`to capture it: add group ${c.gid ?? DefaultAppUser.gid} to ${name('ownerGroupsInclude')}`]);
      case 'exclude-interface':
        return direct(`interface ${ifname} is excluded by ${name('excludeInterfaces')}`, [`to capture it: remove ${ifname} from ${name('excludeInterfaces')}`]);
      case 'kubevirt-not-inbound':
        return direct(`interface ${ifname} is a VM interface (${name('kubeVirtInterfaces')}), not inbound traffic for the pod`, [`remove ${ifname} from ${name('kubeVirtInterfaces')} to treat it as inbound`]);
      case 'inbound-tunnel-bypass':
        return direct(`port ${port} is the inbound tunnel (HBONE) port, which is never captured`, [`the tunnel port is set by ${name('inboundTunnelPort')}`]);
      case 'inbound-port-excluded':
        return direct(`port ${port} is excluded by ${name('inboundPortsExclude')}`, [`to capture it: remove port ${port} from ${name('inboundPortsExclude')}`]);
      case 'ipv6-not-captured':
        return direct('the pod has no IPv6 capture, so IPv6 is never captured', ['the pod gets IPv6 capture when it has a global IPv6 address, or with proxy-init --ipv6 true']);
      default:
        return direct(`${RulePurposes[purpose].explain} (${ruleLabel(by)})`, []);
    }
  }
  if (by) return direct(`${ruleLabel(by)}, a rule outrigger did not plan, lets it through before capture (it ${reached})`, [`that rule is not outrigger's: change or remove it (${by.source} table ${by.table}, chain ${by.chain})`]);
  // No rule returned: capture's chain was entered and ended without a match, or there was none.
  if (c.direction === 'outbound') {
    const dns = c.destinationPort === 53 && !matchedPurpose(run, 'dns-to-proxy');
    const dnsHint = dns
      ? (context.purposes.has('dns-to-proxy')
        ? [`DNS is captured only to the resolv.conf nameservers: turn on ${name('captureAllDns')} to capture DNS to ${dst} too`]
        : [`to send DNS to the proxy's DNS listener: turn on ${name('redirectDns')}`])
      : [];
    const redirectChainEntered = run.steps.some((s) => s.kind === 'rule' && s.assumed !== false && s.ref.rule.actions.some((a) => (a.kind === 'jump' || a.kind === 'goto') && chainRole(a.chain) === 'outbound'));
    if (c.protocol === 'udp' && redirectChainEntered) {
      return direct(`outrigger captures TCP only (UDP only as DNS, with DNS capture); it ${reached}`, dnsHint);
    }
    if (matchedPurpose(run, 'capture-outbound')) {
      return direct(`${dst} is not in the captured ranges (${name('outboundIpRangesInclude')}); it ${reached}`, [`to capture it: add ${dst} (or a range holding it) to ${name('outboundIpRangesInclude')}`, ...dnsHint]);
    }
    return direct(`no capture rule applies to it${run.steps.some((s) => s.kind === 'rule') ? '' : ` (no rules for IPv${run.family} here)`}; it ${reached}`, dnsHint, undefined);
  }
  if (matchedPurpose(run, 'capture-inbound')) {
    return direct(`port ${port} is not among the captured inbound ports (${name('inboundPorts')}); it ${reached}`, [`to capture it: add port ${port} to ${name('inboundPorts')}`]);
  }
  return direct(`no inbound capture applies to it${run.steps.some((s) => s.kind === 'rule') ? '' : ` (no rules for IPv${run.family} here)`}; it ${reached}`, [`to capture it: set ${name('inboundPorts')} to "*" or list port ${port}`], undefined);
}
