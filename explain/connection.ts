/**
 * The connection the explainer follows (its first packet: conntrack NEW) and the facts about the
 * pod it may need: the pod's own addresses (what is local), each interface's addresses (where a
 * REDIRECT in prerouting sends a packet) and, for a live namespace, the route the kernel picks.
 * Unknown facts stay unknown: a missing source address is "one of the pod's own, not loopback",
 * a missing source port is an ephemeral one (32768-60999, Linux's default range).
 */

import type { IpFamily } from '../capture/capture-config.js';
import { formatAddress, parseIp } from '../capture/ip-address.js';

export type Direction = 'outbound' | 'inbound';

export interface Connection {
  readonly direction: Direction;
  readonly protocol: 'tcp' | 'udp';
  readonly destination: string;
  readonly destinationPort: number;
  /** The peer (inbound) or the socket's address (outbound); unknown when absent. */
  readonly source?: string;
  /** Unknown (an ephemeral port) when absent. */
  readonly sourcePort?: number;
  /** Outbound: the socket's owner. */
  readonly uid?: number;
  readonly gid?: number;
  /** Inbound: where the packet arrives. Outbound: where it leaves when not local (unknown: the route's, else eth0). */
  readonly interface?: string;
}

export interface InterfaceAddresses {
  readonly name: string;
  /** In the kernel's order (the first of a family is the primary one). */
  readonly addresses: readonly string[];
}

export interface PodFacts {
  /** Every interface's addresses (live namespace) or the pod's IPs (--pod-ip) on the default interface. */
  readonly interfaces?: readonly InterfaceAddresses[];
  /** Outbound: the kernel's route to the destination (live namespace). */
  readonly route?: { readonly interface: string; readonly source?: string; readonly local: boolean; /** The kernel has no route: why (`Network is unreachable`). */ readonly unreachable?: string };
  /** Whether `interfaces` lists every address of the pod (live): then an address not listed is not local. */
  readonly addressesComplete?: boolean;
  /**
   * The transparent (IP_TRANSPARENT) sockets listening on every address, when known. TPROXY hands a
   * packet only to such a socket: without one iptables' TPROXY drops the packet and nft's tproxy
   * statement ends its rule. Unknown (the usual case: the kernel does not show the flag): TPROXY is
   * assumed to find one (the proxy's inbound listener), and the explanation says so.
   */
  readonly transparentListeners?: readonly { readonly family: IpFamily; readonly port: number }[];
}

export const EphemeralPorts: readonly [number, number] = [32768, 60999];
export const DefaultInterface = 'eth0';
/** The default socket owner of an outbound connection: an app user, not the proxy. */
export const DefaultAppUser = { uid: 1000, gid: 1000 } as const;

export function familyOf(address: string): IpFamily | undefined {
  return parseIp(address)?.family;
}

export function canonicalAddress(address: string): string | undefined {
  const parsed = parseIp(address);
  return parsed ? formatAddress(parsed) : undefined;
}

export function isLoopbackAddress(address: string): boolean {
  const parsed = parseIp(address);
  if (!parsed) return false;
  if (parsed.family === 4) return parsed.bytes[0] === 127;
  return parsed.bytes.slice(0, 15).every((b) => b === 0) && parsed.bytes[15] === 1;
}

/** Whether `address` is the pod's own: loopback always; listed addresses; else unknown unless the list is complete. */
export function isLocalAddress(address: string, facts: PodFacts): boolean | undefined {
  if (isLoopbackAddress(address)) return true;
  const canonical = canonicalAddress(address);
  if ((facts.interfaces ?? []).some((i) => i.addresses.some((a) => canonicalAddress(a) === canonical))) return true;
  return facts.addressesComplete ? false : undefined;
}

/** The primary address of `family` on an interface, if known. */
export function primaryAddress(facts: PodFacts, name: string, family: IpFamily): string | undefined {
  return facts.interfaces?.find((i) => i.name === name)?.addresses.find((a) => familyOf(a) === family);
}

export function describeConnection(c: Connection): string {
  const host = (address: string, port?: number): string => {
    const shown = address.includes(':') ? `[${address}]` : address;
    return port === undefined ? shown : `${shown}:${port}`;
  };
  if (c.direction === 'outbound') {
    const owner = `uid ${c.uid ?? DefaultAppUser.uid} gid ${c.gid ?? DefaultAppUser.gid}`;
    return `outbound ${c.protocol} to ${host(c.destination, c.destinationPort)} from a socket of ${owner}${c.source ? ` at ${host(c.source, c.sourcePort)}` : ''}`;
  }
  return `inbound ${c.protocol} to ${host(c.destination, c.destinationPort)} from ${c.source ? host(c.source, c.sourcePort) : 'a peer'} on ${c.interface ?? DefaultInterface}`;
}
