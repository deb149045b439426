/**
 * `outrigger explain`: where would this connection go? Reads the rules from one source (a live
 * namespace through the command runner, saved dumps, a pod manifest, or proxy-init flags), follows
 * the connection (or, with --whole-pod, one per declared port and typical destination) with the
 * pure explainer (explain/), and prints the path and verdict as text or JSON. Errors become exit
 * codes only here: 2 bad input (the flag and value, or the dump's line, named; nothing read
 * further), 1 the rules could not be read, 70 a bug. An uncertain verdict is not an error.
 */

import type { CommandRunner } from '../../apply/command-runner.js';
import { createCommandRunner } from '../../apply/create-command-runner.js';
import type { IpFamily } from '../../capture/capture-config.js';
import { ErrorCodes, invalidInput, isOutriggerError } from '../../common/errors.js';
import { type Connection, DefaultInterface, familyOf, type PodFacts } from '../../explain/connection.js';
import { explainConnection, type Explanation } from '../../explain/explain-connection.js';
import { parseDump } from '../../explain/parse-dump.js';
import type { PathRuleset, PathTable } from '../../explain/path-model.js';
import { type DeclaredPort, type LabelledConnection, podConnections } from '../../explain/pod-connections.js';
import { explanationJson, explanationLine, renderExplanationText } from '../../explain/render-explanation.js';
import type { SettingContext } from '../../explain/setting-names.js';
import { ExplainUsage, type ExplainOptions, parseExplainFlags } from './explain-flags.js';
import { DefaultClusterDns, rulesFromFlags } from './planned-rules.js';
import { readInput } from './read-input.js';
import { readLiveRules, readRoute } from './read-live-rules.js';

/** Stands in for the pod's address when neither the rules' source nor --pod-ip gives it. */
const StandInPodAddress = { v4: '10.244.0.10', v6: 'fd00:10:244::10' } as const;

interface Source {
  readonly ruleset: PathRuleset;
  readonly settings: SettingContext;
  readonly facts: PodFacts;
  readonly ports: readonly DeclaredPort[];
  readonly notes: readonly string[];
  /** For a live namespace: the runner to ask the kernel's route with. */
  readonly live?: { readonly runner: CommandRunner; readonly where: string };
}

export interface ExplainIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The runner for a live namespace (tests give a fake one). */
  readonly runnerFor?: (netnsPath: string) => CommandRunner;
}

function interfacesFromIps(ips: readonly string[], name: string): NonNullable<PodFacts['interfaces']> {
  return ips.length > 0 ? [{ name, addresses: ips }] : [];
}

/** Whether anything about the connections says the pod has IPv6 (for planning with --ipv6 auto). */
function wantsIpv6(options: ExplainOptions): boolean {
  return options.podIps.some((ip) => ip.includes(':')) || (options.to?.address?.includes(':') ?? false) || (options.from?.address.includes(':') ?? false);
}

async function readSource(options: ExplainOptions, io: ExplainIo): Promise<Source> {
  const source = options.source;
  const planFacts = { podHasIpv6: wantsIpv6(options), dnsServers: options.dnsServers };
  const ipFacts: PodFacts = { interfaces: interfacesFromIps(options.podIps, options.interface ?? DefaultInterface) };
  switch (source.kind) {
    case 'netns': {
      const runner = (io.runnerFor ?? ((path) => createCommandRunner({ netnsPath: path })))(source.path);
      const where = source.path;
      const live = await readLiveRules(runner, where);
      return {
        ruleset: { tables: live.tables, inputs: live.inputs, notes: live.notes },
        settings: { kind: 'rules' },
        facts: { interfaces: [...live.interfaces, ...(ipFacts.interfaces ?? [])], addressesComplete: true },
        ports: options.ports,
        notes: [],
        live: { runner, where },
      };
    }
    case 'rules': {
      const tables: PathTable[] = [];
      const inputs: string[] = [];
      const notes: string[] = [];
      for (const file of source.files) {
        const name = file === '-' ? 'stdin' : file;
        const dump = parseDump(await readInput('--rules', file), name);
        tables.push(...dump.tables);
        inputs.push(...dump.inputs.map((i) => `${i} (${name})`));
        notes.push(...dump.notes);
        if (dump.tables.length === 0) notes.push(`${name} holds no tables`);
      }
      return { ruleset: { tables: dedupeIptablesNft(tables, notes), inputs, notes }, settings: { kind: 'rules' }, facts: ipFacts, ports: options.ports, notes: [] };
    }
    case 'pod': {
      // The injector's code (configuration, pod reading, YAML) is loaded only for a manifest.
      const [{ DefaultInjectorConfig, parseInjectorConfig }, { rulesFromPod }] = await Promise.all([import('../../injector/config/injector-config.js'), import('./rules-from-pod.js')]);
      const config = options.injectorConfig === undefined ? DefaultInjectorConfig : parseInjectorConfig(await readInput('--injector-config', options.injectorConfig), options.injectorConfig);
      const text = await readInput('--pod', source.file);
      const pod = rulesFromPod(text, source.file === '-' ? 'stdin' : source.file, config, options.namespace, planFacts);
      const ips = options.podIps.length > 0 ? options.podIps : pod.podIps;
      return {
        ruleset: pod.ruleset,
        settings: pod.settings,
        facts: { interfaces: interfacesFromIps(ips, options.interface ?? DefaultInterface) },
        ports: options.ports.length > 0 ? options.ports : pod.ports,
        notes: [],
      };
    }
    case 'flags':
      return { ruleset: rulesFromFlags(source.argv, planFacts), settings: { kind: 'flags' }, facts: ipFacts, ports: options.ports, notes: [] };
  }
}

