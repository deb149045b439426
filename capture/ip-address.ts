/**
 * Pure IPv4/IPv6 address and CIDR parsing with canonical formatting (RFC 5952 for IPv6), so the
 * core needs no I/O module. Used to validate user input and to render rules deterministically.
 */

import type { Cidr, IpFamily } from './capture-config.js';

export interface ParsedAddress {
  readonly family: IpFamily;
  /** 4 bytes for IPv4, 16 for IPv6. */
  readonly bytes: readonly number[];
}

const IPV4_OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIpv4(text: string): ParsedAddress | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => IPV4_OCTET.test(p))) return null;
  return { family: 4, bytes: parts.map(Number) };
}

export function parseIpv6(text: string): ParsedAddress | null {
  if (text.length === 0 || text.length > 45 || /[^0-9a-fA-F:.]/.test(text)) return null;
  let head = text;
  let tailBytes: number[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4, ::127.0.0.53) fills the last 32 bits.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (!v4) return null;
    tailBytes = [...v4.bytes];
    head = text.slice(0, lastColon + 1);
    // Keep a trailing '::' (compression marker); drop a lone separator colon.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const groupsWanted = 8 - tailBytes.length / 2;
  const doubleColon = head.indexOf('::');
  if (doubleColon !== head.lastIndexOf('::')) return null;
  const parseGroups = (s: string): number[] | null => {
    if (s === '') return [];
    const groups = s.split(':');
    if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
    return groups.map((g) => parseInt(g, 16));
  };
  let groups: number[];
  if (doubleColon >= 0) {
    const left = parseGroups(head.slice(0, doubleColon));
    const right = parseGroups(head.slice(doubleColon + 2));
    if (!left || !right || left.length + right.length >= groupsWanted) return null;
    groups = [...left, ...new Array<number>(groupsWanted - left.length - right.length).fill(0), ...right];
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== groupsWanted) return null;
    groups = all;
  }
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]).concat(tailBytes);
  return { family: 6, bytes };
}

export function parseIp(text: string): ParsedAddress | null {
  return parseIpv4(text) ?? parseIpv6(text);
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run compressed). */
export function formatAddress(address: ParsedAddress): string {
  if (address.family === 4) return address.bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((address.bytes[i] ?? 0) << 8) | (address.bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLength).join(':');
  return `${left}::${right}`;
}

function isLoopbackAddress(address: ParsedAddress): boolean {
  if (address.family === 4) return address.bytes[0] === 127;
  return address.bytes.slice(0, 15).every((b) => b === 0) && address.bytes[15] === 1;
}

function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bitsLeft = prefix - i * 8;
    if (bitsLeft >= 8) return b;
    if (bitsLeft <= 0) return 0;
    return b & ((0xff << (8 - bitsLeft)) & 0xff);
  });
}

/**
 * Parses `address/prefix`. The address keeps its host bits (`127.0.0.1/8` stays so, as Istio
 * writes it; iptables masks them when matching), only its spelling is made canonical.
 * Returns a reason string on failure.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  if (slash < 0) return 'not in CIDR form (address/prefix, e.g. 10.0.0.0/8)';
  const address = parseIp(text.slice(0, slash));
  if (!address) return 'not a valid IPv4 or IPv6 address';
  const prefixText = text.slice(slash + 1);
  const maxPrefix = address.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > maxPrefix) {
    return `prefix length must be 0-${maxPrefix}`;
  }
  const prefix = Number(prefixText);
  return { family: address.family, text: `${formatAddress(address)}/${prefix}`, isLoopback: isLoopbackAddress(address) };
}

/** Whether `inner` lies entirely inside `outer` (same family, longer or equal prefix). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family) return false;
  const [outerAddr, outerPrefix] = splitCidr(outer);
  const [innerAddr, innerPrefix] = splitCidr(inner);
  if (innerPrefix < outerPrefix) return false;
  const masked = maskBytes(innerAddr.bytes, outerPrefix);
  return masked.every((b, i) => b === outerAddr.bytes[i]);
}

function splitCidr(cidr: Cidr): [ParsedAddress, number] {
  const [addr, prefix] = cidr.text.split('/');
  const parsed = parseIp(addr ?? '');
  if (!parsed) throw new Error(`internal: unparsable canonical CIDR ${cidr.text}`);
  return [parsed, Number(prefix)];
}
