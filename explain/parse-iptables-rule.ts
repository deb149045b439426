/**
 * One `iptables-save` rule line (`-A CHAIN options...`, optionally after `[packets:bytes]` from
 * `iptables-save -c`) as a PathRule. Both dialects print the same option syntax (iptables-nft-save
 * and iptables-legacy-save 1.8): header options (`-s -d -i -o -p`, `!` before an option negates
 * it), `-m MODULE` with the module's options, then `-j TARGET` or `-g CHAIN` with the target's.
 * Modules and targets outrigger's rules use, and the common ones of other tools, are evaluated;
 * any other module becomes an unknown condition and any other target an unknown action, both
 * kept as written. Syntax it cannot read at all (a dangling `!`, a module without a name, a value
 * that is not a port or an address where one must be) is an error with the reason.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { CommentPrefix } from '../capture/render-restore.js';
import { isRulePurpose } from '../capture/rule-purposes.js';
import { parseAddressOrCidr, parseNumber32, parsePortRange, parseValueMask, protocolName } from './dump-text.js';
import { FullMask, iptablesInterface, type PathAction, type PathRule, type PortRange, type Term } from './path-model.js';
import { type Cursor, failRule, next, peek } from './rule-cursor.js';


function portRanges(text: string, option: string): PortRange[] {
  return text.split(',').map((item) => parsePortRange(item) ?? failRule(`${option} ${JSON.stringify(text)} is not a port, range or list of them`));
}

function ownerIds(text: string): (PortRange | string)[] {
  const range = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (range) return [[Number(range[1]), Number(range[2] ?? range[1])]];
  return [text];
}

const Module = {
  /** Options that take a value, per module we evaluate. */
  known: new Set(['tcp', 'udp', 'multiport', 'owner', 'mark', 'connmark', 'conntrack', 'state', 'comment', 'addrtype']),
};

const AddrTypes: Readonly<Record<string, 'local' | 'unicast' | 'other'>> = { LOCAL: 'local', UNICAST: 'unicast' };

export interface IptablesRuleContext {
  /** The dump's family when known (an address decides otherwise). */
  readonly family: IpFamily | undefined;
}

export interface ParsedIptablesRule {
  readonly chain: string;
  readonly rule: Omit<PathRule, 'origin'>;
  /** The family an address in the rule names, if any. */
  readonly addressFamily?: IpFamily;
}

