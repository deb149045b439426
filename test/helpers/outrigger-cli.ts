/**
 * Runs the built `outrigger` CLI (dist/, made by `npm run build`) inside a test namespace; as
 * another user, from a staged copy that user can reach.
 */

import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stageForOtherUsers } from '../../scripts/stage-for-other-users.js';
import type { Namespace, RunOptions, RunResult } from './netns.js';

export const cliPath = fileURLToPath(new URL('../../dist/outrigger.mjs', import.meta.url));

/**
 * Node and the built CLI where any user can run them (the proxy's uid 1337 runs
 * `outrigger init --run-validation`), whatever the checkout's directory allows.
 */
export function cliForAnyUser(): { readonly node: string; readonly cli: string } {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
  return { node: stageForOtherUsers(process.execPath), cli: join(stageForOtherUsers(dirname(cliPath)), basename(cliPath)) };
}

export function outrigger(ns: Namespace, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
  if (options.uid !== undefined) {
    const { node, cli } = cliForAnyUser();
    return ns.run(node, [cli, ...args], options);
  }
  return ns.run(process.execPath, [cliPath, ...args], options);
}
