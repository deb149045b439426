/**
 * outrigger-cni's input and output under conditions a node can really produce, run as a runtime
 * runs it (the built single executable, network config on stdin, CNI_* in the environment,
 * stdout and stderr pipes read by the caller):
 * - an answer (result or error) far over a pipe's 64 KiB buffer reaches the caller whole;
 * - `apiTimeoutSeconds` bounds the API fallback even when the API server (a local HTTPS stand-in)
 *   sends its answer a byte at a time;
 * - a kubeconfig, token file or log file that is a FIFO without a writer/reader, a log file that
 *   is a device (/dev/full) or sits on a full filesystem (a 16 KiB tmpfs, filled), never stall or
 *   crash a command: files the plugin must read are code 5 naming the file; a log file it cannot
 *   write leaves the CNI answer as it would be and the log goes to stderr, saying why.
 * Each plugin run is bounded (15 s) so a hang fails the test instead of stalling the suite.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execPlugin, pluginConfig, type RuntimeCall } from '../helpers/cni-runtime.js';
import { type CniNode, createCniNode, defaultSettingsAnnotation, ownRules, requireCniPlugins, SettingsAnnotation } from '../helpers/cni-pod.js';
import { startKubeApi, stopAllKubeApis, writeKubeconfig } from '../helpers/kube-api.js';
import { destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';

const RUN_LIMIT_MS = 15_000;

let cni: CniNode;

beforeAll(() => {
  requireRealKernel(['mkfifo', 'mount', 'umount']);
  requireCniPlugins();
  cni = createCniNode();
});
afterEach(() => stopAllKubeApis());
afterAll(() => {
  cni?.destroy();
  destroyAllNamespaces();
});

/** A prevResult as the bridge plugin would give, padded with `routes` host routes. */
function prevResultWith(routes: number): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', mac: '02:42:c6:12:00:02', sandbox: cni.pod.path }],
    ips: [{ address: '198.18.0.2/24', gateway: '198.18.0.1', interface: 0 }],
    routes: Array.from({ length: routes }, (_, i) => ({ dst: `198.19.${i >> 8}.${i & 255}/32`, gw: '198.18.0.1' })),
    dns: {},
  };
}

/** outrigger-cni as the last plugin of the list; `annotations: null` means the runtime passed none. */
async function outriggerCni(
  command: 'ADD' | 'STATUS',
  options: { conf?: Record<string, unknown>; prev?: unknown; annotations?: Record<string, string> | null; version?: string; readDelayMs?: number } = {},
) {
  const list = cni.list({ logLevel: 'info', ...options.conf }, options.version ?? '1.0.0');
  const call: RuntimeCall = cni.call(options.annotations === undefined ? { annotations: { 'sidecar.istio.io/inject': 'false' } } : { annotations: options.annotations });
  const config = pluginConfig(list, list.plugins[2]!, call, options.prev === undefined ? prevResultWith(1) : options.prev);
  const started = Date.now();
  const outcome = await execPlugin(cni.node, 'outrigger-cni', command, JSON.stringify(config), call, {}, { timeoutMs: RUN_LIMIT_MS, ...(options.readDelayMs ? { readDelayMs: options.readDelayMs } : {}) });
  return { ...outcome, elapsedMs: Date.now() - started };
}

function fifo(name: string): string {
  const path = join(cni.dataDir, `${name}-${randomBytes(4).toString('hex')}`);
  execFileSync('mkfifo', [path]);
  return path;
}

// The runtime starts reading half a second late, so the answer cannot all fit in the pipe at once.
describe('answers larger than a pipe buffer reach the runtime whole', () => {
  it('a 200 KB ADD result', async () => {
    const prev = prevResultWith(5000);
    expect(JSON.stringify(prev).length).toBeGreaterThan(200_000);
    const out = await outriggerCni('ADD', { prev, readDelayMs: 500 });
    expect(out.stdout.length).toBeGreaterThan(200_000);
    expect([out.exitCode, out.json]).toEqual([0, prev]);
  });

  it('a 200 KB error (every bad prevResult address named)', async () => {
    const prev = { cniVersion: '1.0.0', ips: Array.from({ length: 3000 }, (_, i) => ({ address: `not-an-address-${i}-${'x'.repeat(20)}` })) };
    const out = await outriggerCni('ADD', { prev, readDelayMs: 500 });
    expect(out.stdout.length).toBeGreaterThan(200_000);
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ cniVersion: '1.0.0', code: 7 });
    const details = String(out.json?.details).split('\n');
    expect(details).toHaveLength(3000);
    expect(details[2999]).toContain('prevResult.ips[2999].address');
  });
});

describe('apiTimeoutSeconds bounds the whole API call', () => {
  it('ends in code 11 within the deadline while the API server sends a byte every 500 ms', async () => {
    const token = `or-test-token-${randomBytes(8).toString('hex')}`;
    const api = await startKubeApi(cni.node, cni.dataDir, {
      token,
      trickleMs: 500,
      pods: { 'shop/web-1': { metadata: { name: 'web-1', namespace: 'shop', uid: cni.podUid, annotations: { [SettingsAnnotation]: defaultSettingsAnnotation() } } } },
    });
    const kubeconfig = writeKubeconfig(cni.dataDir, `https://127.0.0.1:${api.port}`, api.caPem, token);
    const out = await outriggerCni('ADD', { conf: { kubeconfig, apiTimeoutSeconds: 1 }, annotations: null });
    expect(out.json).toMatchObject({ code: 11, msg: expect.stringContaining('no complete answer within') });
    // The answer (~400 bytes) would take over three minutes; the plugin stops at its 1 s deadline
    // (plus process start-up and exit).
    expect(out.elapsedMs).toBeLessThan(3500);
    expect(api.requests.length).toBeGreaterThanOrEqual(1);
    expect(api.requests[0]).toMatchObject({ path: '/api/v1/namespaces/shop/pods/web-1', tokenOk: true });
    expect(await ownRules(cni.pod)).toBe('');
  });
});

