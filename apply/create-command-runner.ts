/**
 * The real CommandRunner: spawns directly (never through a shell) with a bounded run time.
 * With `netnsPath`, commands run as `nsenter --net=PATH -- file args...` so one runner reaches a
 * pod's network namespace from the node (CNI plugin) or from a test.
 *
 * It uses node:child_process rather than execa: this runs on every pod start, and execa's load
 * time alone (~20 ms) is most of Node's own start-up; the few features needed here are below.
 */

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ErrorCodes, OutriggerError } from '../common/errors.js';
import type { CommandResult, CommandRunner } from './command-runner.js';

export interface CommandRunnerOptions {
  readonly netnsPath?: string;
  /** Per-command time limit (default 30 s: iptables may wait for the xtables lock). */
  readonly timeoutMs?: number;
  readonly path?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function createCommandRunner(options: CommandRunnerOptions = {}): CommandRunner {
  const searchPath = options.path ?? process.env.PATH ?? DEFAULT_PATH;
  const found = new Map<string, Promise<boolean>>();

  async function lookup(file: string): Promise<boolean> {
    // Synchronous on purpose: a few stat-sized calls before the first spawn, where each thread
    // pool round trip of the async form would add latency to every pod start.
    const executable = (path: string): boolean => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    };
    if (file.includes('/')) return executable(file);
    for (const dir of searchPath.split(delimiter)) {
      if (dir && executable(join(dir, file))) return true;
    }
    return false;
  }

  return {
    has(file) {
      let result = found.get(file);
      if (!result) {
        result = lookup(file);
        found.set(file, result);
      }
      return result;
    },
    run(file, args, runOptions = {}) {
      const [command, commandArgs] = options.netnsPath
        ? ['nsenter', [`--net=${options.netnsPath}`, '--', file, ...args]]
        : [file, [...args]];
      return new Promise<CommandResult>((resolve, reject) => {
        const child = spawn(command, commandArgs, {
          env: { PATH: searchPath, LC_ALL: 'C' },
          stdio: [runOptions.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
          timeout: options.timeoutMs ?? 30_000,
        });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
        child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.on('error', (error: NodeJS.ErrnoException) => {
          const reason = error.code === 'ENOENT' ? 'not found on PATH' : error.message;
          reject(new OutriggerError(ErrorCodes.MissingDependency, `cannot run ${command}: ${reason}`, { cause: error }));
        });
        child.on('close', (code, signal) => {
          const err = Buffer.concat(stderr).toString('utf8');
          resolve({
            exitCode: code ?? 128,
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: signal ? `${err}\n${command} was stopped by ${signal} (time limit ${options.timeoutMs ?? 30_000} ms)` : err,
          });
        });
        if (runOptions.input !== undefined) {
          child.stdin?.on('error', () => {}); // the exit status reports a reader that quit early
          child.stdin?.end(runOptions.input);
        }
      });
    },
  };
}
