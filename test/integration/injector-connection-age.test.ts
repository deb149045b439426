// The injector closes keep-alive connections older than --max-connection-age after their next
// response (Connection: close), so kube-apiserver, which picks a webhook endpoint only when it dials,
// redials and spreads its connections over the replicas. Real HTTPS with a keep-alive agent: the same
// socket serves requests until it is too old; then the server says Connection: close, and the next
// request (on a new connection) is young again.
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { InjectorServer } from '../../injector/server/injector-server.js';
import { parseInjectorFlags } from '../../injector/injector-options.js';
import { httpsRequest, memoryLogger, startFilesModeInjector, type TestPki, testPki, writeAtomically } from '../helpers/injector-https.js';

let dir: string;
let pki: TestPki;
let server: InjectorServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'or-injector-age-'));
  pki = await testPki();
  writeAtomically(join(dir, 'tls'), { 'tls.crt': pki.serving.cert, 'tls.key': pki.serving.key });
  server = await startFilesModeInjector({ tlsDir: join(dir, 'tls'), log: memoryLogger().log, maxConnectionAgeMs: 400 });
});

afterAll(async () => {
  await server?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

it('keeps a young connection open and closes it once it is older than the limit', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = async () => {
    const result = await httpsRequest(server.port, pki.ca.cert, { path: '/healthz', tls: { agent } });
    expect(result.status).toBe(200);
    return result;
  };
  const first = await get();
  const second = await get();
  expect(first.headers.connection).not.toBe('close');
  expect(second.headers.connection).not.toBe('close');
  await new Promise((resolve) => setTimeout(resolve, 450));
  const old = await get();
  expect(old.headers.connection).toBe('close');
  const next = await get();
  expect(next.headers.connection).not.toBe('close');
  agent.destroy();
});

it('defaults to 30 s, takes durations, and 0 turns it off; a bad value is named', () => {
  const base = ['--tls-cert-file', 'x', '--tls-key-file', 'y'];
  const parsed = (args: string[]) => parseInjectorFlags([...base, ...args], {});
  const ms = (args: string[]) => {
    const result = parsed(args);
    if (result.kind !== 'run') throw new Error('expected options');
    return result.options.maxConnectionAgeMs;
  };
  expect(ms([])).toBe(30_000);
  expect(ms(['--max-connection-age', '1m'])).toBe(60_000);
  expect(ms(['--max-connection-age', '0'])).toBe(0);
  expect(() => parsed(['--max-connection-age', 'soon'])).toThrow(/--max-connection-age/);
});
