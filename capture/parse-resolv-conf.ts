/**
 * Nameservers from resolv.conf text, split by family, in file order (as Istio reads them).
 * Invalid nameserver lines are ignored, as resolvers do.
 */

import { parseIpv4, parseIpv6 } from './ip-address.js';

export function parseResolvConf(text: string): { v4: string[]; v6: string[] } {
  const v4: string[] = [];
  const v6: string[] = [];
  for (const line of text.split('\n')) {
    const [keyword, address] = line.trim().split(/\s+/);
    if (keyword !== 'nameserver' || !address) continue;
    const withoutZone = address.split('%')[0] ?? '';
    if (parseIpv4(withoutZone)) v4.push(withoutZone);
    else if (parseIpv6(withoutZone)) v6.push(withoutZone);
  }
  return { v4, v6 };
}

/**
 * Whether /proc/net/if_inet6 lists a global-scope IPv6 address on an interface other than lo
 * (columns: address, ifindex, prefix length, scope, flags, name; scope 00 is global).
 */
export function hasGlobalIpv6(ifInet6: string): boolean {
  return ifInet6.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols.length >= 6 && cols[3] === '00' && cols[5] !== 'lo';
  });
}
