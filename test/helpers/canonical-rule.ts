/**
 * A rule spelled the way the kernel gives it back in iptables-save, so that a planned rule and a
 * saved one compare equal exactly when iptables stores them as the same rule. It does what
 * iptables does when it stores a rule: header options (-s, -d, -i, -o, -p) first, in that order;
 * addresses masked to their prefix, `/0` dropped; the implicit `-m tcp`/`-m udp` that `--dport`
 * and `--sport` load; marks in hex with the default mask left out; owner names as numeric ids
 * (resolved as iptables resolves them, from the host's user and group databases); `--set-mark`
 * as `--set-xmark V/M`; CONNMARK's and TPROXY's default options written out; conntrack states in
 * the kernel's order; `--to-port` as `--to-ports`. The comment is kept (its text is how cleanup
 * finds outrigger's rules) but moved after the other matches, where it matches everything anyway.
 * An option or target it does not know is an error, never a guess: extend the tables below.
 */

import { readFileSync } from 'node:fs';
import { formatAddress, parseIp } from '../../capture/ip-address.js';
import { tokenize } from './restore-document.js';

export interface OwnerIds {
  /** Numeric id of a user name, as `--uid-owner NAME` resolves it; undefined if unknown. */
  readonly uid: (name: string) => number | undefined;
  /** Numeric id of a group name, as `--gid-owner NAME` resolves it. */
  readonly gid: (name: string) => number | undefined;
}

export interface HostOwners extends OwnerIds {
  readonly users: readonly string[];
  readonly groups: readonly string[];
}

function readIds(path: string): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id)) ids.set(name, Number(id));
  }
  return ids;
}

/** The host's users and groups (/etc/passwd, /etc/group): the names iptables can resolve. */
export function hostOwners(): HostOwners {
  const users = readIds('/etc/passwd');
  const groups = readIds('/etc/group');
  return { users: [...users.keys()], groups: [...groups.keys()], uid: (n) => users.get(n), gid: (n) => groups.get(n) };
}

export interface CanonicalOptions {
  readonly family: 4 | 6;
  readonly owners: OwnerIds;
}

const HeaderOptions: Readonly<Record<string, string>> = {
  '-s': '-s', '--source': '-s',
  '-d': '-d', '--destination': '-d',
  '-i': '-i', '--in-interface': '-i',
  '-o': '-o', '--out-interface': '-o',
  '-p': '-p', '--protocol': '-p',
};
const HeaderOrder = ['-s', '-d', '-i', '-o', '-p'];

/** Options of each match used by outrigger's rules, long aliases mapped to what iptables-save prints. */
const MatchOptions: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  tcp: { '--dport': '--dport', '--destination-port': '--dport', '--sport': '--sport', '--source-port': '--sport' },
  udp: { '--dport': '--dport', '--destination-port': '--dport', '--sport': '--sport', '--source-port': '--sport' },
  multiport: { '--dports': '--dports', '--destination-ports': '--dports', '--sports': '--sports', '--source-ports': '--sports', '--ports': '--ports' },
  owner: { '--uid-owner': '--uid-owner', '--gid-owner': '--gid-owner' },
  mark: { '--mark': '--mark' },
  connmark: { '--mark': '--mark' },
  conntrack: { '--ctstate': '--ctstate' },
  comment: { '--comment': '--comment' },
};

/** The order in which iptables prints conntrack states, whatever order they were given in. */
const CtStateOrder = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'];
const FULL_MASK = 0xffffffff;

interface Option {
  readonly negated: boolean;
  readonly name: string;
  readonly value: string;
}

interface Match {
  readonly name: string;
  readonly options: Option[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function number(text: string, what: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 0) throw new Error(`canonical-rule: ${what} ${JSON.stringify(text)} is not a number`);
  return value;
}

/** `V` or `V/M` (decimal or hex) as numbers; M defaults to `defaultMask`. */
function valueMask(text: string, defaultMask: number): [number, number] {
  const [value, mask] = text.split('/');
  return [number(value ?? '', 'mark'), mask === undefined ? defaultMask : number(mask, 'mask')];
}

function markText(text: string): string {
  const [value, mask] = valueMask(text, FULL_MASK);
  return mask === FULL_MASK ? hex(value) : `${hex(value)}/${hex(mask)}`;
}

function portsText(text: string): string {
  return text.split(',').map((item) => item.split(':').map((p) => String(number(p, 'port'))).join(':')).join(',');
}

/** An address or CIDR as iptables-save prints it (host bits cleared, prefix always written); null for `/0`. */
function addressText(text: string, family: 4 | 6): string | null {
  const [addressPart, prefixPart] = text.split('/');
  const address = parseIp(addressPart ?? '');
  if (!address) throw new Error(`canonical-rule: ${JSON.stringify(text)} is not an address`);
  if (address.family !== family) throw new Error(`canonical-rule: ${text} is not an IPv${family} address`);
  const prefix = prefixPart === undefined ? address.bytes.length * 8 : number(prefixPart, 'prefix');
  if (prefix === 0) return null;
  const bytes = address.bytes.map((byte, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - bits)) & 0xff);
  });
  return `${formatAddress({ family, bytes })}/${prefix}`;
}

