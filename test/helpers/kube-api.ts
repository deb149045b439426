/**
 * Starts test/helpers/kube-api-stand-in.mjs (a stand-in for the Kubernetes API server, HTTPS with
 * a fresh self-signed certificate for 127.0.0.1) inside a namespace, and writes the kubeconfig a
 * CNI plugin in that namespace uses to reach it (CA data inline, bearer token from a file).
 * Every request the stand-in saw is kept for assertions; stop() ends it (also on test failure
 * through stopAllKubeApis()).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';
import type { Namespace } from './netns.js';

const script = fileURLToPath(new URL('./kube-api-stand-in.mjs', import.meta.url));
const running = new Set<ChildProcess>();

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly tokenOk: boolean;
  readonly accept: string | null;
}

export interface KubeApiStandIn {
  readonly port: number;
  readonly caPem: string;
  readonly requests: SeenRequest[];
  stop(): void;
}

export async function startKubeApi(ns: Namespace, dir: string, options: { token: string; pods: Record<string, unknown>; trickleMs?: number }): Promise<KubeApiStandIn> {
  const pems = await generate([{ name: 'commonName', value: 'kube-apiserver stand-in' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    ],
  });
  const cert = join(dir, 'api.crt');
  const key = join(dir, 'api.key');
  const pods = join(dir, 'pods.json');
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  writeFileSync(pods, JSON.stringify(options.pods));
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, script, '--cert', cert, '--key', key, '--token', options.token, '--pods', pods, '--max-seconds', '120', ...(options.trickleMs ? ['--trickle-ms', String(options.trickleMs)] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const requests: SeenRequest[] = [];
  const stop = () => {
    child.kill('SIGTERM');
    running.delete(child);
  };
  const port = await new Promise<number>((resolve, reject) => {
    let stderr = '';
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`API stand-in did not start in 10 s: ${stderr}`)), 10_000);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const ready = /^READY (\d+)$/.exec(line);
        if (ready) {
          clearTimeout(timer);
          resolve(Number(ready[1]));
        } else if (line.trim()) requests.push(JSON.parse(line) as SeenRequest);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`API stand-in exited (${code}): ${stderr}`));
    });
  }).catch((error: unknown) => {
    stop();
    throw error;
  });
  return { port, caPem: pems.cert, requests, stop };
}

/** A kubeconfig (YAML, as the installer writes it) for `server` with a token file; returns its path. */
export function writeKubeconfig(dir: string, server: string, caPem: string, token: string): string {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const path = join(dir, 'outrigger-cni.kubeconfig');
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: local',
      '  cluster:',
      `    server: ${server}`,
      `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
      'users:',
      '- name: outrigger-cni',
      '  user:',
      `    tokenFile: ${tokenFile}`,
      'contexts:',
      '- name: outrigger-cni',
      '  context:',
      '    cluster: local',
      '    user: outrigger-cni',
      'current-context: outrigger-cni',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return path;
}

export function stopAllKubeApis(): void {
  for (const child of running) child.kill('SIGTERM');
  running.clear();
}
