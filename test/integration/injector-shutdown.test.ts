// Graceful shutdown of the built CLI (`node dist/outrigger.mjs injector ...` as a child process):
// on SIGTERM /readyz turns 503 first while requests are still served, then the listener closes,
// and a request that was in flight (headers sent before SIGTERM, body finished only after the
// listener closed) still gets its full AdmissionReview answer; then the process exits 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { cliPath } from '../helpers/outrigger-cli.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { httpsRequest, testPki, waitFor, writeAtomically } from '../helpers/injector-https.js';

const dir = mkdtempSync(join(tmpdir(), 'or-injector-stop-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

describe('outrigger injector on SIGTERM', () => {
  it('fails readiness, drains, finishes the in-flight request, exits 0', async () => {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` (npm test does it)`);
    const pki = await testPki();
    writeAtomically(join(dir, 'tls'), { 'tls.crt': pki.serving.cert, 'tls.key': pki.serving.key });
    child = spawn(
      process.execPath,
      [cliPath, 'injector', '--address', '127.0.0.1', '--port', '0', '--tls-cert-file', join(dir, 'tls', 'tls.crt'), '--tls-key-file', join(dir, 'tls', 'tls.key'), '--shutdown-drain', '1', '--shutdown-timeout', '20'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    let buffered = '';
    child.stdout?.on('data', (c: Buffer) => {
      buffered += c.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const part of parts) if (part.trim()) lines.push(JSON.parse(part) as Record<string, unknown>);
    });
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await waitFor(`the injector to listen (stderr: ${stderr})`, () => lines.some((l) => l.msg === 'injector listening (HTTPS)'));
    const port = Number(lines.find((l) => l.msg === 'injector listening (HTTPS)')?.port);
    expect((await httpsRequest(port, pki.ca.cert, { path: '/readyz' })).status).toBe(200);

    // An in-flight request: headers and half the body now.
    const body = Buffer.from(JSON.stringify(admissionReview(deploymentPod(), { uid: 'in-flight-1' })));
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.ca.cert });
    await once(socket, 'secureConnect');
    let response = '';
    socket.on('data', (c: Buffer) => (response += c.toString()));
    const ended = once(socket, 'end');
    socket.write(`POST /inject HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, body.length >> 1));
    await new Promise((r) => setTimeout(r, 100));

    const signalled = Date.now();
    child.kill('SIGTERM');
    // Not ready first, while still serving.
    await waitFor('/readyz to answer 503', async () => (await httpsRequest(port, pki.ca.cert, { path: '/readyz' })).status === 503, 5000);
    expect((await httpsRequest(port, pki.ca.cert, { path: '/healthz' })).status).toBe(200);
    // Then the listener closes after the drain period...
    await waitFor('the listener to close', async () => !(await portOpen(port)), 10_000);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(900);
    expect(child.exitCode).toBeNull();
    // ...and the in-flight request still completes.
    socket.end(body.subarray(body.length >> 1));
    await ended;
    const [head, payload] = response.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    const review = JSON.parse(payload ?? '') as { response: { uid: string; allowed: boolean; patchType: string } };
    expect(review.response).toMatchObject({ uid: 'in-flight-1', allowed: true, patchType: 'JSONPatch' });

    const [code, signal] = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    const messages = lines.map((l) => l.msg);
    expect(messages.indexOf('shutting down: not ready, draining')).toBeLessThan(messages.indexOf('injector stopped'));
  });
});
