/**
 * Collects the facts the plan depends on from the pod's namespace: whether it has IPv6 and, when
 * DNS capture needs them, the nameservers of its resolv.conf.
 *
 * IPv6 "auto" plans IPv6 when the pod has any global IPv6 address. Istio looks only at the
 * first address unless dual-stack is set, which leaves a dual-stack pod's IPv6 traffic
 * uncaptured; capturing it is the safe choice, so outrigger does (and --dual-stack therefore
 * changes nothing here).
 */

import { readFileSync } from 'node:fs';
import type { CaptureConfig, HostFacts } from '../capture/capture-config.js';
import { hasGlobalIpv6, parseResolvConf } from '../capture/parse-resolv-conf.js';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { CommandRunner } from './command-runner.js';
import { readProcFile } from './read-proc-file.js';

export interface FactOptions {
  readonly ipv6: 'auto' | boolean;
  readonly resolvConfPath: string;
  readonly runner: CommandRunner;
  /** False when the runner enters another namespace (then /proc/net is read through it). */
  readonly inOwnNamespace: boolean;
}

async function detectIpv6(options: FactOptions): Promise<boolean> {
  if (options.inOwnNamespace) return hasGlobalIpv6(readProcFile('/proc/net/if_inet6'));
  const result = await options.runner.run('cat', ['/proc/net/if_inet6']);
  return result.exitCode === 0 && hasGlobalIpv6(result.stdout);
}

export async function gatherHostFacts(config: CaptureConfig, options: FactOptions): Promise<HostFacts> {
  const ipv6 = options.ipv6 === 'auto' ? await detectIpv6(options) : options.ipv6;
  if (!config.redirectDns || config.captureAllDns) return { ipv6, dnsServersV4: [], dnsServersV6: [] };
  let text: string;
  try {
    text = readFileSync(options.resolvConfPath, 'utf8');
  } catch (cause) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read DNS servers from ${options.resolvConfPath} (needed by --redirect-dns)`, { cause });
  }
  const servers = parseResolvConf(text);
  return { ipv6, dnsServersV4: servers.v4, dnsServersV6: servers.v6 };
}
