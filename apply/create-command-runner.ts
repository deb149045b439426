/**
 * The real CommandRunner: spawns with execa, never through a shell, with a bounded run time.
 * With `netnsPath`, commands run as `nsenter --net=PATH -- file args...` so one runner reaches
 * a pod's network namespace from the node (CNI plugin) or from a test.
 */

import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { CommandResult, CommandRunner } from './command-runner.js';

export interface CommandRunnerOptions {
  readonly netnsPath?: string;
  /** Per-command time limit (default 30 s: iptables may wait for the xtables lock). */
  readonly timeoutMs?: number;
  readonly path?: string;
}

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const searchPath = options.path ?? process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
  const found = new Map<string, Promise<boolean>>();

  async function lookup(file: string): Promise<boolean> {
    if (file.includes('/')) return access(file, constants.X_OK).then(() => true, () => false);
    for (const dir of searchPath.split(delimiter)) {
      if (dir && (await access(join(dir, file), constants.X_OK).then(() => true, () => false))) return true;
    }
    return false;
  }

  const has = (file: string): Promise<boolean> => {
    let result = found.get(file);
    if (!result) {
      result = lookup(file);
      found.set(file, result);
    }
    return result;
  };

  return {
    has,
    async run(file, args, runOptions = {}): Promise<CommandResult> {
      const [command, commandArgs] = options.netnsPath
        ? ['nsenter', [`--net=${options.netnsPath}`, '--', file, ...args]]
        : [file, [...args]];
      const result = await execa(command, commandArgs, {
        reject: false,
        timeout: options.timeoutMs ?? 30_000,
        env: { PATH: searchPath, LC_ALL: 'C' },
        extendEnv: false,
        stripFinalNewline: false,
        ...(runOptions.input !== undefined ? { input: runOptions.input } : { stdin: 'ignore' as const }),
      });
      if (result.failed && result.exitCode === undefined) {
        const reason = result.timedOut ? 'timed out' : (result.code === 'ENOENT' ? 'not found' : (result.shortMessage ?? 'failed to start'));
        throw new OutriggerError(ErrorCodes.MissingDependency, `cannot run ${command}: ${reason}`, { cause: result });
      }
      return { exitCode: result.exitCode ?? 1, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
    },
  };
}
