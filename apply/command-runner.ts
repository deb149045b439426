/**
 * The one seam for side effects of the applier: run a program with optional stdin and get its
 * exit code and output. The real runner uses execa; when given a network namespace path it runs
 * every command through `nsenter --net=PATH`, which is how the CNI plugin reaches a pod.
 * Tests and the planner never spawn anything themselves.
 */

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  /** Runs `file args...`; never throws for a non-zero exit (callers decide), only for a missing binary. */
  run(file: string, args: readonly string[], options?: { readonly input?: string }): Promise<CommandResult>;
  /** Whether `file` can be found on PATH (cached). */
  has(file: string): Promise<boolean>;
}
