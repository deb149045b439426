/**
 * CHECK: the previous result must be there, and for a pod prepared for CNI mode the namespace
 * must hold exactly the planned capture rules (fingerprint and rule counts, routing for TPROXY).
 * Changes nothing.
 */

import { verifyCapture } from '../../apply/verify-capture.js';
import { CniError, CniErrorCodes } from '../skel/cni-error.js';
import type { CmdArgs } from '../skel/skel.js';
import { requirePrevResult } from './cmd-add.js';
import { hostFactsFromResult } from './host-facts-from-result.js';
import { decidePod } from './pod-capture.js';
import { type PluginContext, requireNetns } from './plugin-context.js';

export async function cmdCheck(args: CmdArgs, ctx: PluginContext): Promise<void> {
  const { addresses } = requirePrevResult(ctx.conf.prevResult);
  const decision = await decidePod(ctx.conf, ctx.pod, ctx.log);
  if (decision.kind === 'skip') return;
  await requireNetns(args.netns);
  const differences = await verifyCapture({
    config: decision.config,
    facts: hostFactsFromResult(addresses),
    runner: ctx.runner(args.netns),
    backend: ctx.conf.iptablesBackend,
    inOwnNamespace: false,
  });
  if (differences.length > 0) throw new CniError(CniErrorCodes.captureNotApplied, 'the pod\'s capture rules are not in place', differences.join('\n'));
}