/** Parses the tokens after an optional `[p:b]` counter: `-A CHAIN ...`. */
export function parseIptablesRule(tokens: readonly string[], context: IptablesRuleContext): ParsedIptablesRule {
  const c: Cursor = { tokens, at: 0 };
  if (/^\[\d+:\d+\]$/.test(peek(c) ?? '')) c.at++;
  const op = next(c, 'the rule');
  if (op !== '-A' && op !== '--append') failRule(`expected "-A CHAIN" (iptables-save output), found ${JSON.stringify(op)}`);
  const chain = next(c, '-A');
  const terms: Term[] = [];
  const unknown: string[] = [];
  const actions: PathAction[] = [];
  let protocol: string | undefined;
  let addressFamily: IpFamily | undefined;
  let comment: string | undefined;

  const address = (kind: 'source' | 'destination', text: string, negate: boolean): void => {
    const cidrs = text.split(',').map((item) => parseAddressOrCidr(item) ?? failRule(`${kind} ${JSON.stringify(text)} is not an address or CIDR`));
    const family = cidrs[0]?.family as IpFamily;
    if (cidrs.some((x) => x.family !== family)) failRule(`${kind} ${JSON.stringify(text)} mixes IPv4 and IPv6`);
    if (context.family !== undefined && family !== context.family) failRule(`${kind} ${text} is an IPv${family} address in an IPv${context.family} dump`);
    addressFamily = family;
    terms.push({ kind, family, cidrs: cidrs.map((x) => x.cidr), negate });
  };
  const portProtocol = (): 'tcp' | 'udp' | 'any' => (protocol === 'tcp' || protocol === 'udp' ? protocol : 'any');

  while (c.at < tokens.length) {
    let negate = false;
    if (peek(c) === '!') {
      negate = true;
      c.at++;
    }
    const option = next(c, 'the rule');
    switch (option) {
      case '-s': case '--source': address('source', next(c, option), negate); break;
      case '-d': case '--destination': address('destination', next(c, option), negate); break;
      case '-i': case '--in-interface': terms.push({ kind: 'in-interface', names: [iptablesInterface(next(c, option))], negate }); break;
      case '-o': case '--out-interface': terms.push({ kind: 'out-interface', names: [iptablesInterface(next(c, option))], negate }); break;
      case '-p': case '--protocol': {
        const name = protocolName(next(c, option));
        if (name === 'all' || name === '0') {
          if (negate) terms.push({ kind: 'protocol', protocols: [], negate: false }); // `! -p all` matches nothing
          break;
        }
        protocol = negate ? undefined : name;
        terms.push({ kind: 'protocol', protocols: [name], negate });
        break;
      }
      case '-f': case '--fragment': unknown.push(`${negate ? '! ' : ''}-f`); break;
      case '-m': case '--match': {
        if (negate) failRule('"!" cannot negate -m; put it before the module\'s option');
        const name = next(c, '-m');
        const start = c.at;
        const parsed = Module.known.has(name) ? parseModule(name, c, terms, { protocol: portProtocol(), onComment: (t) => (comment = t) }) : false;
        if (!parsed) {
          // Unknown module: every option up to the next -m/-j/-g or header option is its.
          c.at = start;
          const words = [`-m ${name}`];
          while (c.at < tokens.length && !['-m', '--match', '-j', '--jump', '-g', '--goto'].includes(peek(c) ?? '')) {
            const word = next(c, name);
            words.push(/\s/.test(word) ? JSON.stringify(word) : word);
          }
          unknown.push(words.join(' '));
        }
        break;
      }
      case '-j': case '--jump': {
        if (negate) failRule('"!" cannot negate -j');
        actions.push(parseTarget(next(c, '-j'), c));
        break;
      }
      case '-g': case '--goto': {
        if (negate) failRule('"!" cannot negate -g');
        actions.push({ kind: 'goto', chain: next(c, '-g') });
        break;
      }
      default:
        failRule(`unexpected ${JSON.stringify(option)}`);
    }
  }
  if (actions.length === 0) actions.push({ kind: 'continue' });
  const purpose = comment?.startsWith(CommentPrefix) ? comment.slice(CommentPrefix.length).split(' ')[0] : undefined;
  return {
    chain,
    rule: {
      terms,
      actions,
      unknown,
      ...(purpose !== undefined && isRulePurpose(purpose) ? { purpose } : {}),
      ...(comment !== undefined ? { comment } : {}),
    },
    ...(addressFamily !== undefined ? { addressFamily } : {}),
  };
}

interface ModuleContext {
  readonly protocol: 'tcp' | 'udp' | 'any';
  onComment(text: string): void;
}

/** Reads a known module's options into terms; false if it meets an option it does not evaluate (the caller keeps the module as unknown). */
function parseModule(name: string, c: Cursor, terms: Term[], context: ModuleContext): boolean {
  const added: Term[] = [];
  while (c.at < c.tokens.length) {
    let negate = false;
    let option = peek(c);
    if (option === '!' && (peek(c, 1) ?? '').startsWith('--')) {
      negate = true;
      option = peek(c, 1);
    }
    if (option === undefined || !option.startsWith('--')) break;
    // A module option, or the end of the module.
    const handled = moduleOption(name, option, negate, c, added, context);
    if (handled === 'not-mine') break;
    if (handled === 'unknown') return false;
  }
  terms.push(...added);
  return true;
}

type OptionResult = 'done' | 'not-mine' | 'unknown';

