/**
 * Runs the built `outrigger` CLI (dist/, made by `npm run build`) inside a test namespace, from a
 * staged copy that every user can reach.
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
  // Always the staged copy: as root, `--run-validation` starts its probe client as uid 1337 from
  // the same Node binary (process.execPath), which that user must be able to run too.
  const { node, cli } = cliForAnyUser();
  return ns.run(node, [cli, ...args], options);
}
