/**
 * What every command shares: the parsed network config, a logger (to `logFile`, or stderr;
 * never stdout; best effort, see log-destination.ts) tagged with the container and pod, and a
 * command runner that enters the pod's network namespace with `nsenter --net=CNI_NETNS` and uses
 * the node's iptables binaries.
 */

import { stat } from 'node:fs/promises';
import type { CommandRunner } from '../../apply/command-runner.js';
import { createCommandRunner } from '../../apply/create-command-runner.js';
import { createLogger, type Logger } from '../../common/log.js';
import { CniError, CniErrorCodes } from '../skel/cni-error.js';
import type { CmdArgs } from '../skel/skel.js';
import { openLogDestination } from './log-destination.js';
import { type NetConf, parseNetConf } from './net-conf.js';
import { type PodIdentity, podIdentity } from './pod-identity.js';

export interface PluginContext {
  readonly conf: NetConf;
  readonly pod: PodIdentity | null;
  readonly log: Logger;
  runner(netns: string): CommandRunner;
}

/** Runtimes start plugins with a short PATH; the node's iptables live in the sbin directories. */
export const NODE_PATH = '/usr/local/sbin:/usr/sbin:/sbin:/usr/local/bin:/usr/bin:/bin';

function openLogger(conf: NetConf): Logger {
  const { stream, problem } = openLogDestination(conf.logFile, 'outrigger-cni');
  const log = createLogger({ name: 'outrigger-cni', level: conf.logLevel, destination: stream });
  if (problem) log.warn({ logFile: conf.logFile, reason: problem }, 'cannot use logFile; logging to stderr');
  return log;
}

export function createPluginContext(args: CmdArgs, env: Readonly<Record<string, string | undefined>>): PluginContext {
  const conf = parseNetConf(args.config);
  const pod = podIdentity(args.args);
  const log = openLogger(conf).child({
    command: args.command,
    ...(args.containerId ? { containerId: args.containerId } : {}),
    ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}),
  });
  const path = env.PATH ? `${env.PATH}:${NODE_PATH}` : NODE_PATH;
  return { conf, pod, log, runner: (netns) => createCommandRunner({ netnsPath: netns, path }) };
}

/** Whether a network namespace path still exists (the runtime removes it when the pod goes). */
export async function netnsExists(path: string): Promise<boolean> {
  if (!path) return false;
  return stat(path).then(() => true, () => false);
}

/** ADD and CHECK act inside the pod's namespace: code 3 (container unknown) when it is gone. */
export async function requireNetns(path: string): Promise<void> {
  if (!(await netnsExists(path))) {
    throw new CniError(CniErrorCodes.unknownContainer, `network namespace ${path} does not exist`, 'CNI_NETNS: no such file');
  }
}
