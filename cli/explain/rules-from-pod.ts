/**
 * Rules from a pod manifest (a Pod, or the pod template of a Deployment and the other workload
 * kinds, YAML or JSON, one pod in the file): what its capture applies, with no kernel.
 * - An injected pod (`kubectl get pod -o yaml`): the args of its proxy-init (outrigger's `init ...`
 *   or Istio's `istio-iptables ...`), or in CNI mode the settings the injector wrote for the CNI
 *   plugin (`outrigger.dev/capture-settings`).
 * - A pod not injected yet: what the injector would decide (skip reasons, Istio's traffic
 *   annotations over the injector's configuration), so each setting is named as the annotation or
 *   configuration key that set it.
 * Also the pod's declared container ports (for --whole-pod) and its IPs (`status.podIPs`).
 */

import { isMap, isSeq, parseAllDocuments } from 'yaml';
import { buildCaptureConfig } from '../../capture/build-capture-config.js';
import { CaptureSettingsAnnotation, decodeCaptureSettings } from '../../capture/pod-annotations.js';
import { formatAddress, parseIp } from '../../capture/ip-address.js';
import { invalidInput } from '../../common/errors.js';
import type { PathRuleset } from '../../explain/path-model.js';
import type { SettingContext } from '../../explain/setting-names.js';
import type { InjectorConfig } from '../../injector/config/injector-config.js';
import type { Container, Pod } from '../../injector/kube/pod-types.js';
import { decideInjection } from '../../injector/mutation/decide-injection.js';
import { readPod } from '../../injector/mutation/read-pod.js';
import { resolvePodOptions } from '../../injector/mutation/resolve-pod-options.js';
import { SkipReasons } from '../../injector/mutation/skip-reasons.js';
import { podPathOf } from '../../injector/offline/workload-kinds.js';
import type { DeclaredPort } from '../../explain/pod-connections.js';
import { type PlanFacts, plannedRuleset, rulesFromFlags } from './planned-rules.js';

