/**
 * Options of `outrigger init` that are not part of the capture model: what to do (apply, clean
 * up, print, validate) and how to reach the kernel.
 */

import type { BackendChoice } from '../apply/select-backend.js';

export type Ipv6Mode = 'auto' | boolean;

export interface InitOptions {
  /** Print the iptables-restore input instead of applying it. */
  readonly dryRun: boolean;
  readonly output: 'text' | 'json';
  /** Remove everything outrigger added, then exit. */
  readonly cleanupOnly: boolean;
  /** After applying (or alone, with skipRuleApply), prove that capture works. */
  readonly runValidation: boolean;
  readonly skipRuleApply: boolean;
  readonly probePort: number;
  readonly probeTimeoutMs: number;
  readonly ipv6: Ipv6Mode;
  readonly resolvConfPath: string;
  readonly backend: BackendChoice;
  /** Apply inside this network namespace (a path such as /var/run/netns/X or /proc/PID/ns/net). */
  readonly networkNamespace?: string;
  readonly logLevel: string;
}
