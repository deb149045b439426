// The injector's TLS policy with real handshakes (issue 9, item 12): OpenSSL's own client
// (`openssl s_client`, the system's OpenSSL, independent of Node's) tries every TLS 1.2 suite it
// knows, one at a time, against the injector serving an RSA certificate (cert-manager's default)
// and an ECDSA one (self-managed mode's): exactly Mozilla "intermediate"'s forward-secret AEAD
// suites for that key type are accepted (ECDHE with AES-GCM or ChaCha20-Poly1305), every other one
// is refused; TLS 1.0 and 1.1 are refused; TLS 1.3 works with each of its three suites.
// So that "refused" means the server refused, every suite is first tried against a reference
// server that accepts everything (`openssl s_server -cipher ALL:@SECLEVEL=0`, same certificate):
// the suites the issue found (RSA key exchange with AES-GCM, AES-CCM, ARIA; AES-SHA256) must be
// accepted there. The RSA certificate is put in place by a reload, so the policy is also proven
// on the context a reload makes (setSecureContext replaces it whole).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOf, httpsRequest, waitFor, writeAtomically } from '../helpers/injector-https.js';
import { type InjectorProcess, startInjectorProcess } from '../helpers/injector-process.js';

const dir = mkdtempSync(join(tmpdir(), 'or-injector-tls-'));
let server: InjectorProcess | undefined;
let rsa: { cert: string; key: string };
const reference: { port: number; stop: () => void }[] = [];

/** Mozilla intermediate (v5.7) for TLS 1.2, by the key type of the certificate (DHE left out: see tls-material.ts). */
const Intermediate = {
  rsa: ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'],
  ecdsa: ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
};
/** The non-forward-secret suites the issue found accepted (RSA key exchange), as OpenSSL names them. */
const FoundInTheIssue = ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-CCM', 'AES256-CCM', 'ARIA128-GCM-SHA256', 'ARIA256-GCM-SHA384', 'AES128-SHA256', 'AES256-SHA256'];

function openssl(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('openssl', args, { input: '', encoding: 'utf8', timeout: 10_000 });
  if (result.error) throw new Error(`openssl could not run (${result.error.message}): install openssl (scripts/setup-host.sh)`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every TLS 1.2 suite the system OpenSSL can negotiate at all (security level 0). */
function tls12Suites(): string[] {
  return openssl(['ciphers', '-v', 'ALL:@SECLEVEL=0'])
    .stdout.split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1] === 'TLSv1.2')
    .map((fields) => fields[0] as string)
    .filter((name) => !/PSK|SRP/.test(name)); // need a pre-shared key or password: not a certificate's suites
}

/** The suite negotiated by `openssl s_client` with these options, or undefined when the handshake failed. */
function handshake(port: number, options: readonly string[]): string | undefined {
  const out = openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-no_ign_eof', ...options]);
  const cipher = /Cipher is (\S+)/.exec(out.stdout)?.[1];
  return out.status === 0 && cipher && cipher !== '(NONE)' ? cipher : undefined;
}

async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as { port: number };
  probe.close();
  return port;
}

/** `openssl s_server` accepting every suite with the given pair: proves what the client can offer. */
async function referenceServer(cert: string, key: string): Promise<number> {
  const certFile = join(dir, `ref-${reference.length}.crt`);
  const keyFile = join(dir, `ref-${reference.length}.key`);
  writeFileSync(certFile, cert);
  writeFileSync(keyFile, key, { mode: 0o600 });
  const port = await freePort();
  const child = spawn('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, '-cert', certFile, '-key', keyFile, '-cipher', 'ALL:@SECLEVEL=0', '-tls1_2', '-quiet', '-naccept', '100000'], { stdio: ['pipe', 'ignore', 'ignore'] });
  reference.push({ port, stop: () => child.kill('SIGKILL') });
  await waitFor('the reference server to listen', () => handshake(port, ['-tls1_2']) !== undefined, 10_000);
  return port;
}

beforeAll(async () => {
  // The built CLI in its own process: this test blocks its own thread on each openssl run.
  server = await startInjectorProcess();
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    // Self-signed (the test CA is ECDSA); only its fingerprint is checked.
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] },
    ],
  });
  rsa = { cert: pems.cert, key: pems.private };
});

afterAll(async () => {
  for (const r of reference) r.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function expectPolicy(port: number, keyType: 'rsa' | 'ecdsa', offerable: ReadonlySet<string>): void {
  const accepted = tls12Suites().filter((suite) => handshake(port, ['-tls1_2', '-cipher', `${suite}:@SECLEVEL=0`]) === suite);
  expect(accepted.sort()).toEqual([...Intermediate[keyType]].sort());
  for (const suite of accepted) expect(offerable.has(suite), `${suite} negotiates with the reference server too`).toBe(true);
}

describe('TLS suites of the injector', () => {
  it('ECDSA certificate: TLS 1.2 accepts exactly the three ECDHE-ECDSA AEAD suites', async () => {
    const serving = server?.pki.serving ?? { cert: '', key: '' };
    const ref = await referenceServer(serving.cert, serving.key);
    const offerable = new Set(tls12Suites().filter((suite) => handshake(ref, ['-tls1_2', '-cipher', `${suite}:@SECLEVEL=0`]) === suite));
    expect([...offerable].length, 'the client can negotiate many suites with a permissive server').toBeGreaterThan(10);
    expectPolicy(server?.port ?? 0, 'ecdsa', offerable);
  });

  it('RSA certificate, after a reload: exactly the three ECDHE-RSA AEAD suites; the issue\'s RSA key-exchange suites are refused', async () => {
    writeAtomically(server?.tlsDir ?? '', { 'tls.crt': rsa.cert, 'tls.key': rsa.key });
    const port = server?.port ?? 0;
    await waitFor('the RSA certificate to be served', async () => (await httpsRequest(port, rsa.cert, { path: '/healthz', tls: { rejectUnauthorized: false } })).fingerprint === fingerprintOf(rsa.cert), 15_000);
    const ref = await referenceServer(rsa.cert, rsa.key);
    const offerable = new Set(tls12Suites().filter((suite) => handshake(ref, ['-tls1_2', '-cipher', `${suite}:@SECLEVEL=0`]) === suite));
    for (const suite of FoundInTheIssue) expect(offerable.has(suite), `${suite} negotiates with a permissive server`).toBe(true);
    expectPolicy(port, 'rsa', offerable);
    for (const suite of FoundInTheIssue) expect(handshake(port, ['-tls1_2', '-cipher', `${suite}:@SECLEVEL=0`]), suite).toBeUndefined();
  });

  it('TLS 1.0 and 1.1 are refused; TLS 1.3 works with each of its three suites', () => {
    const port = server?.port ?? 0;
    for (const version of ['-tls1', '-tls1_1']) expect(handshake(port, [version, '-cipher', 'ALL:@SECLEVEL=0']), version).toBeUndefined();
    for (const suite of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']) {
      expect(handshake(port, ['-tls1_3', '-ciphersuites', suite]), suite).toBe(suite);
    }
  });
});
