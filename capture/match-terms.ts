/**
 * Short constructors for match terms and actions, so the planners read like the rules they
 * write (`[oif('lo'), tcp, notDst(loopback), uid('1337')]` → `return`). Pure data, no syntax.
 */

import type { IpFamily } from './capture-config.js';
import type { Action, ConntrackState, MatchTerm, OwnChain, Protocol } from './rule.js';

export const tcp: MatchTerm = { kind: 'protocol', protocol: 'tcp' };
export const udp: MatchTerm = { kind: 'protocol', protocol: 'udp' };
export const protocol = (name: Protocol): MatchTerm => ({ kind: 'protocol', protocol: name });

export const iif = (name: string): MatchTerm => ({ kind: 'in-interface', name });
export const oif = (name: string): MatchTerm => ({ kind: 'out-interface', name });

/** An address term of the family the CIDR text is in. */
function address(kind: 'source' | 'destination', cidr: string, negate: boolean): MatchTerm {
  const family: IpFamily = cidr.includes(':') ? 6 : 4;
  return { kind, cidr, family, negate };
}
export const src = (cidr: string): MatchTerm => address('source', cidr, false);
export const dst = (cidr: string): MatchTerm => address('destination', cidr, false);
export const notDst = (cidr: string): MatchTerm => address('destination', cidr, true);

export const dport = (proto: Protocol, ...ports: number[]): MatchTerm => ({ kind: 'destination-port', protocol: proto, ports, negate: false });
export const notDport = (proto: Protocol, ...ports: number[]): MatchTerm => ({ kind: 'destination-port', protocol: proto, ports, negate: true });
export const sport = (proto: Protocol, ...ports: number[]): MatchTerm => ({ kind: 'source-port', protocol: proto, ports, negate: false });

export const owner = (by: 'uid' | 'gid', id: string, negate = false): MatchTerm => ({ kind: 'owner', by, id, negate });

export const mark = (value: number): MatchTerm => ({ kind: 'mark', mark: value, negate: false });
export const notMark = (value: number): MatchTerm => ({ kind: 'mark', mark: value, negate: true });
export const connectionMark = (value: number): MatchTerm => ({ kind: 'connection-mark', mark: value });
export const ctState = (...states: ConntrackState[]): MatchTerm => ({ kind: 'conntrack-state', states });

export const RETURN: Action = { kind: 'return' };
export const ACCEPT: Action = { kind: 'accept' };
export const DROP: Action = { kind: 'drop' };
export const jump = (chain: OwnChain): Action => ({ kind: 'jump', chain });
export const redirect = (port: number): Action => ({ kind: 'redirect', port });
export const tproxy = (port: number, markValue: number): Action => ({ kind: 'tproxy', port, mark: markValue });
export const setMark = (value: number): Action => ({ kind: 'set-mark', mark: value });
export const SAVE_MARK: Action = { kind: 'save-mark' };
export const RESTORE_MARK: Action = { kind: 'restore-mark' };
export const ctZone = (zone: number): Action => ({ kind: 'conntrack-zone', zone });