/**
 * A dump with both iptables-nft-save and `nft list ruleset` output holds iptables-nft's tables
 * twice; iptables-nft-save's spelling is the complete one.
 */
function dedupeIptablesNft(tables: readonly PathTable[], notes: string[]): PathTable[] {
  const fromSave = new Set(tables.filter((t) => t.source === 'iptables-nft').flatMap((t) => t.families.map((f) => `${f === 4 ? 'ip' : 'ip6'} ${t.name}`)));
  return tables.filter((t) => {
    const duplicate = t.nftFamily !== undefined && fromSave.has(`${t.nftFamily} ${t.name}`);
    if (duplicate) notes.push(`nft's listing of table ${t.nftFamily} ${t.name} is left out: iptables-nft-save's output of the same table is used`);
    else if (t.nftFamily && (t.nftFamily === 'ip' || t.nftFamily === 'ip6') && [...t.chains.keys()].some((c) => /^(PREROUTING|OUTPUT|INPUT|POSTROUTING)$/.test(c))) {
      notes.push(`table ${t.nftFamily} ${t.name} looks like iptables-nft's: nft cannot print every iptables rule (comments, TPROXY's options); ${t.nftFamily === 'ip' ? 'iptables' : 'ip6tables'}-save shows them in full`);
    }
    return !duplicate;
  });
}

function connectionFrom(options: ExplainOptions, podAddress: (family: IpFamily) => string): Connection {
  const to = options.to as NonNullable<ExplainOptions['to']>;
  const destination = to.address ?? podAddress(options.from?.address.includes(':') ? 6 : 4);
  return {
    direction: options.direction,
    protocol: options.protocol,
    destination,
    destinationPort: to.port,
    ...(options.from ? { source: options.from.address, ...(options.from.port !== undefined ? { sourcePort: options.from.port } : {}) } : {}),
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    // Without --gid the socket's group is the uid's number (as for the proxy, 1337:1337).
    ...(options.gid !== undefined || options.uid !== undefined ? { gid: options.gid ?? options.uid } : {}),
    ...(options.interface !== undefined ? { interface: options.interface } : {}),
  };
}

/** The facts for one connection: the tables of its family (dumps of unknown family applied to it) and, live, the kernel's route. */
async function explainOne(source: Source, connection: Connection): Promise<Explanation> {
  const notes = [...source.ruleset.notes, ...source.notes];
  let facts = source.facts;
  if (source.live && connection.direction === 'outbound') {
    const route = await readRoute(source.live.runner, source.live.where, connection);
    if (route) facts = { ...facts, route };
  }
  return explainConnection({ ruleset: { tables: source.ruleset.tables, inputs: source.ruleset.inputs, notes }, connection, facts, settings: source.settings });
}

function podAddressOf(source: Source): (family: IpFamily) => { address: string; standIn: boolean } {
  return (family) => {
    const known = source.facts.interfaces?.filter((i) => i.name !== 'lo').flatMap((i) => i.addresses).find((a) => familyOf(a) === family);
    return known ? { address: known, standIn: false } : { address: family === 4 ? StandInPodAddress.v4 : StandInPodAddress.v6, standIn: true };
  };
}

/** A source whose facts also know the stand-in address as the pod's, when one is used. */
function withStandIn(source: Source, address: string, standIn: boolean): Source {
  if (!standIn) return source;
  return {
    ...source,
    facts: { ...source.facts, interfaces: [...(source.facts.interfaces ?? []), { name: DefaultInterface, addresses: [address] }] },
    notes: [...source.notes, `the pod's address is not known: ${address} stands in for it (give --pod-ip)`],
  };
}

