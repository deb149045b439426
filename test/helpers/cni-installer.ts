/**
 * Runs the real `outrigger cni install` process (built CLI) against a temporary node layout:
 * `<root>/bin` (CNI bin dir), `<root>/net.d` (CNI config dir), `<root>/sa` (service-account
 * token, CA, namespace). Reads its JSON logs from stderr, finds its status port from the log,
 * and stops it with SIGTERM. Every process started here is killed by stopAllInstallers().
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from './outrigger-cli.js';

export interface NodeLayout {
  readonly root: string;
  readonly binDir: string;
  readonly confDir: string;
  readonly tokenFile: string;
  readonly caFile: string;
  readonly namespaceFile: string;
  remove(): void;
}

export function makeNodeLayout(caPem: string, token: string): NodeLayout {
  const root = mkdtempSync(join(tmpdir(), 'outrigger-cni-node-'));
  const layout = {
    root, binDir: join(root, 'bin'), confDir: join(root, 'net.d'),
    tokenFile: join(root, 'sa', 'token'), caFile: join(root, 'sa', 'ca.crt'), namespaceFile: join(root, 'sa', 'namespace'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  for (const dir of [layout.binDir, layout.confDir, join(root, 'sa')]) mkdirSync(dir, { recursive: true });
  writeFileSync(layout.tokenFile, token);
  writeFileSync(layout.caFile, caPem);
  writeFileSync(layout.namespaceFile, 'outrigger');
  return layout;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export interface InstallerProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  stderr(): string;
  /** Resolves with the status port once the installer serves /readyz. */
  statusPort(): Promise<number>;
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then the exit code (or the signal that ended it). */
  stop(): Promise<number | string>;
  exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** `netnsPath`: run it in that network namespace (nsenter execs it: same pid, signals reach it). */
export function startInstaller(layout: NodeLayout, args: readonly string[], env: Record<string, string>, options: { netnsPath?: string } = {}): InstallerProcess {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
  const command = [process.execPath, cliPath, 'cni', 'install',
    '--cni-bin-dir', layout.binDir, '--cni-conf-dir', layout.confDir, '--token-file', layout.tokenFile, '--ca-file', layout.caFile,
    '--namespace-file', layout.namespaceFile, '--metrics-port', '0', '--log-level', 'debug', ...args];
  const [file = '', ...rest] = options.netnsPath ? ['nsenter', `--net=${options.netnsPath}`, '--', ...command] : command;
  const child = spawn(file, rest, {
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  let text = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
    partial += chunk.toString('utf8');
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // plain stderr text (exit-2 messages)
      }
    }
    for (const wake of waiters) wake();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
      for (const wake of waiters) wake();
    });
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 15_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = logs.find(match);
        if (found) {
          cleanup();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          reject(new Error(`the installer exited before the expected log line; stderr:\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`the expected log line did not come in ${timeoutMs} ms; stderr:\n${text}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return {
    child, logs, exited, waitForLog,
    stderr: () => text,
    statusPort: async () => Number((await waitForLog((l) => l.msg === 'serving /readyz and /metrics')).port),
    stop: async () => {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export function stopAllInstallers(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Polls `check` every 50 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

export function writeAtomically(path: string, text: string): void {
  const temp = `${path}.writer-tmp`;
  writeFileSync(temp, text);
  // rename(2) replaces the file in one step, as network plugins' installers do.
  renameSync(temp, path);
}
