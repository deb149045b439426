/**
 * Flags of `outrigger explain`: the connection (direction, protocol, destination, socket owner,
 * source, interface), where the rules come from (exactly one: a live namespace, saved dumps, a pod
 * manifest, or proxy-init flags after `--`), the whole-pod mode and the output format. Every bad
 * flag is named with its value in one InvalidInput error (exit 2), before anything is read.
 */

import { parseArgs } from 'node:util';
import { parseInterfaceName, parsePort } from '../../capture/capture-values.js';
import { formatAddress, parseCidr, parseIp } from '../../capture/ip-address.js';
import { type FieldProblem, invalidInput } from '../../common/errors.js';
import type { DeclaredPort, HostPort } from '../../explain/pod-connections.js';

export type RuleSourceOption =
  | { readonly kind: 'netns'; readonly path: string; readonly flag: string }
  | { readonly kind: 'rules'; readonly files: readonly string[] }
  | { readonly kind: 'pod'; readonly file: string }
  | { readonly kind: 'flags'; readonly argv: readonly string[] };


export interface ExplainOptions {
  readonly direction: 'outbound' | 'inbound';
  readonly protocol: 'tcp' | 'udp';
  /** The destination; the address may be absent for inbound (`--to :8080`: the pod's). */
  readonly to?: { readonly address?: string; readonly port: number };
  readonly uid?: number;
  readonly gid?: number;
  readonly from?: { readonly address: string; readonly port?: number };
  readonly interface?: string;
  readonly podIps: readonly string[];
  readonly source: RuleSourceOption;
  readonly injectorConfig?: string;
  readonly namespace: string;
  readonly wholePod: boolean;
  readonly ports: readonly DeclaredPort[];
  readonly serviceCidr: string;
  readonly apiServer: HostPort;
  /** The cluster DNS as given (--dns-server); empty: from the rules, else 10.96.0.10. */
  readonly dnsServers: readonly string[];
  readonly external: HostPort;
  readonly output: 'text' | 'json';
}

export type ParsedExplain = { readonly kind: 'help' } | { readonly kind: 'run'; readonly options: ExplainOptions };

export const ExplainUsage = `Usage: outrigger explain [connection] RULES [options]
       outrigger explain --whole-pod RULES [options]

Where would this connection go? Follows the connection's first packet through the pod's rules
(iptables legacy or nft, both families, and native nftables) as the kernel does, and prints each
table and chain it enters, each rule that matches (with outrigger's purpose, or as written), the
verdict, and which setting to change for the other verdict. Rules it cannot evaluate are named,
and the verdict says when it is uncertain and why.

Connection:
      --outbound              from the app (default)
      --inbound               to the pod, from a peer
      --to ADDR:PORT          destination, e.g. 10.96.0.1:443 or [2001:db8::5]:443 (inbound: :PORT is the pod's address)
  -p, --protocol tcp|udp      default tcp
      --uid N, --gid N        outbound: the socket's owner (default uid 1000, an app user; gid: the uid)
      --from ADDR[:PORT]      the source address (inbound: the peer)
      --interface NAME        inbound: where it arrives (default eth0); outbound: where it leaves
      --pod-ip ADDR           the pod's own address (repeatable; a live namespace knows them)

Rules (exactly one):
      --network-namespace PATH  a pod's live network namespace (as root), e.g. /var/run/netns/X
      --pid PID                 the network namespace of process PID
      --rules FILE|-            iptables-save, ip6tables-save and/or nft list ruleset output (repeatable)
      --pod FILE|-              a pod manifest (Pod or workload): what its proxy-init applies
      -- FLAGS...               proxy-init (istio-iptables) flags: what \`outrigger init FLAGS\` applies
      --injector-config FILE    with --pod: the injector's configuration (default: built in)
  -n, --namespace NS            with --pod: the namespace of a pod that names none (default "default")

Whole pod:
      --whole-pod             one line per declared port (inbound) and per typical destination
      --ports LIST            the pod's ports, e.g. 8080,9090/udp (default: the manifest's)
      --service-cidr CIDR     the cluster's service range (default 10.96.0.0/12)
      --api-server ADDR:PORT  default 10.96.0.1:443
      --dns-server ADDR       the pod's nameserver (repeatable; default: the one the rules capture, else 10.96.0.10;
                              with --pod or flags, what DNS capture captures)
      --external ADDR:PORT    an address outside the cluster (default 203.0.113.10:443)

  -o, --output text|json      default text
  -h, --help                  show this help

Exit codes: 0 explained (also when uncertain); 2 invalid input (the flag and value, or the dump's
line, are named); 1 the rules could not be read.
`;

