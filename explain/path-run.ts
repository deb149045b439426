/**
 * What following a packet produces, shared by the chain walker (walk-chain.ts) and the hook
 * order (follow-packet.ts): the path's steps, where the packet ends up, the uncertain points met,
 * and the state of one run (the packet as rules changed it, the decisions taken at uncertain rules).
 */

import type { IpFamily } from '../capture/capture-config.js';
import type { PodFacts } from './connection.js';
import type { Packet } from './match-term.js';
import type { BaseChainSpec, Hook, PathRule, PathTable, RuleSource } from './path-model.js';

export interface RuleRef {
  readonly source: RuleSource;
  readonly table: string;
  /** `inet` / `ip` / `ip6` for an nft table. */
  readonly nftFamily?: string;
  readonly chain: string;
  /** 1-based position in its chain. */
  readonly index: number;
  readonly rule: PathRule;
}

export type Pass = 'outbound' | 'loopback' | 'inbound';

export type PathStep =
  | { readonly kind: 'hook'; readonly hook: Hook; readonly pass: Pass }
  | { readonly kind: 'enter'; readonly table: PathTable; readonly chain: string; readonly base?: BaseChainSpec }
  | { readonly kind: 'rule'; readonly ref: RuleRef; readonly effect: string; readonly assumed?: boolean }
  | { readonly kind: 'end'; readonly table: PathTable; readonly chain: string; readonly effect: string }
  | { readonly kind: 'skip'; readonly table: PathTable; readonly chain: string; readonly reason: string };

/** Where the packet ends up. */
export type Disposition =
  /** Delivered to a local socket listening on address:port (null address: the pod's address on `interface`). */
  | { readonly kind: 'local'; readonly address: string | null; readonly interface?: string; readonly port: number; readonly changedBy?: RuleRef }
  /** Handed by TPROXY to the transparent socket on `port` (the original destination kept). */
  | { readonly kind: 'tproxy'; readonly port: number; readonly changedBy: RuleRef }
  /** Sent out of the pod. */
  | { readonly kind: 'remote'; readonly address: string; readonly port: number; readonly interface: string; readonly changedBy?: RuleRef }
  | { readonly kind: 'dropped' | 'rejected'; readonly by?: RuleRef; readonly policy?: { readonly table: PathTable; readonly chain: string } }
  /** Inbound to an address that is not the pod's: forwarded (pods normally drop these). */
  | { readonly kind: 'forwarded'; readonly address: string }
  /** Outbound with no route: connect() fails before any rule sees the packet. */
  | { readonly kind: 'unreachable'; readonly reason: string }
  /** A target the explainer does not evaluate decided the packet's fate. */
  | { readonly kind: 'unknown'; readonly by: RuleRef };

export interface UncertainPoint {
  readonly ref: RuleRef;
  readonly reason: string;
  /** What this run assumed: the rule matched (true) or not. For an unknown target: it decided the fate (true) or had no effect. */
  readonly assumed: boolean;
}

export interface PathRun {
  readonly family: IpFamily;
  readonly steps: readonly PathStep[];
  readonly disposition: Disposition;
  readonly points: readonly UncertainPoint[];
  /** Facts the run had to assume (the route, the pod's addresses). */
  readonly assumptions: readonly string[];
}


/** A run stopped: a loop of jumps, or more rules than any real ruleset has. */
export class PathLimit extends Error {}

/** How a chain walk ended. */
export type ChainResult =
  | { readonly kind: 'fallthrough' | 'return' }
  | { readonly kind: 'accept' | 'drop' | 'reject'; readonly by?: RuleRef }
  | { readonly kind: 'nat'; readonly by: RuleRef }
  | { readonly kind: 'unknown'; readonly by: RuleRef };

/** One run's state: the packet as the rules so far changed it, and what the run met. */
export interface RunState {
  readonly family: IpFamily;
  readonly facts: PodFacts;
  /** The answers at uncertain points, in the order they are met (default: no). */
  readonly decisions: readonly boolean[];
  readonly steps: PathStep[];
  readonly points: UncertainPoint[];
  readonly assumptions: string[];
  packet: Packet;
  /** The transparent socket TPROXY handed the packet to. */
  tproxy: { port: number; by: RuleRef } | null;
  /** The rule that set up the connection's NAT. */
  nat: RuleRef | null;
  visits: number;
}