describe('files that are not regular files are refused at once, with code 5 naming them', () => {
  it('a kubeconfig that is a FIFO without a writer (ADD: code 5; STATUS: code 50)', async () => {
    const kubeconfig = fifo('kubeconfig');
    const out = await outriggerCni('ADD', { conf: { kubeconfig }, annotations: null });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 5, msg: `kubeconfig ${kubeconfig}: not a regular file (a FIFO)` });
    const status = await outriggerCni('STATUS', { conf: { kubeconfig }, version: '1.1.0' });
    expect(status.json).toMatchObject({ code: 50, details: expect.stringContaining(`kubeconfig ${kubeconfig}: not a regular file (a FIFO)`) });
  });

  it("a kubeconfig's tokenFile that is a FIFO without a writer; the API server is never called", async () => {
    const token = `or-test-token-${randomBytes(8).toString('hex')}`;
    const api = await startKubeApi(cni.node, cni.dataDir, { token, pods: {} });
    const kubeconfig = writeKubeconfig(cni.dataDir, `https://127.0.0.1:${api.port}`, api.caPem, token);
    const tokenFile = fifo('token');
    writeFileSync(kubeconfig, readFileSync(kubeconfig, 'utf8').replace(/tokenFile: .*/, `tokenFile: ${tokenFile}`));
    const out = await outriggerCni('ADD', { conf: { kubeconfig, apiTimeoutSeconds: 5 }, annotations: null });
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 5, msg: `kubeconfig tokenFile ${tokenFile}: not a regular file (a FIFO)` });
    expect(out.elapsedMs).toBeLessThan(5000);
    expect(api.requests).toEqual([]);
  });
});

describe('a log file that cannot be written changes nothing in the answer; the log goes to stderr', () => {
  /** The JSON lines on stderr. */
  const lines = (stderr: string) => stderr.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

  it('a FIFO without a reader', async () => {
    const logFile = fifo('log');
    const prev = prevResultWith(1);
    const out = await outriggerCni('ADD', { conf: { logFile }, prev });
    expect([out.exitCode, out.json]).toEqual([0, prev]);
    const logged = lines(out.stderr);
    expect(logged[0]).toMatchObject({ level: 40, logFile, reason: 'not a regular file (a FIFO)', msg: 'cannot use logFile; logging to stderr' });
    expect(logged.map((l) => l.msg)).toContain('not capturing: the pod has no outrigger.dev/capture-settings annotation (not prepared for CNI mode)');
  });

  it('/dev/full, for a passing ADD and for a refused one', async () => {
    const prev = prevResultWith(1);
    const ok = await outriggerCni('ADD', { conf: { logFile: '/dev/full' }, prev });
    expect([ok.exitCode, ok.json]).toEqual([0, prev]);
    expect(lines(ok.stderr)[0]).toMatchObject({ logFile: '/dev/full', reason: 'not a regular file (a character device)' });
    const refused = await outriggerCni('ADD', { conf: { logFile: '/dev/full' }, prev: null });
    expect(refused.exitCode).toBe(1);
    expect(refused.json).toMatchObject({ code: 7, msg: expect.stringContaining('needs prevResult') });
    expect(refused.stdout).not.toContain(' at ');
    expect(lines(refused.stderr).map((l) => l.msg)).toEqual(['cannot use logFile; logging to stderr', 'ADD failed']);
  });

  it('a regular file on a full filesystem (ENOSPC on write)', async () => {
    const mountPoint = mkdtempSync(join(cni.dataDir, 'full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,mode=0755', `or-full-${randomBytes(3).toString('hex')}`, mountPoint]);
    try {
      const logFile = join(mountPoint, 'log', 'outrigger-cni.log');
      mkdirSync(join(mountPoint, 'log'));
      writeFileSync(logFile, '');
      // Fill the filesystem; the log file exists but nothing more fits.
      expect(() => writeFileSync(join(mountPoint, 'fill'), Buffer.alloc(64 * 1024))).toThrow(/ENOSPC/);
      const prev = prevResultWith(1);
      const out = await outriggerCni('ADD', { conf: { logFile }, prev });
      expect([out.exitCode, out.json]).toEqual([0, prev]);
      const logged = lines(out.stderr);
      expect(logged[0]).toMatchObject({ level: 40, logFile, reason: 'cannot write it (ENOSPC)', msg: 'cannot use logFile; logging to stderr' });
      expect(logged.slice(1).map((l) => l.msg)).toContain('not capturing: the pod has no outrigger.dev/capture-settings annotation (not prepared for CNI mode)');
      expect(readFileSync(logFile, 'utf8')).toBe('');
    } finally {
      execFileSync('umount', [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
