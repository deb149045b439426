/**
 * The bootstrap Envoy reads in an injected pod: the `--config-yaml` argument of the proxy
 * container, with `$(VAR)` references expanded as the kubelet expands container args (from the
 * container's env, downward-API fields given by the caller; `$$` is a literal `$`, unknown
 * references stay as written), then parsed as YAML, as Envoy parses `--config-yaml`.
 */

import { parse as parseYaml } from 'yaml';

interface ContainerLike {
  readonly args?: readonly string[];
  readonly env?: readonly { readonly name: string; readonly value?: string; readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string } } }[];
}

/** The `--config-yaml` value as Envoy receives it (after the kubelet's expansion). */
export function expandedBootstrapArg(container: ContainerLike, fieldValues: Readonly<Record<string, string>>): string {
  const args = container.args ?? [];
  const at = args.indexOf('--config-yaml');
  const arg = at === -1 ? undefined : args[at + 1];
  if (arg === undefined) throw new Error(`the proxy container has no --config-yaml argument: ${JSON.stringify(args)}`);
  const vars = new Map<string, string>();
  for (const env of container.env ?? []) {
    const fieldPath = env.valueFrom?.fieldRef?.fieldPath;
    if (env.value !== undefined) vars.set(env.name, expandKubeletVars(env.value, vars));
    else if (fieldPath !== undefined && fieldValues[fieldPath] !== undefined) vars.set(env.name, fieldValues[fieldPath]);
  }
  return expandKubeletVars(arg, vars);
}

/** The bootstrap document Envoy gets from the proxy container of an injected pod. */
export function proxyBootstrap(container: ContainerLike, fieldValues: Readonly<Record<string, string>>): unknown {
  return parseYaml(expandedBootstrapArg(container, fieldValues));
}

/** Kubernetes' `$(VAR)` expansion of command and args. */
export function expandKubeletVars(input: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const next = input[i + 1];
    if (input[i] !== '$' || next === undefined) out += input[i];
    else if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(' && input.indexOf(')', i + 2) !== -1) {
      const close = input.indexOf(')', i + 2);
      const name = input.slice(i + 2, close);
      out += vars.get(name) ?? `$(${name})`;
      i = close;
    } else out += '$';
  }
  return out;
}
