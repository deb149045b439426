/**
 * The CNI spec versions outrigger-cni speaks and what each allows: CHECK exists from 0.4.0,
 * STATUS and GC from 1.1.0. Versions 0.1.0/0.2.0 (results with `ip4`/`ip6` objects) predate
 * chaining and `prevResult`, so a chained plugin cannot serve them.
 */

export const SupportedVersions = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SupportedVersions)[number];
export const LatestVersion: CniVersion = '1.1.0';

export function isSupportedVersion(version: string): version is CniVersion {
  return (SupportedVersions as readonly string[]).includes(version);
}

/** Compares two dotted versions numerically (`0.4.0` < `1.0.0`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The first spec version that defines each command. */
export const CommandSince = { ADD: '0.3.0', DEL: '0.3.0', VERSION: '0.3.0', CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' } as const;
export type CniCommand = keyof typeof CommandSince;
export const CniCommands = Object.keys(CommandSince) as CniCommand[];
