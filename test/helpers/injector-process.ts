/**
 * The built CLI's injector (`node dist/outrigger.mjs injector`) as a child process on 127.0.0.1,
 * files TLS mode with a test CA: its port, its JSON log lines, its pid (for /proc), and a stop that
 * always kills it. Starting is bounded in time; a missing build fails with the reason.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './outrigger-cli.js';
import { type TestPki, testPki, waitFor, writeAtomically } from './injector-https.js';

export interface InjectorProcess {
  readonly port: number;
  readonly pid: number;
  readonly pki: TestPki;
  /** The mounted-Secret-style directory it serves tls.crt and tls.key from (writeAtomically to reload). */
  readonly tlsDir: string;
  readonly lines: Record<string, unknown>[];
  stderr(): string;
  /** SIGKILL (if still running) and the temporary directory removed; safe to call twice. */
  stop(): Promise<void>;
}

export async function startInjectorProcess(options: { readonly extraArgs?: readonly string[]; readonly env?: NodeJS.ProcessEnv; readonly pki?: TestPki } = {}): Promise<InjectorProcess> {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
  const dir = mkdtempSync(join(tmpdir(), 'or-injector-proc-'));
  const pki = options.pki ?? (await testPki());
  writeAtomically(join(dir, 'tls'), { 'tls.crt': pki.serving.cert, 'tls.key': pki.serving.key });
  const child: ChildProcess = spawn(
    process.execPath,
    [cliPath, 'injector', '--address', '127.0.0.1', '--port', '0', '--tls-cert-file', join(dir, 'tls', 'tls.crt'), '--tls-key-file', join(dir, 'tls', 'tls.key'), '--shutdown-drain', '0', ...(options.extraArgs ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env },
  );
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout?.on('data', (c: Buffer) => {
    buffered += c.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`the injector to listen (stderr: ${stderr})`, () => {
      if (child.exitCode !== null) throw new Error(`the injector exited with ${child.exitCode}: ${stderr}`);
      return lines.some((l) => l.msg === 'injector listening (HTTPS)');
    }, 20_000);
  } catch (error) {
    await stop();
    throw error;
  }
  const port = Number(lines.find((l) => l.msg === 'injector listening (HTTPS)')?.port);
  return { port, pid: child.pid as number, pki, tlsDir: join(dir, 'tls'), lines, stderr: () => stderr, stop };
}
