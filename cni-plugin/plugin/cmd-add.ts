/**
 * ADD as a chained plugin: require the previous plugin's result, decide whether the pod is one
 * the injector prepared for CNI mode, apply the same capture plan as `outrigger init` inside its
 * network namespace (idempotent; all or nothing), and hand on prevResult unchanged in the
 * caller's cniVersion.
 */

import { applyCapture } from '../../apply/apply-capture.js';
import { invalidInput } from '../../common/errors.js';
import { CniError, CniErrorCodes } from '../skel/cni-error.js';
import { convertResult, type CniResult, readResult, type ResultAddress } from '../skel/cni-result.js';
import type { CmdArgs } from '../skel/skel.js';
import { hostFactsFromResult } from './host-facts-from-result.js';
import { decidePod, SkipReasons } from './pod-capture.js';
import { type PluginContext, requireNetns } from './plugin-context.js';

/** The validated prevResult and its addresses (code 7 if absent or malformed). */
export function requirePrevResult(prevResult: unknown): { result: CniResult; addresses: ResultAddress[] } {
  if (prevResult === undefined || prevResult === null) {
    throw new CniError(
      CniErrorCodes.invalidNetworkConfig,
      'outrigger-cni is a chained plugin and needs prevResult',
      'prevResult: required; list outrigger-cni after the network plugin in a .conflist',
    );
  }
  const read = readResult(prevResult);
  if (!read.ok) throw invalidInput(read.problems, 'prevResult');
  return { result: prevResult as CniResult, addresses: read.addresses };
}

export async function cmdAdd(args: CmdArgs, ctx: PluginContext): Promise<CniResult> {
  const { result, addresses } = requirePrevResult(ctx.conf.prevResult);
  const output = convertResult(result, args.cniVersion);
  const decision = await decidePod(ctx.conf, ctx.pod, ctx.log);
  if (decision.kind === 'skip') {
    ctx.log.info({ skip: decision.reason }, `not capturing: ${SkipReasons[decision.reason]}`);
    return output;
  }
  await requireNetns(args.netns);
  const report = await applyCapture({
    config: decision.config,
    facts: hostFactsFromResult(addresses),
    runner: ctx.runner(args.netns),
    backend: ctx.conf.iptablesBackend,
    inOwnNamespace: false,
    mayHoldEarlierRun: false, // a new sandbox: no earlier ADD without a DEL (CNI spec)
    log: ctx.log,
  });
  ctx.log.info({ source: decision.source, families: report.families }, 'capture applied');
  return output;
}
