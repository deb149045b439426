/**
 * The `outrigger-cni` executable: one CNI invocation per process. Reads stdin whole, runs the
 * skeleton with the real environment and stdout, and exits with its status. Built into a
 * single executable (scripts/build-cni.mjs) because nodes have no Node.js.
 */

import { readFileSync } from 'node:fs';
import { createPlugin } from './plugin/create-plugin.js';
import { runSkel } from './skel/skel.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return ''; // no stdin (a closed or absent descriptor): the skeleton reports what is missing
  }
}

const env = process.env;
runSkel({ env, stdin: readStdin(), stdout: (text) => process.stdout.write(text) }, createPlugin(env)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // runSkel turns every error into CNI JSON; reaching here is a bug in writing stdout itself.
    process.stderr.write(`outrigger-cni: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
