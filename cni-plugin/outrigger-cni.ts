/**
 * The `outrigger-cni` executable: one CNI invocation per process. Reads stdin whole, runs the
 * skeleton with the real environment and stdout, and exits with its status. Built into a
 * single executable (scripts/build-cni.mjs) because nodes have no Node.js.
 *
 * The plugin's commands (and with them pino, the applier and the planner) are loaded only when a
 * command needs them, so VERSION and refusals of bad input answer at Node's own start-up cost.
 */

import { readFileSync } from 'node:fs';
import type { CniPlugin } from './skel/skel.js';
import { runSkel } from './skel/skel.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return ''; // no stdin (a closed or absent descriptor): the skeleton reports what is missing
  }
}

const env = process.env;
let loaded: Promise<CniPlugin> | undefined;
const plugin = (): Promise<CniPlugin> => (loaded ??= import('./plugin/create-plugin.js').then((m) => m.createPlugin(env)));
const lazy: CniPlugin = {
  add: async (args) => (await plugin()).add(args),
  del: async (args) => (await plugin()).del(args),
  check: async (args) => (await plugin()).check(args),
  status: async (args) => (await plugin()).status(args),
  gc: async (args) => (await plugin()).gc(args),
};
/**
 * Hands the whole answer to the kernel before the process exits. stdout is a pipe when a runtime
 * calls the plugin, and Node writes pipes asynchronously past the pipe's buffer (64 KiB): exiting
 * right after write() would cut a larger result or error there. If the runtime has stopped
 * reading (EPIPE), there is no one left to answer.
 */
function writeStdout(text: string): Promise<void> {
  if (text === '') return Promise.resolve();
  process.stdout.on('error', () => undefined);
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

let answer = '';
runSkel({ env, stdin: readStdin(), stdout: (text) => (answer += text) }, lazy).then(
  async (code) => {
    await writeStdout(answer);
    // Exit at once rather than wait for Node's idle teardown (spawn timers, worker threads),
    // which costs milliseconds on every pod start.
    process.exit(code);
  },
  (error: unknown) => {
    // runSkel turns every error into CNI JSON; reaching here is a bug in the skeleton itself.
    process.stderr.write(`outrigger-cni: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
