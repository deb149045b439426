/**
 * Results between spec versions, as libcni converts them: 0.3.0, 0.3.1 and 0.4.0 results carry
 * `ips[].version` ("4"/"6"); 1.0.0 and 1.1.0 results drop it. Every other field (interfaces,
 * routes, dns and anything newer) passes through unchanged, since a chained plugin must hand on
 * the previous plugin's result as it is. Only the shape the conversion needs is validated; a bad
 * prevResult is named field by field.
 */

import type { FieldProblem } from '../../common/errors.js';
import { parseCidr } from '../../capture/ip-address.js';
import { compareVersions, type CniVersion } from './cni-versions.js';

export type CniResult = Readonly<Record<string, unknown>>;

export interface ResultAddress {
  readonly family: 4 | 6;
  /** The address part of `ips[].address` (without the prefix length). */
  readonly address: string;
}

/** Checks a prevResult's shape; returns its addresses or the problems (source `prevResult...`). */
export function readResult(value: unknown, source = 'prevResult'): { ok: true; addresses: ResultAddress[] } | { ok: false; problems: FieldProblem[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problems: [{ source, value: JSON.stringify(value) ?? 'undefined', reason: 'must be a CNI result object' }] };
  }
  const ips = (value as Record<string, unknown>).ips;
  if (ips === undefined) return { ok: true, addresses: [] };
  if (!Array.isArray(ips)) return { ok: false, problems: [{ source: `${source}.ips`, value: JSON.stringify(ips), reason: 'must be an array' }] };
  const problems: FieldProblem[] = [];
  const addresses: ResultAddress[] = [];
  ips.forEach((ip: unknown, i) => {
    const address = typeof ip === 'object' && ip !== null ? (ip as Record<string, unknown>).address : undefined;
    const cidr = typeof address === 'string' ? parseCidr(address) : 'must be a string';
    if (typeof cidr === 'string') problems.push({ source: `${source}.ips[${i}].address`, value: JSON.stringify(address) ?? 'undefined', reason: `not an address/prefix: ${cidr}` });
    else addresses.push({ family: cidr.family, address: cidr.text.split('/')[0] ?? '' });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, addresses };
}

/** The result in `version`'s shape (the input is not modified). */
export function convertResult(result: CniResult, version: CniVersion): CniResult {
  const legacy = compareVersions(version, '1.0.0') < 0;
  const ips = Array.isArray(result.ips)
    ? result.ips.map((ip: Record<string, unknown>) => {
        const { version: _dropped, ...rest } = ip;
        if (!legacy) return rest;
        const family = String(ip.address ?? '').includes(':') ? '6' : '4';
        return { version: family, ...rest };
      })
    : undefined;
  return { ...result, cniVersion: version, ...(ips ? { ips } : {}) };
}
