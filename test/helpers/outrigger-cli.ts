/** Runs the built `outrigger` CLI (dist/, made by `npm run build`) inside a test namespace. */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Namespace, RunOptions, RunResult } from './netns.js';

export const cliPath = fileURLToPath(new URL('../../dist/outrigger.mjs', import.meta.url));

export function outrigger(ns: Namespace, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
  return ns.run(process.execPath, [cliPath, ...args], options);
}
