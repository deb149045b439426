/**
 * Whether one term matches a packet: true, false, or unknown with the reason (an owner name with
 * no number to compare, an address the explainer does not know, a source port that may or may not
 * be in a range). As the kernel: a term about another family or protocol does not match even when
 * negated (`ip daddr != X` never matches an IPv6 packet, `tcp dport != 53` never a UDP one); a
 * socket-owner term on a packet without a socket matches only iptables' negated form (xt_owner),
 * never nft's `meta skuid`.
 */

import type { IpFamily } from '../capture/capture-config.js';
import { parseIp } from '../capture/ip-address.js';
import { EphemeralPorts } from './connection.js';
import type { AddressType, InterfaceName, PortRange, Term } from './path-model.js';

/** An address the packet carries: known, or "one of the pod's own / the peer's, not loopback". */
export type PacketAddress =
  | { readonly text: string; readonly bytes: readonly number[]; readonly local: boolean | undefined }
  | { readonly text: null; readonly label: string; readonly local: boolean | undefined; readonly loopback: false };

export interface Packet {
  readonly family: IpFamily;
  readonly protocol: 'tcp' | 'udp';
  src: PacketAddress;
  dst: PacketAddress;
  /** null: an ephemeral port. */
  sport: number | null;
  dport: number;
  /** '' when the hook has none (output has no input interface). */
  iif: string;
  oif: string;
  mark: number;
  ctmark: number;
  zone: number;
  untracked: boolean;
  uid: number;
  gid: number;
  socket: boolean;
}

export type TermResult = true | false | { readonly unknown: string };

export function knownAddress(text: string, local: boolean | undefined): PacketAddress {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`internal: ${text} is not an address`);
  return { text, bytes: parsed.bytes, local };
}

function inCidr(bytes: readonly number[], cidr: string): boolean {
  const [address, prefixText] = cidr.split('/');
  const parsed = parseIp(address ?? '');
  if (!parsed || parsed.bytes.length !== bytes.length) return false;
  let bits = Number(prefixText ?? bytes.length * 8);
  for (let i = 0; i < bytes.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((parsed.bytes[i] ?? 0) & mask)) return false;
  }
  return true;
}

const isLoopbackCidr = (cidr: string): boolean => {
  const [address, prefix] = cidr.split('/');
  const parsed = parseIp(address ?? '');
  if (!parsed) return false;
  if (parsed.family === 4) return parsed.bytes[0] === 127 && Number(prefix) >= 8;
  return Number(prefix) === 128 && parsed.bytes.slice(0, 15).every((b) => b === 0) && parsed.bytes[15] === 1;
};
const isEverything = (cidr: string): boolean => cidr.endsWith('/0');

/** Whether an address is in any of the CIDRs; unknown for an unknown address unless the CIDRs settle it. */
function addressIn(address: PacketAddress, cidrs: readonly string[]): TermResult {
  if (address.text !== null) return cidrs.some((c) => inCidr(address.bytes, c));
  if (cidrs.some(isEverything)) return true;
  // An unknown address is never loopback: loopback ranges do not hold it.
  if (cidrs.every(isLoopbackCidr)) return false;
  return { unknown: `${address.label} is not known (is it in ${cidrs.join(', ')}?)` };
}

function inRanges(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some(([low, high]) => port >= low && port <= high);
}

function portIn(port: number | null, ranges: readonly PortRange[]): TermResult {
  if (port !== null) return inRanges(port, ranges);
  const [low, high] = EphemeralPorts;
  const overlap = ranges.some(([a, b]) => a <= high && b >= low);
  if (!overlap) return false;
  if (ranges.some(([a, b]) => a <= low && b >= high)) return true;
  return { unknown: `the source port is an ephemeral one (${low}-${high}), some of which are in ${ranges.map(([a, b]) => (a === b ? a : `${a}-${b}`)).join(',')}` };
}

function interfaceIs(name: string, patterns: readonly InterfaceName[]): boolean {
  return patterns.some((p) => (p.prefix ? name.startsWith(p.name) : name === p.name));
}

function negated(result: TermResult, negate: boolean): TermResult {
  if (typeof result !== 'boolean') return result;
  return negate ? !result : result;
}

function addressType(address: PacketAddress): AddressType | undefined {
  if (address.local === undefined) return undefined;
  return address.local ? 'local' : 'unicast';
}

/** `nft`: the term is in an nft table (nft's semantics where they differ from iptables'). */
export function matchTerm(term: Term, packet: Packet, nft: boolean): TermResult {
  switch (term.kind) {
    case 'family':
      return negated(packet.family === term.family, term.negate);
    case 'in-interface':
      return negated(interfaceIs(packet.iif, term.names), term.negate);
    case 'out-interface':
      return negated(interfaceIs(packet.oif, term.names), term.negate);
    case 'protocol':
      return negated(term.protocols.includes(packet.protocol), term.negate);
    case 'source':
    case 'destination': {
      if (term.family !== packet.family) return false;
      return negated(addressIn(term.kind === 'source' ? packet.src : packet.dst, term.cidrs), term.negate);
    }
    case 'source-port':
    case 'destination-port': {
      if (term.protocol !== 'any' && term.protocol !== packet.protocol) return false;
      return negated(term.kind === 'source-port' ? portIn(packet.sport, term.ranges) : inRanges(packet.dport, term.ranges), term.negate);
    }
    case 'owner': {
      if (!packet.socket) return nft ? false : term.negate;
      const id = term.by === 'uid' ? packet.uid : packet.gid;
      let result: TermResult = false;
      for (const item of term.ids) {
        if (typeof item === 'string') {
          result = { unknown: `the ${term.by} owner ${JSON.stringify(item)} is a name; its number is not known here` };
          continue;
        }
        if (id >= item[0] && id <= item[1]) return negated(true, term.negate);
      }
      return negated(result, term.negate);
    }
    case 'socket-exists':
      return negated(packet.socket, term.negate);
    case 'mark':
      return negated(((packet.mark & term.mask) >>> 0) === term.value, term.negate);
    case 'connection-mark':
      return negated(((packet.ctmark & term.mask) >>> 0) === term.value, term.negate);
    case 'conntrack-state':
      return negated(term.states.includes(packet.untracked ? 'UNTRACKED' : 'NEW'), term.negate);
    case 'address-type': {
      const type = addressType(term.of === 'source' ? packet.src : packet.dst);
      if (type === undefined) {
        const address = term.of === 'source' ? packet.src : packet.dst;
        return { unknown: `whether ${address.text ?? address.label} is one of the pod's own addresses is not known (give --pod-ip)` };
      }
      return negated(term.types.includes(type), term.negate);
    }
    case 'tcp-syn':
      if (packet.protocol !== 'tcp') return false;
      return negated(true, term.negate);
  }
}

/** All terms: false if any is false, else unknown if any is unknown, else true. */
export function matchTerms(terms: readonly Term[], packet: Packet, nft: boolean): TermResult {
  let unknown: TermResult = true;
  for (const term of terms) {
    const result = matchTerm(term, packet, nft);
    if (result === false) return false;
    if (result !== true && unknown === true) unknown = result;
  }
  return unknown;
}
