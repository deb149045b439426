/**
 * The connections a whole-pod explanation covers, one line each: inbound to each declared
 * container port, and outbound from the app to a few typical destinations (a service in the
 * cluster's service range, the API server, DNS over UDP and TCP, localhost, an address outside
 * the cluster; IPv6 ones too when the pod has IPv6). Pure: the caller brings the pod's ports,
 * addresses and the cluster's ranges.
 */

import type { Connection } from './connection.js';
import { formatAddress, parseIp } from '../capture/ip-address.js';

export interface DeclaredPort {
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  /** `app/http`: the container and the port's name. */
  readonly name?: string;
}

export interface HostPort {
  readonly address: string;
  readonly port: number;
}

export interface PodConnectionInput {
  readonly ports: readonly DeclaredPort[];
  /** The pod's own address per family (inbound destinations). */
  readonly podAddress: { readonly v4: string; readonly v6?: string };
  readonly serviceCidr: string;
  readonly apiServer: HostPort;
  readonly dnsServer: string;
  readonly external: HostPort;
  /** Whether to add IPv6 destinations. */
  readonly ipv6: boolean;
}

export interface LabelledConnection {
  readonly label: string;
  readonly connection: Connection;
}

/** An address inside a CIDR, `offset` after its first (10.96.0.0/12, 100 → 10.96.0.100). */
export function addressInCidr(cidr: string, offset: number): string {
  const [address, prefix] = cidr.split('/');
  const parsed = parseIp(address ?? '');
  if (!parsed) throw new Error(`internal: ${cidr} is not a CIDR`);
  const bits = Number(prefix);
  const bytes = parsed.bytes.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  let carry = offset;
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const sum = (bytes[i] ?? 0) + carry;
    bytes[i] = sum & 0xff;
    carry = sum >> 8;
  }
  return formatAddress({ family: parsed.family, bytes });
}

const hostPort = (address: string, port: number): string => `${address.includes(':') ? `[${address}]` : address}:${port}`;

export function podConnections(input: PodConnectionInput): LabelledConnection[] {
  const out: LabelledConnection[] = [];
  for (const p of input.ports) {
    out.push({ label: `inbound ${p.protocol} port ${p.port}${p.name ? ` (${p.name})` : ''}`, connection: { direction: 'inbound', protocol: p.protocol, destination: input.podAddress.v4, destinationPort: p.port } });
    if (input.ipv6 && input.podAddress.v6) {
      out.push({ label: `inbound ${p.protocol} port ${p.port} over IPv6`, connection: { direction: 'inbound', protocol: p.protocol, destination: input.podAddress.v6, destinationPort: p.port } });
    }
  }
  const service = addressInCidr(input.serviceCidr, 100);
  const outbound = (label: string, protocol: 'tcp' | 'udp', destination: string, destinationPort: number): void => {
    out.push({ label: `${label} ${protocol} ${hostPort(destination, destinationPort)}`, connection: { direction: 'outbound', protocol, destination, destinationPort } });
  };
  outbound(`a service (in ${input.serviceCidr})`, 'tcp', service, 80);
  outbound('the API server', 'tcp', input.apiServer.address, input.apiServer.port);
  outbound('DNS', 'udp', input.dnsServer, 53);
  outbound('DNS', 'tcp', input.dnsServer, 53);
  outbound('localhost', 'tcp', '127.0.0.1', input.ports[0]?.port ?? 8080);
  outbound('an external address', 'tcp', input.external.address, input.external.port);
  if (input.ipv6) outbound('an external IPv6 address', 'tcp', '2001:db8:ffff::10', 443);
  return out;
}