function ownerText(option: string, text: string, owners: OwnerIds): string {
  if (/^\d+$/.test(text)) return String(Number(text));
  const id = option === '--uid-owner' ? owners.uid(text) : owners.gid(text);
  if (id === undefined) throw new Error(`canonical-rule: ${option} ${text}: no such ${option === '--uid-owner' ? 'user' : 'group'} on this host`);
  return String(id);
}

function optionValue(match: string, option: string, value: string, options: CanonicalOptions): string {
  switch (option) {
    case '--dport':
    case '--sport':
    case '--dports':
    case '--sports':
    case '--ports':
      return portsText(value);
    case '--uid-owner':
    case '--gid-owner':
      return ownerText(option, value, options.owners);
    case '--mark':
      return markText(value);
    case '--ctstate': {
      const states = value.toUpperCase().split(',');
      const unknown = states.filter((s) => !CtStateOrder.includes(s));
      if (unknown.length > 0) throw new Error(`canonical-rule: unknown conntrack state ${unknown.join(',')}`);
      return CtStateOrder.filter((s) => states.includes(s)).join(',');
    }
    case '--comment':
      return JSON.stringify(value);
    default:
      throw new Error(`canonical-rule: no canonical form for ${match} ${option}`);
  }
}

function targetText(name: string, args: readonly string[], family: 4 | 6): string {
  const given = new Map<string, string>();
  const flags = new Set<string>();
  const Flags = new Set(['--save-mark', '--restore-mark']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (Flags.has(arg)) flags.add(arg);
    else if (arg.startsWith('--') && i + 1 < args.length) given.set(arg === '--to-port' ? '--to-ports' : arg, args[++i] ?? '');
    else throw new Error(`canonical-rule: unexpected ${JSON.stringify(arg)} in target ${name}`);
  }
  const known = (allowed: readonly string[]): void => {
    const extra = [...given.keys(), ...flags].filter((k) => !allowed.includes(k));
    if (extra.length > 0) throw new Error(`canonical-rule: no canonical form for ${name} ${extra.join(' ')}`);
  };
  switch (name) {
    case 'REDIRECT':
      known(['--to-ports']);
      return given.has('--to-ports') ? `-j REDIRECT --to-ports ${(given.get('--to-ports') ?? '').split('-').map((p) => number(p, 'port')).join('-')}` : '-j REDIRECT';
    case 'MARK': {
      known(['--set-mark', '--set-xmark']);
      const setMark = given.get('--set-mark');
      const setXmark = given.get('--set-xmark');
      if ((setMark === undefined) === (setXmark === undefined)) throw new Error('canonical-rule: MARK needs exactly one of --set-mark, --set-xmark');
      // --set-mark V/M zeroes the bits of M and V, then sets V; iptables stores it as an xmark.
      const [value, mask] = valueMask(setMark ?? setXmark ?? '', FULL_MASK);
      return `-j MARK --set-xmark ${hex(value)}/${hex(setMark !== undefined ? (value | mask) >>> 0 : mask)}`;
    }
    case 'CONNMARK': {
      known(['--save-mark', '--restore-mark', '--nfmask', '--ctmask', '--mask']);
      if (flags.size !== 1) throw new Error('canonical-rule: CONNMARK needs exactly one of --save-mark, --restore-mark');
      const mask = given.get('--mask');
      const nfmask = number(given.get('--nfmask') ?? mask ?? String(FULL_MASK), 'mask');
      const ctmask = number(given.get('--ctmask') ?? mask ?? String(FULL_MASK), 'mask');
      return `-j CONNMARK ${[...flags][0]} --nfmask ${hex(nfmask)} --ctmask ${hex(ctmask)}`;
    }
    case 'TPROXY': {
      known(['--on-port', '--on-ip', '--tproxy-mark']);
      const port = String(number(given.get('--on-port') ?? '0', 'port'));
      const onIp = given.get('--on-ip') ?? (family === 4 ? '0.0.0.0' : '::');
      const parsed = parseIp(onIp);
      if (!parsed) throw new Error(`canonical-rule: TPROXY --on-ip ${onIp} is not an address`);
      const [value, mask] = given.has('--tproxy-mark') ? valueMask(given.get('--tproxy-mark') ?? '', FULL_MASK) : [0, 0];
      return `-j TPROXY --on-port ${port} --on-ip ${formatAddress(parsed)} --tproxy-mark ${hex(value)}/${hex(mask)}`;
    }
    case 'CT':
      known(['--zone']);
      return given.has('--zone') ? `-j CT --zone ${number(given.get('--zone') ?? '', 'zone')}` : '-j CT';
    default:
      if (args.length > 0) throw new Error(`canonical-rule: no canonical form for target ${name} with options`);
      return `-j ${name}`;
  }
}

