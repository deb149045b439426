/**
 * Parsers for the raw text of each capture setting (`15001`, `10.0.0.0/8,*`, `eth0,eth1`).
 * Each returns the parsed value or a reason; `build-capture-config.ts` collects the reasons of
 * every field so one error names all bad inputs. Lists are comma-separated; empty items are
 * ignored (`6000,7000,` is two ports), as istio-iptables does.
 */

import type { Cidr, Selection } from './capture-config.js';
import { parseCidr } from './ip-address.js';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

export function splitList(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** Parses every item; fails with the first bad item named. */
function parseEach<T>(items: readonly string[], parseItem: (item: string) => Parsed<T>): Parsed<T[]> {
  const values: T[] = [];
  for (const item of items) {
    const parsed = parseItem(item);
    if (!parsed.ok) return fail(items.length > 1 ? `item ${JSON.stringify(item)}: ${parsed.reason}` : parsed.reason);
    values.push(parsed.value);
  }
  return ok(values);
}

export function parsePort(text: string): Parsed<number> {
  const trimmed = text.trim();
  if (!/^\d{1,5}$/.test(trimmed)) return fail('must be a port number 1-65535');
  const port = Number(trimmed);
  return port >= 1 && port <= 65535 ? ok(port) : fail('must be a port number 1-65535');
}

/** A list of ports with no wildcard; `*` is refused by name. */
export function parsePortList(text: string): Parsed<number[]> {
  const items = splitList(text);
  if (items.includes('*')) return fail('the wildcard "*" is not allowed here; list the ports');
  return parseEach(items, parsePort);
}

/** `*` alone means every port; otherwise a list. */
export function parsePortSelection(text: string): Parsed<Selection<number>> {
  const items = splitList(text);
  if (items.length === 1 && items[0] === '*') return ok({ all: true });
  if (items.includes('*')) return fail('"*" must stand alone, not inside a list');
  const ports = parseEach(items, parsePort);
  return ports.ok ? ok({ all: false, items: ports.value }) : ports;
}

export function parseCidrItem(text: string): Parsed<Cidr> {
  const result = parseCidr(text);
  return typeof result === 'string' ? fail(result) : ok(result);
}

export function parseCidrList(text: string): Parsed<Cidr[]> {
  const items = splitList(text);
  if (items.includes('*')) return fail('the wildcard "*" is not allowed here; list the CIDRs');
  return parseEach(items, parseCidrItem);
}

export function parseCidrSelection(text: string): Parsed<Selection<Cidr>> {
  const items = splitList(text);
  if (items.length === 1 && items[0] === '*') return ok({ all: true });
  if (items.includes('*')) return fail('"*" must stand alone, not inside a list');
  const cidrs = parseEach(items, parseCidrItem);
  return cidrs.ok ? ok({ all: false, items: cidrs.value }) : cidrs;
}

/**
 * Linux interface names: 1-15 bytes, no '/', whitespace or ':'; iptables allows a trailing '+'
 * as a prefix wildcard (`veth+`).
 */
export function parseInterfaceName(text: string): Parsed<string> {
  if (!/^[A-Za-z0-9_.@-]{1,15}\+?$/.test(text) || text.length > 15 || text === '.' || text === '..') {
    return fail('not a valid interface name (1-15 characters: letters, digits, "_", ".", "@", "-"; optional trailing "+")');
  }
  return ok(text);
}

export function parseInterfaceList(text: string): Parsed<string[]> {
  const items = splitList(text);
  if (items.includes('*')) return fail('the wildcard "*" is not allowed here; list the interfaces');
  return parseEach(items, parseInterfaceName);
}

const MAX_ID = 4294967294; // (uid_t)-1 is "no user"

/** A numeric uid/gid or a user/group name (iptables' owner match resolves names itself). */
export function parseOwner(text: string): Parsed<string> {
  if (/^\d+$/.test(text)) {
    return Number(text) <= MAX_ID ? ok(String(Number(text))) : fail(`numeric id must be 0-${MAX_ID}`);
  }
  if (/^[a-z_][a-z0-9_-]{0,31}$/.test(text)) return ok(text);
  return fail('must be a numeric id or a user/group name');
}

export function parseOwnerList(text: string, { allowEmpty }: { allowEmpty: boolean }): Parsed<string[]> {
  const items = splitList(text);
  if (items.includes('*')) return fail('the wildcard "*" is not allowed here');
  if (items.length === 0 && !allowEmpty) return fail('must name at least one id');
  return parseEach(items, parseOwner);
}

/** A firewall mark: 1 to 2^32-1. */
export function parseMark(text: string): Parsed<number> {
  if (!/^\d{1,10}$/.test(text.trim())) return fail('must be an integer 1-4294967295');
  const mark = Number(text.trim());
  return mark >= 1 && mark <= 0xffffffff ? ok(mark) : fail('must be an integer 1-4294967295');
}

/** A policy-routing table id, not one of the kernel's reserved tables (0, 253, 254, 255). */
export function parseRouteTable(text: string): Parsed<number> {
  const parsed = parseMark(text);
  if (!parsed.ok) return parsed;
  if ([253, 254, 255].includes(parsed.value)) return fail('253, 254 and 255 are the kernel\'s default, main and local tables');
  return parsed;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on', 't']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', 'f', '']);

export function parseBoolean(text: string): Parsed<boolean> {
  const word = text.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return ok(true);
  if (FALSE_WORDS.has(word)) return ok(false);
  return fail('must be true or false');
}
