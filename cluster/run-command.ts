/**
 * Bounded command runs for the cluster harness: every call has a timeout and names the command and
 * its output when it fails. Synchronous on purpose (set-up and teardown steps are sequential and
 * short); long waits use wait-until.ts instead.
 */

import { spawnSync } from 'node:child_process';

export interface CommandResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export function run(file: string, args: readonly string[], options: RunOptions = {}): CommandResult {
  const result = spawnSync(file, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    maxBuffer: 256 * 1024 * 1024,
    ...(options.input !== undefined ? { input: options.input } : { stdio: ['ignore', 'pipe', 'pipe'] }),
    ...(options.env ? { env: options.env } : {}),
  });
  if (result.error) {
    return { status: 127, stdout: result.stdout ?? '', stderr: `${result.error.message}\n${result.stderr ?? ''}` };
  }
  return { status: result.status ?? 128, stdout: result.stdout, stderr: result.stderr };
}

/** Like run(), but throws with the command line and its output unless it exits 0. */
export function runOk(file: string, args: readonly string[], options: RunOptions = {}): string {
  const result = run(file, args, options);
  if (result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.status}:\n${result.stderr.trim()}${result.stdout ? `\n${result.stdout.trim()}` : ''}`);
  }
  return result.stdout;
}