/** A rule's match-and-target tokens (no `-A CHAIN`) in the kernel's spelling. */
export function canonicalRule(spec: readonly string[], options: CanonicalOptions): string {
  const header = new Map<string, { negated: boolean; value: string }>();
  const matches: Match[] = [];
  let target = '';
  let open: Match | null = null;
  let negated = false;
  for (let i = 0; i < spec.length; i++) {
    const token = spec[i] ?? '';
    if (token === '!') {
      negated = true;
      continue;
    }
    const headerOption = HeaderOptions[token];
    if (headerOption) {
      header.set(headerOption, { negated, value: spec[++i] ?? '' });
      negated = false;
      continue;
    }
    if (negated && !token.startsWith('--')) throw new Error(`canonical-rule: "!" before ${token} in ${spec.join(' ')}`);
    if (token === '-m' || token === '--match') {
      const name = spec[++i] ?? '';
      if (!MatchOptions[name]) throw new Error(`canonical-rule: no canonical form for match ${name}`);
      open = { name, options: [] };
      matches.push(open);
      continue;
    }
    if (token === '-j' || token === '--jump') {
      target = targetText(spec[i + 1] ?? '', spec.slice(i + 2), options.family);
      break;
    }
    if (!token.startsWith('--')) throw new Error(`canonical-rule: unexpected ${JSON.stringify(token)} in ${spec.join(' ')}`);
    // An option the open match does not know loads the protocol's match (`-p tcp --dport 80`).
    let owner: Match | null = open && MatchOptions[open.name]?.[token] ? open : null;
    if (!owner) {
      const protocol = header.get('-p')?.value.toLowerCase() ?? '';
      if (!MatchOptions[protocol]?.[token]) throw new Error(`canonical-rule: no match takes ${token} in ${spec.join(' ')}`);
      owner = matches.find((m) => m.name === protocol) ?? null;
      if (!owner) {
        owner = { name: protocol, options: [] };
        matches.push(owner);
      }
    }
    const name = MatchOptions[owner.name]?.[token] ?? token;
    owner.options.push({ negated, name, value: optionValue(owner.name, name, spec[++i] ?? '', options) });
    negated = false;
  }

  const parts: string[] = [];
  for (const name of HeaderOrder) {
    const entry = header.get(name);
    if (!entry) continue;
    const value = name === '-s' || name === '-d' ? addressText(entry.value, options.family) : name === '-p' ? entry.value.toLowerCase() : entry.value;
    if (value === null && !entry.negated) continue; // `-d 0.0.0.0/0` matches everything; iptables drops it
    parts.push(`${entry.negated ? '! ' : ''}${name} ${value ?? `${entry.value}`}`);
  }
  const ordered = [...matches.filter((m) => m.name !== 'comment'), ...matches.filter((m) => m.name === 'comment')];
  for (const match of ordered) {
    parts.push(`-m ${match.name}`, ...match.options.map((o) => `${o.negated ? '! ' : ''}${o.name} ${o.value}`));
  }
  if (target) parts.push(target);
  return parts.join(' ');
}

/** An iptables-save rule line (`-A CHAIN ...`) as `-A CHAIN <canonical rule>`. */
export function canonicalSaveLine(line: string, options: CanonicalOptions): string {
  const tokens = tokenize(line);
  if (tokens[0] !== '-A' || tokens[1] === undefined) throw new Error(`canonical-rule: not a saved rule: ${line}`);
  return `-A ${tokens[1]} ${canonicalRule(tokens.slice(2), options)}`;
}
