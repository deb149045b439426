/**
 * Helpers for the injector's HTTPS tests: a test CA and serving certificates for `localhost`, a
 * kubelet-style atomic writer for mounted Secret/ConfigMap directories (`..data` symlink swap),
 * an HTTPS client that verifies the CA and opens a new connection per request (so a certificate
 * reload is observable), and an in-memory log sink.
 */

import { X509Certificate } from 'node:crypto';
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../../common/log.js';
import { type InjectorServer, startInjectorServer } from '../../injector/server/injector-server.js';
import { generateCa, issueServingCert, type KeyPairPem } from '../../injector/tls/self-managed-ca.js';

export interface TestPki {
  readonly ca: KeyPairPem;
  readonly serving: KeyPairPem;
}

/** A CA and a serving certificate for `localhost` signed by it. */
export async function testPki(commonName = 'outrigger test CA'): Promise<TestPki> {
  const ca = await generateCa(new Date(), commonName);
  return { ca, serving: await issueServingCert(ca, ['localhost'], new Date()) };
}

let generation = 0;

/**
 * Writes `files` into `dir` the way the kubelet's AtomicWriter does: a fresh timestamped
 * directory, a `..data_tmp` symlink to it renamed over `..data`, and per-file symlinks
 * `name -> ..data/name` (created once). The previous data directory is removed afterwards.
 */
export function writeAtomically(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const dataDir = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.pid}.${generation++}`;
  mkdirSync(join(dir, dataDir));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, dataDir, name), text, { mode: 0o600 });
  const data = join(dir, '..data');
  const previous = existsSync(data) ? readlinkSync(data) : undefined;
  symlinkSync(dataDir, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), data);
  for (const name of Object.keys(files)) {
    if (!existsSync(join(dir, name))) symlinkSync(join('..data', name), join(dir, name));
  }
  if (previous) rmSync(join(dir, previous), { recursive: true, force: true });
}

export interface HttpsResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  readonly fingerprint: string;
}

/** One request on a new TLS connection that trusts only `ca` and checks the name `localhost`. */
export function httpsRequest(
  port: number,
  ca: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; tls?: Partial<RequestOptions> },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        ca,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
        timeout: 10_000,
        ...options.tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        // Read now: with a keep-alive agent the socket is handed back to the pool at 'end'.
        const cert = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate?.();
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            fingerprint: cert?.fingerprint256 ?? '',
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

export function postJson(port: number, ca: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpsResult> {
  return httpsRequest(port, ca, { method: 'POST', path: '/inject', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** A pino logger whose JSON lines are kept in `lines` (for asserting what was logged). */
export function memoryLogger(level = 'info'): { log: Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: pino({ level }, stream) as Logger, lines, raw };
}

/** Polls `check` until it returns true, or fails after `timeoutMs` (bounded). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * The injector in process on 127.0.0.1 (any free port), serving TLS files from a mounted-style
 * directory (files mode), with reload polling slowed to a minute (tests that need polling say so)
 * and no shutdown drain.
 */
export function startFilesModeInjector(options: { readonly tlsDir: string; readonly configFile?: string; readonly log: Logger; readonly maxConnectionAgeMs?: number }): Promise<InjectorServer> {
  return startInjectorServer({
    host: '127.0.0.1',
    port: 0,
    configFile: options.configFile,
    tls: { mode: 'files', certFile: join(options.tlsDir, 'tls.crt'), keyFile: join(options.tlsDir, 'tls.key') },
    reloadPollMs: 60_000,
    drainMs: 0,
    maxConnectionAgeMs: options.maxConnectionAgeMs ?? 0,
    shutdownTimeoutMs: 2000,
    log: options.log,
  });
}