function moduleOption(name: string, option: string, negate: boolean, c: Cursor, added: Term[], context: ModuleContext): OptionResult {
  const take = (): string => {
    c.at += negate ? 2 : 1;
    return next(c, option);
  };
  const flag = (): void => {
    c.at += negate ? 2 : 1;
  };
  switch (name) {
    case 'tcp':
    case 'udp': {
      if (option === '--dport' || option === '--destination-port' || option === '--sport' || option === '--source-port') {
        const kind = option === '--dport' || option === '--destination-port' ? 'destination-port' : 'source-port';
        added.push({ kind, protocol: name, ranges: portRanges(take(), option), negate });
        return 'done';
      }
      if (name === 'tcp' && option === '--syn') {
        flag();
        added.push({ kind: 'tcp-syn', negate });
        return 'done';
      }
      if (name === 'tcp' && option === '--tcp-flags') {
        c.at += negate ? 2 : 1;
        const mask = next(c, option);
        const comparison = next(c, option);
        if (mask === 'FIN,SYN,RST,ACK' && comparison === 'SYN') added.push({ kind: 'tcp-syn', negate });
        else return 'unknown';
        return 'done';
      }
      return isModuleEnd(option) ? 'not-mine' : 'unknown';
    }
    case 'multiport': {
      const kinds: Record<string, 'destination-port' | 'source-port'> = { '--dports': 'destination-port', '--destination-ports': 'destination-port', '--sports': 'source-port', '--source-ports': 'source-port' };
      const kind = kinds[option];
      if (kind) {
        added.push({ kind, protocol: context.protocol, ranges: portRanges(take(), option), negate });
        return 'done';
      }
      return isModuleEnd(option) ? 'not-mine' : 'unknown';
    }
    case 'owner': {
      if (option === '--uid-owner' || option === '--gid-owner') {
        added.push({ kind: 'owner', by: option === '--uid-owner' ? 'uid' : 'gid', ids: ownerIds(take()), negate });
        return 'done';
      }
      if (option === '--socket-exists') {
        flag();
        added.push({ kind: 'socket-exists', negate });
        return 'done';
      }
      return isModuleEnd(option) ? 'not-mine' : 'unknown';
    }
    case 'mark':
    case 'connmark': {
      if (option !== '--mark') return isModuleEnd(option) ? 'not-mine' : 'unknown';
      const text = take();
      const value = parseValueMask(text) ?? failRule(`--mark ${JSON.stringify(text)} is not a mark (value or value/mask)`);
      added.push({ kind: name === 'mark' ? 'mark' : 'connection-mark', value: value[0], mask: value[1], negate });
      return 'done';
    }
    case 'conntrack':
    case 'state': {
      if ((name === 'conntrack' && option === '--ctstate') || (name === 'state' && option === '--state')) {
        added.push({ kind: 'conntrack-state', states: take().toUpperCase().split(',').sort(), negate });
        return 'done';
      }
      return isModuleEnd(option) ? 'not-mine' : 'unknown';
    }
    case 'comment': {
      if (option !== '--comment') return isModuleEnd(option) ? 'not-mine' : 'unknown';
      context.onComment(take());
      return 'done';
    }
    case 'addrtype': {
      if (option === '--src-type' || option === '--dst-type') {
        const types = take().split(',').map((t) => AddrTypes[t.toUpperCase()] ?? (t.toUpperCase() === 'LOCAL' ? 'local' : null));
        if (types.some((t) => t === null)) return 'unknown';
        added.push({ kind: 'address-type', of: option === '--src-type' ? 'source' : 'destination', types: types as ('local' | 'unicast')[], negate });
        return 'done';
      }
      return isModuleEnd(option) ? 'not-mine' : 'unknown';
    }
    default:
      return 'unknown';
  }
}

/** Long options that start something else (a header option spelled long), not a module option. */
function isModuleEnd(option: string): boolean {
  return ['--source', '--destination', '--in-interface', '--out-interface', '--protocol', '--match', '--jump', '--goto', '--fragment'].includes(option);
}

function targetOptions(c: Cursor): Map<string, string[]> {
  const options = new Map<string, string[]>();
  while (c.at < c.tokens.length) {
    const option = peek(c) ?? '';
    if (!option.startsWith('--')) break;
    c.at++;
    const values: string[] = [];
    while (c.at < c.tokens.length && !(peek(c) ?? '').startsWith('-')) values.push(next(c, option));
    options.set(option, values);
  }
  return options;
}