const Options = {
  outbound: { type: 'boolean' },
  inbound: { type: 'boolean' },
  to: { type: 'string' },
  protocol: { type: 'string', short: 'p' },
  uid: { type: 'string' },
  gid: { type: 'string' },
  from: { type: 'string' },
  interface: { type: 'string' },
  'pod-ip': { type: 'string', multiple: true },
  'network-namespace': { type: 'string' },
  pid: { type: 'string' },
  rules: { type: 'string', multiple: true },
  pod: { type: 'string' },
  'injector-config': { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'whole-pod': { type: 'boolean' },
  ports: { type: 'string' },
  'service-cidr': { type: 'string' },
  'api-server': { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  external: { type: 'string' },
  output: { type: 'string', short: 'o' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `10.0.0.5:443`, `[2001:db8::5]:443`, `:443` (no address); null with a reason otherwise. */
export function parseHostPort(text: string, { portRequired = true, addressOptional = false } = {}): { address?: string; port?: number } | string {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  let host: string;
  let portText: string | undefined;
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host = '', portText] = text.split(':');
  } else {
    host = text;
  }
  let port: number | undefined;
  if (portText !== undefined) {
    const parsed = parsePort(portText);
    if (!parsed.ok) return `port ${JSON.stringify(portText)}: ${parsed.reason}`;
    port = parsed.value;
  } else if (portRequired) return 'must be ADDRESS:PORT ([IPv6]:PORT for IPv6)';
  if (host === '') {
    if (!addressOptional) return 'must name an address';
    return port === undefined ? {} : { port };
  }
  const address = parseIp(host);
  if (!address) return `${JSON.stringify(host)} is not an IPv4 or IPv6 address`;
  return { address: formatAddress(address), ...(port !== undefined ? { port } : {}) };
}

function parseId(text: string): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const id = Number(text);
  return id <= 4294967294 ? id : null;
}

function parsePorts(text: string): DeclaredPort[] | string {
  const ports: DeclaredPort[] = [];
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{1,5})(?:\/(tcp|udp))?$/i.exec(item);
    const parsed = m ? parsePort(m[1] ?? '') : null;
    if (!m || !parsed?.ok) return `item ${JSON.stringify(item)} must be a port 1-65535, optionally /tcp or /udp`;
    ports.push({ port: parsed.value, protocol: (m[2]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp' });
  }
  return ports;
}

export function parseExplainFlags(argv: readonly string[]): ParsedExplain {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? [...argv] : argv.slice(0, dash);
  const initArgs = dash < 0 ? undefined : argv.slice(dash + 1);
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({ args: own, options: Options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw invalidInput([{ source: 'arguments', value: own.join(' '), reason: error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error) }], 'flags');
  }
  if (values.help === true) return { kind: 'help' };
  const problems: FieldProblem[] = [];
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const list = (name: string): string[] => (values[name] as string[] | undefined) ?? [];

  if (values.outbound === true && values.inbound === true) problems.push({ source: '--inbound', value: 'true', reason: 'cannot be combined with --outbound' });
  const direction = values.inbound === true ? 'inbound' : 'outbound';

  const protocolText = str('protocol') ?? 'tcp';
  const protocol = protocolText.toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') problems.push({ source: '--protocol', value: protocolText, reason: 'must be tcp or udp' });

  let to: ExplainOptions['to'];
  const toText = str('to');
  if (toText !== undefined) {
    const parsed = parseHostPort(toText, { addressOptional: direction === 'inbound' });
    if (typeof parsed === 'string') problems.push({ source: '--to', value: toText, reason: parsed });
    else to = { ...(parsed.address ? { address: parsed.address } : {}), port: parsed.port ?? 0 };
  }

  const id = (name: 'uid' | 'gid'): number | undefined => {
    const text = str(name);
    if (text === undefined) return undefined;
    const parsed = parseId(text);
    if (parsed === null) problems.push({ source: `--${name}`, value: text, reason: 'must be a numeric id 0-4294967294' });
    else if (direction === 'inbound') problems.push({ source: `--${name}`, value: text, reason: 'applies to outbound connections only (an inbound packet has no local socket yet)' });
    return parsed ?? undefined;
  };
  const uid = id('uid');
  const gid = id('gid');

  let from: ExplainOptions['from'];
  const fromText = str('from');
  if (fromText !== undefined) {
    const parsed = parseHostPort(fromText, { portRequired: false });
    if (typeof parsed === 'string') problems.push({ source: '--from', value: fromText, reason: parsed });
    else if (parsed.address) from = { address: parsed.address, ...(parsed.port !== undefined ? { port: parsed.port } : {}) };
  }

  const interfaceName = str('interface');
  if (interfaceName !== undefined) {
    const parsed = parseInterfaceName(interfaceName);
    if (!parsed.ok || interfaceName.endsWith('+')) problems.push({ source: '--interface', value: interfaceName, reason: parsed.ok ? 'must name one interface, not a wildcard' : parsed.reason });
  }

  const podIps: string[] = [];
  for (const text of list('pod-ip')) {
    const parsed = parseIp(text);
    if (!parsed) problems.push({ source: '--pod-ip', value: text, reason: 'must be an IPv4 or IPv6 address' });
    else podIps.push(formatAddress(parsed));
  }

  const sources: RuleSourceOption[] = [];
  const netns = str('network-namespace');
  if (netns !== undefined) {
    if (!netns.startsWith('/')) problems.push({ source: '--network-namespace', value: netns, reason: 'must be an absolute path such as /var/run/netns/NAME or /proc/PID/ns/net' });
    else sources.push({ kind: 'netns', path: netns, flag: '--network-namespace' });
  }
  const pid = str('pid');
  if (pid !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(pid)) problems.push({ source: '--pid', value: pid, reason: 'must be a process id' });
    else sources.push({ kind: 'netns', path: `/proc/${pid}/ns/net`, flag: '--pid' });
  }
  const rules = list('rules');
  for (const file of rules) if (file === '') problems.push({ source: '--rules', value: '', reason: 'must be a file path or - for stdin' });
  if (rules.filter((f) => f === '-').length > 1) problems.push({ source: '--rules', value: '-', reason: 'stdin can be read once' });
  if (rules.length > 0) sources.push({ kind: 'rules', files: rules });
  const pod = str('pod');
  if (pod !== undefined) {
    if (pod === '') problems.push({ source: '--pod', value: '', reason: 'must be a file path or - for stdin' });
    else sources.push({ kind: 'pod', file: pod });
  }
  if (pod === '-' && rules.includes('-')) problems.push({ source: '--pod', value: '-', reason: 'stdin is already read by --rules -' });
  if (initArgs !== undefined) sources.push({ kind: 'flags', argv: initArgs });
  if (sources.length === 0) problems.push({ source: 'rules', value: '', reason: 'say where the rules are: --network-namespace, --pid, --rules, --pod, or proxy-init flags after --' });
  if (sources.length > 1) problems.push({ source: 'rules', value: sources.map((s) => (s.kind === 'netns' ? s.flag : s.kind === 'flags' ? '--' : `--${s.kind}`)).join(' '), reason: 'give exactly one source of rules' });
  const injectorConfig = str('injector-config');
  if (injectorConfig !== undefined && pod === undefined) problems.push({ source: '--injector-config', value: injectorConfig, reason: 'applies only with --pod' });
  const namespace = str('namespace') ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) problems.push({ source: '--namespace', value: namespace, reason: 'must be a namespace name (DNS-1123 label)' });

  const wholePod = values['whole-pod'] === true;
  if (!wholePod && toText === undefined) problems.push({ source: '--to', value: '', reason: 'is required (the destination ADDR:PORT), unless --whole-pod' });
  if (wholePod && to !== undefined) problems.push({ source: '--to', value: toText ?? '', reason: 'cannot be combined with --whole-pod' });
  if (wholePod && values.inbound === true) problems.push({ source: '--inbound', value: 'true', reason: 'cannot be combined with --whole-pod (it explains both directions)' });
  let ports: DeclaredPort[] = [];
  const portsText = str('ports');
  if (portsText !== undefined) {
    const parsed = parsePorts(portsText);
    if (typeof parsed === 'string') problems.push({ source: '--ports', value: portsText, reason: parsed });
    else ports = parsed;
  }
  const serviceCidr = str('service-cidr') ?? '10.96.0.0/12';
  const cidr = parseCidr(serviceCidr);
  if (typeof cidr === 'string') problems.push({ source: '--service-cidr', value: serviceCidr, reason: cidr });
  const hostPort = (name: string, fallback: HostPort): HostPort => {
    const text = str(name);
    if (text === undefined) return fallback;
    const parsed = parseHostPort(text);
    if (typeof parsed === 'string') {
      problems.push({ source: `--${name}`, value: text, reason: parsed });
      return fallback;
    }
    return { address: parsed.address ?? fallback.address, port: parsed.port ?? fallback.port };
  };
  const apiServer = hostPort('api-server', { address: '10.96.0.1', port: 443 });
  const external = hostPort('external', { address: '203.0.113.10', port: 443 });
  const dnsServers: string[] = [];
  for (const text of list('dns-server')) {
    const parsed = parseIp(text);
    if (!parsed) problems.push({ source: '--dns-server', value: text, reason: 'must be an IPv4 or IPv6 address' });
    else dnsServers.push(formatAddress(parsed));
  }
  for (const [name, given] of [['ports', portsText], ['service-cidr', str('service-cidr')], ['api-server', str('api-server')], ['external', str('external')]] as const) {
    if (given !== undefined && !wholePod) problems.push({ source: `--${name}`, value: given, reason: 'applies only with --whole-pod' });
  }

  const output = str('output') ?? 'text';
  if (output !== 'text' && output !== 'json') problems.push({ source: '--output', value: output, reason: 'must be text or json' });

  if (problems.length > 0) throw invalidInput(problems, 'flags');
  return {
    kind: 'run',
    options: {
      direction,
      protocol: protocol as 'tcp' | 'udp',
      ...(to ? { to } : {}),
      ...(uid !== undefined ? { uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
      ...(from ? { from } : {}),
      ...(interfaceName !== undefined ? { interface: interfaceName } : {}),
      podIps,
      source: sources[0] as RuleSourceOption,
      ...(injectorConfig !== undefined ? { injectorConfig } : {}),
      namespace,
      wholePod,
      ports,
      serviceCidr: typeof cidr === 'string' ? serviceCidr : cidr.text,
      apiServer,
      dnsServers,
      external,
      output: output as 'text' | 'json',
    },
  };
}
