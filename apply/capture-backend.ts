/**
 * The one interface both appliers sit behind (apply-iptables.ts, apply-nftables.ts): what an
 * apply is given, what it reports, and what a backend hands back to apply-capture.ts so the
 * common steps (removing the other backend's rules of an earlier run, routing an earlier run
 * added that this plan does not want, undoing everything on failure) are written once.
 */

import type { CaptureConfig, HostFacts, IpFamily } from '../capture/capture-config.js';
import type { CapturePlan } from '../capture/plan-capture.js';
import type { Logger } from '../common/log.js';
import type { CommandRunner } from './command-runner.js';
import type { RoutingChange } from './policy-routing.js';
import type { BackendChoice } from './select-backend.js';

export type BackendName = 'iptables' | 'nftables';

export interface ApplyInput {
  readonly config: CaptureConfig;
  readonly facts: HostFacts;
  readonly runner: CommandRunner;
  /** iptables only: which iptables backend (legacy/nft/plain), or `auto`. */
  readonly backend?: BackendChoice;
  /** False when the runner enters another network namespace. Default true. */
  readonly inOwnNamespace?: boolean;
  /** Optional debug trace; outcomes are returned as data for the caller to log. */
  readonly log?: Logger;
  /**
   * Whether the namespace may hold an earlier run (default true): then its rules are read first
   * (a re-run with the same plan changes nothing) and what it added that this plan does not want
   * goes (its IPv6 rules, the other backend's rules, its routing). The CNI plugin's ADD turns it
   * off: the spec forbids a second ADD for the same container without a DEL between, so its
   * namespace never holds an earlier run, and reading nothing saves spawns on every pod start.
   */
  readonly mayHoldEarlierRun?: boolean;
}

export interface FamilyOutcome {
  readonly family: IpFamily;
  /** iptables' backend (legacy, nft, plain), or `nftables`. */
  readonly backend: string;
  readonly changed: boolean;
  readonly tables: readonly string[];
}

export interface ApplyReport {
  readonly plan: CapturePlan;
  readonly backend: BackendName;
  readonly families: readonly FamilyOutcome[];
  readonly routingAdded: readonly RoutingChange[];
  /** An earlier run's routing this plan does not want, removed. */
  readonly routingRemoved: readonly RoutingChange[];
  /** Rules of an earlier run with the other backend, removed (tables or families touched). */
  readonly otherBackendRemoved: readonly string[];
}

/** What one backend's apply did, for the common steps after it. */
export interface AppliedCapture {
  readonly families: readonly FamilyOutcome[];
  readonly routingAdded: readonly RoutingChange[];
  /** The marks an earlier run's rules used, per family (where its TPROXY routing is found). */
  readonly earlierMarks: readonly { readonly family: IpFamily; readonly marks: readonly number[] }[];
  /** An earlier run captured IPv6, this plan does not, and its IPv6 rules are gone now. */
  readonly removedIpv6: boolean;
  /** Whether the namespace may hold this backend's rules of an earlier run with the other backend. */
  readonly otherBackendSeen?: boolean;
  /** Puts back what this apply changed (rules and routing). */
  undo(): Promise<void>;
}
