/**
 * outrigger-cni's command functions for the skeleton. Each command parses the network config
 * and opens its logger first; a failure is logged (to the log file or stderr) and rethrown for
 * the skeleton to print as CNI error JSON.
 */

import type { CniResult } from '../skel/cni-result.js';
import type { CmdArgs, CniPlugin } from '../skel/skel.js';
import { cmdAdd } from './cmd-add.js';
import { cmdCheck } from './cmd-check.js';
import { cmdDel } from './cmd-del.js';
import { cmdStatus } from './cmd-status.js';
import { createPluginContext, type PluginContext } from './plugin-context.js';

type Env = Readonly<Record<string, string | undefined>>;

async function withContext<T>(args: CmdArgs, env: Env, body: (ctx: PluginContext) => Promise<T>): Promise<T> {
  const ctx = createPluginContext(args, env);
  try {
    return await body(ctx);
  } catch (error) {
    ctx.log.error({ err: error }, `${args.command} failed`);
    throw error;
  }
}

export function createPlugin(env: Env): CniPlugin {
  return {
    add: (args): Promise<CniResult> => withContext(args, env, (ctx) => cmdAdd(args, ctx)),
    del: (args) => withContext(args, env, (ctx) => cmdDel(args, ctx)),
    check: (args) => withContext(args, env, (ctx) => cmdCheck(args, ctx)),
    status: (args) => withContext(args, env, (ctx) => cmdStatus(ctx, env.PATH)),
    gc: (args) => withContext(args, env, async (ctx) => ctx.log.debug('GC: nothing to collect')),
  };
}