export interface PodRules {
  readonly ruleset: PathRuleset;
  readonly settings: SettingContext;
  /** `Deployment web`, `Pod web-1`. */
  readonly name: string;
  readonly ports: readonly DeclaredPort[];
  readonly podIps: readonly string[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function objectName(value: Json): string {
  const meta = isObject(value.metadata) ? value.metadata : {};
  return `${typeof value.kind === 'string' ? value.kind : 'object'} ${typeof meta.name === 'string' ? meta.name : '(no name)'}`;
}

/** Every object of a YAML/JSON stream, Lists flattened. */
function objectsOf(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const values: unknown[] = [];
  for (const [i, doc] of list.entries()) {
    if (doc.errors.length > 0) throw invalidInput([{ source: `--pod ${source} document ${i + 1}`, value: '', reason: `not valid YAML or JSON: ${doc.errors[0]?.message.split('\n')[0] ?? ''}` }], 'pod manifest');
    if (!isMap(doc.contents) && !isSeq(doc.contents)) continue;
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (isObject(value) && value.kind === 'List' && Array.isArray(value.items)) values.push(...(value.items as unknown[]));
    else values.push(value);
  }
  return values;
}

function podOf(text: string, source: string): { pod: Pod; name: string; status: Json } {
  const pods: { value: unknown; name: string; status: Json }[] = [];
  for (const value of objectsOf(text, source)) {
    if (!isObject(value)) continue;
    const path = podPathOf(value.apiVersion, value.kind);
    if (!path) continue;
    let node: unknown = value;
    for (const key of path) node = isObject(node) ? node[key as string] : undefined;
    pods.push({ value: node, name: objectName(value), status: path.length === 0 && isObject(value.status) ? value.status : {} });
  }
  if (pods.length === 0) throw invalidInput([{ source: '--pod', value: source, reason: 'holds no Pod and no workload with a pod template' }], 'pod manifest');
  if (pods.length > 1) throw invalidInput([{ source: '--pod', value: source, reason: `holds ${pods.length} pods (${pods.map((p) => p.name).join(', ')}); give a file with one` }], 'pod manifest');
  const found = pods[0] as (typeof pods)[number];
  const read = readPod(found.value);
  if (!read.ok) throw invalidInput(read.problems.map((p) => ({ ...p, source: `--pod ${source}: ${p.source}` })), 'pod manifest');
  return { pod: read.pod, name: found.name, status: found.status };
}

function declaredPorts(pod: Pod, config: InjectorConfig): DeclaredPort[] {
  const added = new Set([config.containerNames.proxy, config.containerNames.init, config.containerNames.validation, 'istio-proxy', 'istio-init', 'istio-validation']);
  const ports: DeclaredPort[] = [];
  for (const container of [...(pod.spec.containers ?? []), ...(pod.spec.initContainers ?? [])] as Container[]) {
    if (added.has(container.name)) continue;
    for (const port of container.ports ?? []) {
      if (typeof port.containerPort !== 'number' || port.protocol === 'SCTP') continue;
      ports.push({ port: port.containerPort, protocol: port.protocol === 'UDP' ? 'udp' : 'tcp', ...(port.name ? { name: `${container.name}/${port.name}` } : { name: container.name }) });
    }
  }
  return ports;
}

function podIpsOf(status: Json): string[] {
  const ips = Array.isArray(status.podIPs) ? status.podIPs.map((p: unknown) => (isObject(p) ? p.ip : undefined)) : [status.podIP];
  return ips.flatMap((ip) => {
    const parsed = typeof ip === 'string' ? parseIp(ip) : null;
    return parsed ? [formatAddress(parsed)] : [];
  });
}

/** proxy-init's args in an injected pod: outrigger's `init ...`, or Istio's `istio-iptables ...`. */
function injectedInitArgs(pod: Pod): { args: string[]; container: string } | undefined {
  for (const container of (pod.spec.initContainers ?? []) as Container[]) {
    const words = [...((container.command as string[] | undefined) ?? []), ...((container.args as string[] | undefined) ?? [])];
    const at = words.findIndex((w, i) => (w === 'init' && /outrigger/.test(words[i - 1] ?? '')) || /(^|\/)istio-iptables$/.test(w));
    if (at < 0 || words.includes('--skip-rule-apply')) continue;
    const env = ((container.env as { name: string; value?: string }[] | undefined) ?? []).filter((e) => typeof e.value === 'string').map((e) => `${e.name}=${e.value}`);
    return { args: [...words.slice(at + 1), ...env], container: container.name };
  }
  return undefined;
}

export function rulesFromPod(text: string, source: string, config: InjectorConfig, namespace: string, facts: Omit<PlanFacts, 'ipv6'>): PodRules {
  const { pod, name, status } = podOf(text, source);
  const ports = declaredPorts(pod, config);
  const podIps = podIpsOf(status);
  const withIps: Omit<PlanFacts, 'ipv6'> = { ...facts, podHasIpv6: facts.podHasIpv6 || podIps.some((ip) => ip.includes(':')) };
  const base = { name, ports, podIps };
  const injected = injectedInitArgs(pod);
  if (injected) {
    return { ...base, ruleset: rulesFromFlags(injected.args, withIps), settings: { kind: 'flags' } };
  }
  const annotations = pod.metadata?.annotations ?? {};
  const settingsText = annotations[CaptureSettingsAnnotation];
  if (settingsText !== undefined) {
    const raw = decodeCaptureSettings(settingsText);
    const ruleset = plannedRuleset(buildCaptureConfig(raw), { ...withIps, ipv6: 'auto' }, `the CNI plugin's settings of ${name} (${CaptureSettingsAnnotation})`);
    return { ...base, ruleset, settings: { kind: 'manifest', raw } };
  }
  const decision = decideInjection(pod, pod.metadata?.namespace || namespace, config);
  if (!decision.inject) {
    return { ...base, ruleset: { tables: [], inputs: [`${name}: not injected`], notes: [`${name} is not injected, so nothing is captured: ${SkipReasons[decision.reason]}`] }, settings: { kind: 'manifest', raw: {} } };
  }
  const resolved = resolvePodOptions(annotations, config);
  if (!resolved.ok) throw invalidInput(resolved.problems.map((p) => ({ ...p, source: `--pod ${source}: ${p.source}` })), 'pod annotations');
  const capture = resolved.options.capture;
  if (!capture) {
    return { ...base, ruleset: { tables: [], inputs: [`${name}: interception mode NONE`], notes: [`${name} gets the proxy with interception mode NONE: nothing is captured`] }, settings: { kind: 'manifest', raw: {} } };
  }
  const ruleset = plannedRuleset(capture.config, { ...withIps, ipv6: 'auto' }, `${name} as the injector would inject it${resolved.options.cniMode ? ' (CNI mode)' : ''}`);
  return { ...base, ruleset, settings: { kind: 'manifest', raw: capture.raw } };
}