function parseTarget(target: string, c: Cursor): PathAction {
  const start = c.at;
  const options = targetOptions(c);
  const raw = (): string => [`-j ${target}`, ...c.tokens.slice(start, c.at)].join(' ');
  const one = (option: string): string | undefined => options.get(option)?.[0];
  const only = (...allowed: string[]): boolean => [...options.keys()].every((o) => allowed.includes(o));
  switch (target) {
    case 'RETURN': return { kind: 'return' };
    case 'ACCEPT': return { kind: 'accept' };
    case 'DROP': return { kind: 'drop' };
    case 'REJECT': return { kind: 'reject' };
    case 'LOG': case 'NFLOG': case 'TRACE': case 'ULOG': return { kind: 'log' };
    case 'NOTRACK': return { kind: 'notrack' };
    case 'MASQUERADE': case 'SNAT': return { kind: 'snat' };
    case 'REDIRECT': {
      const ports = one('--to-ports') ?? one('--to-port');
      if (!only('--to-ports', '--to-port', '--random')) return { kind: 'unknown', text: raw() };
      if (ports === undefined) return { kind: 'redirect' };
      const range = parsePortRange(ports) ?? failRule(`REDIRECT --to-ports ${JSON.stringify(ports)} is not a port`);
      return range[0] === range[1] ? { kind: 'redirect', port: range[0] } : { kind: 'unknown', text: raw() };
    }
    case 'TPROXY': {
      const portText = one('--on-port');
      const port = portText === undefined ? 0 : (parsePortRange(portText)?.[0] ?? failRule(`TPROXY --on-port ${JSON.stringify(portText)} is not a port`));
      const markText = one('--tproxy-mark');
      const markValue = markText === undefined ? undefined : (parseValueMask(markText) ?? failRule(`TPROXY --tproxy-mark ${JSON.stringify(markText)} is not a mark`));
      const ip = one('--on-ip');
      return {
        kind: 'tproxy',
        port,
        ...(ip !== undefined && ip !== '0.0.0.0' && ip !== '::' ? { address: ip } : {}),
        ...(markValue ? { mark: markValue[0], mask: markValue[1] } : {}),
      };
    }
    case 'MARK': {
      const xmark = one('--set-xmark');
      const set = one('--set-mark');
      if (xmark !== undefined && options.size === 1) {
        const [value, mask] = parseValueMask(xmark) ?? failRule(`MARK --set-xmark ${JSON.stringify(xmark)} is not a mark`);
        return { kind: 'set-mark', value, mask };
      }
      if (set !== undefined && options.size === 1) {
        const [value, mask] = parseValueMask(set) ?? failRule(`MARK --set-mark ${JSON.stringify(set)} is not a mark`);
        return { kind: 'set-mark', value, mask };
      }
      return { kind: 'unknown', text: raw() };
    }
    case 'CONNMARK': {
      const full = (option: string): boolean => {
        const text = one(option);
        return text === undefined || parseNumber32(text) === FullMask;
      };
      if (options.has('--save-mark') && only('--save-mark', '--nfmask', '--ctmask', '--mask') && full('--nfmask') && full('--ctmask') && full('--mask')) return { kind: 'save-mark' };
      if (options.has('--restore-mark') && only('--restore-mark', '--nfmask', '--ctmask', '--mask') && full('--nfmask') && full('--ctmask') && full('--mask')) return { kind: 'restore-mark' };
      const xmark = one('--set-xmark') ?? one('--set-mark');
      if (xmark !== undefined && options.size === 1) {
        const [value, mask] = parseValueMask(xmark) ?? failRule(`CONNMARK ${JSON.stringify(xmark)} is not a mark`);
        return { kind: 'set-connection-mark', value, mask };
      }
      return { kind: 'unknown', text: raw() };
    }
    case 'CT': {
      const zone = one('--zone');
      if (zone !== undefined && options.size === 1 && /^\d+$/.test(zone)) return { kind: 'conntrack-zone', zone: Number(zone) };
      if (options.has('--notrack') && options.size === 1) return { kind: 'notrack' };
      return { kind: 'unknown', text: raw() };
    }
    case 'DNAT': {
      const to = one('--to-destination');
      if (to === undefined || !only('--to-destination')) return { kind: 'unknown', text: raw() };
      const parsed = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+))?(?::(\d+))?$/.exec(to);
      if (!parsed) return { kind: 'unknown', text: raw() };
      const address = parsed[1] ?? parsed[2];
      return { kind: 'dnat', ...(address ? { address } : {}), ...(parsed[3] ? { port: Number(parsed[3]) } : {}) };
    }
    default:
      // An uppercase name with options is an extension target we do not evaluate; anything else is a chain.
      if (options.size > 0 || KnownTargetNames.has(target)) return { kind: 'unknown', text: raw() };
      return { kind: 'jump', chain: target };
  }
}

/** Extension targets without options that must not be taken for a chain of the same name. */
const KnownTargetNames = new Set(['QUEUE', 'NFQUEUE', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HL', 'TCPMSS', 'SECMARK', 'CONNSECMARK', 'AUDIT', 'CHECKSUM', 'IDLETIMER', 'LED', 'SYNPROXY', 'TEE', 'NETMAP', 'CLUSTERIP', 'HMARK', 'RATEEST', 'TCPOPTSTRIP']);