/** The DNS server the rules capture (a dns-to-proxy rule's address), else --dns-server, else the usual cluster DNS. */
function dnsServerOf(options: ExplainOptions, ruleset: PathRuleset): string {
  if (options.dnsServers[0]) return options.dnsServers[0];
  for (const table of ruleset.tables) {
    for (const chain of table.chains.values()) {
      for (const rule of chain.rules) {
        if (rule.purpose !== 'dns-to-proxy') continue;
        const term = rule.terms.find((t) => t.kind === 'destination');
        if (term?.kind === 'destination' && term.family === 4) return (term.cidrs[0] ?? '').split('/')[0] ?? DefaultClusterDns;
      }
    }
  }
  return DefaultClusterDns;
}

async function explainWholePod(options: ExplainOptions, source: Source): Promise<{ connection: LabelledConnection; explanation: Explanation }[]> {
  const address = podAddressOf(source);
  const v4 = address(4);
  const v6 = address(6);
  const hasIpv6 = source.ruleset.tables.some((t) => t.families.includes(6) && t.nftFamily !== 'inet') || !v6.standIn
    || source.ruleset.tables.some((t) => t.nftFamily === 'inet' && ![...t.chains.values()].some((c) => c.rules.some((r) => r.purpose === 'ipv6-not-captured')));
  let sourced = withStandIn(source, v4.address, v4.standIn);
  if (hasIpv6) sourced = withStandIn(sourced, v6.address, v6.standIn);
  if (source.ports.length === 0) sourced = { ...sourced, notes: [...sourced.notes, 'no declared ports: give --ports (or a manifest with --pod) for inbound lines'] };
  const connections = podConnections({
    ports: source.ports,
    podAddress: { v4: v4.address, ...(hasIpv6 ? { v6: v6.address } : {}) },
    serviceCidr: options.serviceCidr,
    apiServer: options.apiServer,
    dnsServer: dnsServerOf(options, source.ruleset),
    external: options.external,
    ipv6: hasIpv6,
  });
  const out: { connection: LabelledConnection; explanation: Explanation }[] = [];
  for (const connection of connections) out.push({ connection, explanation: await explainOne(sourced, connection.connection) });
  return out;
}

function exitCodeOf(code: string): number {
  if (code === ErrorCodes.InvalidInput) return 2;
  if (code === ErrorCodes.Internal) return 70;
  return 1;
}

export async function explain(argv: readonly string[], io: ExplainIo): Promise<number> {
  let options: ExplainOptions;
  try {
    const parsed = parseExplainFlags(argv);
    if (parsed.kind === 'help') {
      io.stdout(ExplainUsage);
      return 0;
    }
    options = parsed.options;
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    io.stderr(`outrigger explain: ${error.message}\n\n${ExplainUsage}`);
    return exitCodeOf(error.code);
  }
  try {
    const source = await readSource(options, io);
    if (options.wholePod) {
      const results = await explainWholePod(options, source);
      if (options.output === 'json') {
        io.stdout(`${JSON.stringify({ inputs: source.ruleset.inputs, connections: results.map((r) => ({ label: r.connection.label, ...explanationJson(r.explanation) })) }, null, 2)}\n`);
      } else {
        const width = Math.max(...results.map((r) => r.connection.label.length));
        const lines = results.map((r) => explanationLine(r.connection.label.padEnd(width), r.explanation));
        const notes = [...new Set(results.flatMap((r) => [...r.explanation.notes, ...r.explanation.run.assumptions]))];
        io.stdout(`${source.ruleset.inputs.map((i) => `rules: ${i}`).join('\n')}\n${lines.join('\n')}\n${notes.map((n) => `note: ${n}`).join('\n')}${notes.length > 0 ? '\n' : ''}`);
      }
      return 0;
    }
    const needsPodAddress = options.to?.address === undefined;
    const family: IpFamily = options.from?.address.includes(':') ? 6 : 4;
    const podAddress = podAddressOf(source)(family);
    const sourced = needsPodAddress ? withStandIn(source, podAddress.address, podAddress.standIn) : source;
    const connection = connectionFrom(options, () => podAddress.address);
    if (options.from && familyOf(options.from.address) !== familyOf(connection.destination)) {
      throw invalidInput([{ source: '--from', value: options.from.address, reason: `is IPv${familyOf(options.from.address)}, the destination IPv${familyOf(connection.destination)}` }], 'flags');
    }
    const explanation = await explainOne(sourced, connection);
    io.stdout(options.output === 'json' ? `${JSON.stringify(explanationJson(explanation), null, 2)}\n` : renderExplanationText(explanation));
    return 0;
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    io.stderr(`outrigger explain: ${error.message}\n`);
    return exitCodeOf(error.code);
  }
}

export async function run(argv: readonly string[], _env: NodeJS.ProcessEnv): Promise<number> {
  return explain(argv, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
}
