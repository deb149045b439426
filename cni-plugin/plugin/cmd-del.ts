/**
 * DEL: remove every rule, chain and routing entry outrigger added in the pod's namespace, and
 * nothing else. Succeeds when there is nothing to remove: no CNI_NETNS, a namespace that is
 * already gone (also if it vanishes while we work), or one without our rules. Settings come from
 * the runtime's annotations when present (for a custom TPROXY mark/table), never from the API
 * server: the pod may be gone, and DEL must not wait on it.
 */

import { cleanupCapture } from '../../apply/apply-capture.js';
import { buildCaptureConfig } from '../../capture/build-capture-config.js';
import type { CaptureConfig } from '../../capture/capture-config.js';
import { CaptureSettingsAnnotation } from '../../capture/pod-annotations.js';
import type { CmdArgs } from '../skel/skel.js';
import { configFromSettingsAnnotation } from './pod-capture.js';
import { netnsExists, type PluginContext } from './plugin-context.js';

function cleanupConfig(ctx: PluginContext): CaptureConfig {
  const settings = ctx.conf.podAnnotations?.[CaptureSettingsAnnotation];
  if (settings !== undefined) {
    try {
      return configFromSettingsAnnotation(settings, ctx.conf.nativeNftables);
    } catch (error) {
      ctx.log.warn({ err: error }, 'ignoring unusable capture settings on DEL; cleaning up with the defaults');
    }
  }
  return buildCaptureConfig({});
}

export async function cmdDel(args: CmdArgs, ctx: PluginContext): Promise<void> {
  if (ctx.pod && ctx.conf.excludeNamespaces.includes(ctx.pod.namespace)) return;
  if (!(await netnsExists(args.netns))) {
    ctx.log.info({ netns: args.netns || null }, 'network namespace already gone; nothing to clean up');
    return;
  }
  try {
    await cleanupCapture({ config: cleanupConfig(ctx), runner: ctx.runner(args.netns), backend: ctx.conf.iptablesBackend, inOwnNamespace: false, log: ctx.log });
  } catch (error) {
    if (!(await netnsExists(args.netns))) {
      ctx.log.info('network namespace disappeared during cleanup; nothing left to remove');
      return;
    }
    throw error;
  }
}
