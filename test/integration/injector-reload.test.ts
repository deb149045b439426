// Reloads without a restart, the way the kubelet updates mounted Secrets and ConfigMaps (a new
// data directory and a `..data` symlink renamed over the old one): a new connection sees the new
// certificate; an invalid pair is refused with a log line and the old certificate keeps serving;
// a new configuration applies to the next admission; an invalid one is refused and the old one
// stays in force, also when only its Envoy bootstrap override is invalid (checked against Envoy's
// v3 API at load). Polling is set to a minute there, so those changes are seen by the directory
// watch; the last test sees a change only polling can (a symlink into an unwatched directory).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInjectorMetrics } from '../../injector/metrics/injector-metrics.js';
import { openConfigFile } from '../../injector/server/config-file.js';
import type { InjectorServer } from '../../injector/server/injector-server.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { fingerprintOf, httpsRequest, memoryLogger, postJson, startFilesModeInjector, type TestPki, testPki, waitFor, writeAtomically } from '../helpers/injector-https.js';
import { proxyBootstrap } from '../helpers/proxy-bootstrap-arg.js';

let dir: string;
let first: TestPki;
let server: InjectorServer;
/** The CA that verifies the certificate being served (the certificate test rotates it). */
let activeCa: string;
const logs = memoryLogger();
const tlsDir = () => join(dir, 'tls');
const configDir = () => join(dir, 'config');

type ProxyContainer = { name: string; image: string; args: string[]; env: { name: string; value?: string }[] };

async function proxyContainer(ca: string): Promise<ProxyContainer> {
  const result = await postJson(server.port, ca, admissionReview(deploymentPod()));
  expect(result.status).toBe(200);
  const review = JSON.parse(result.text) as { response: { patch: string } };
  const patch = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as { path: string; value: unknown }[];
  const init = patch.find((op) => op.path === '/spec/initContainers')?.value as ProxyContainer[];
  const proxy = init.find((c) => c.name === 'proxy');
  if (!proxy) throw new Error('no proxy container in the patch');
  return proxy;
}

async function proxyImage(ca: string): Promise<string> {
  return (await proxyContainer(ca)).image;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'or-injector-reload-'));
  first = await testPki();
  activeCa = first.ca.cert;
  writeAtomically(tlsDir(), { 'tls.crt': first.serving.cert, 'tls.key': first.serving.key });
  writeAtomically(configDir(), { 'config.yaml': 'proxy:\n  image: registry.example/envoy:one\n' });
  server = await startFilesModeInjector({ tlsDir: tlsDir(), configFile: join(configDir(), 'config.yaml'), log: logs.log });
});

afterAll(async () => {
  await server?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('certificate reload', () => {
  it('serves a rotated certificate to new connections, refuses a broken pair and keeps the last good one', async () => {
    const before = await httpsRequest(server.port, first.ca.cert, { path: '/healthz' });
    expect(before.fingerprint).toBe(fingerprintOf(first.serving.cert));

    // Rotation by a new CA (as cert-manager's CA rotation would): clients trusting the new CA.
    const second = await testPki('second CA');
    writeAtomically(tlsDir(), { 'tls.crt': second.serving.cert, 'tls.key': second.serving.key });
    await waitFor('the new certificate to be served', async () => {
      try {
        return (await httpsRequest(server.port, second.ca.cert, { path: '/healthz' })).fingerprint === fingerprintOf(second.serving.cert);
      } catch {
        return false;
      }
    });

    // A key that does not belong to the certificate: refused, logged, the second pair stays.
    const third = await testPki('third CA');
    writeAtomically(tlsDir(), { 'tls.crt': third.serving.cert, 'tls.key': first.serving.key });
    await waitFor('the refusal to be logged', () => logs.lines.some((l) => l.msg === 'new certificate refused; still serving the previous one'));
    const refused = logs.lines.find((l) => l.msg === 'new certificate refused; still serving the previous one');
    expect(String(refused?.problem)).toMatch(/does not belong to the certificate/);
    const still = await httpsRequest(server.port, second.ca.cert, { path: '/healthz' });
    expect(still.fingerprint).toBe(fingerprintOf(second.serving.cert));

    // Garbage: refused too.
    writeAtomically(tlsDir(), { 'tls.crt': 'not a certificate', 'tls.key': 'not a key' });
    await waitFor('the second refusal to be logged', () => logs.lines.filter((l) => l.msg === 'new certificate refused; still serving the previous one').length === 2);
    expect((await httpsRequest(server.port, second.ca.cert, { path: '/healthz' })).fingerprint).toBe(fingerprintOf(second.serving.cert));

    // A good pair again: applied.
    writeAtomically(tlsDir(), { 'tls.crt': third.serving.cert, 'tls.key': third.serving.key });
    await waitFor('the third certificate to be served', async () => {
      try {
        return (await httpsRequest(server.port, third.ca.cert, { path: '/healthz' })).fingerprint === fingerprintOf(third.serving.cert);
      } catch {
        return false;
      }
    });
    activeCa = third.ca.cert;
    const metrics = await httpsRequest(server.port, third.ca.cert, { path: '/metrics' });
    expect(metrics.text).toMatch(/outrigger_injector_reloads_total\{what="certificate",result="applied"\} 2/);
    expect(metrics.text).toMatch(/outrigger_injector_reloads_total\{what="certificate",result="refused"\} 2/);
    expect(logs.raw.join('\n')).not.toContain('PRIVATE KEY');
  });
});

describe('configuration reload', () => {
  it('applies a new configuration to the next admission and refuses an invalid one', async () => {
    const ca = activeCa;
    expect(await proxyImage(ca)).toBe('registry.example/envoy:one');

    writeAtomically(configDir(), { 'config.yaml': 'proxy:\n  image: registry.example/envoy:two\n' });
    await waitFor('the new configuration', async () => (await proxyImage(ca)) === 'registry.example/envoy:two');

    writeAtomically(configDir(), { 'config.yaml': 'proxy:\n  image: ""\n  uid: -5\nunknownKey: 1\n' });
    await waitFor('the refusal to be logged', () => logs.lines.some((l) => l.msg === 'new injector configuration refused; the previous one stays in force'));
    const line = logs.lines.find((l) => l.msg === 'new injector configuration refused; the previous one stays in force');
    const problem = String(line?.problem);
    expect(problem).toContain('.proxy.image');
    expect(problem).toContain('.proxy.uid');
    expect(problem).toContain('.unknownKey');
    expect(await proxyImage(ca)).toBe('registry.example/envoy:two');
    const metrics = await httpsRequest(server.port, ca, { path: '/metrics' });
    expect(metrics.text).toMatch(/outrigger_injector_reloads_total\{what="config",result="applied"\} 1/);
    expect(metrics.text).toMatch(/outrigger_injector_reloads_total\{what="config",result="refused"\} 1/);
  });

  it('refuses a configuration whose bootstrap override Envoy would reject; the last good one keeps serving', async () => {
    const ca = activeCa;
    const refusals = () => logs.lines.filter((l) => l.msg === 'new injector configuration refused; the previous one stays in force');
    const before = refusals().length;
    const sink = (prefixKey: string): string =>
      `  bootstrapOverride:\n    stats_sinks:\n    - name: envoy.stat_sinks.statsd\n      typed_config:\n        "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink\n        tcp_cluster_name: statsd\n        ${prefixKey}: mesh\n`;
    writeAtomically(configDir(), { 'config.yaml': `proxy:\n  image: registry.example/envoy:three\n${sink('prefix')}` });
    await waitFor('the configuration with a valid override', async () => (await proxyImage(ca)) === 'registry.example/envoy:three');

    writeAtomically(configDir(), { 'config.yaml': `proxy:\n  image: registry.example/envoy:four\n${sink('prefx')}` });
    await waitFor('the refusal to be logged', () => refusals().length === before + 1);
    expect(String(refusals().at(-1)?.problem)).toContain('.proxy.bootstrapOverride.stats_sinks[0].typed_config.prefx "mesh": unknown field "prefx" in envoy.config.metrics.v3.StatsdSink (did you mean "prefix"?)');
    const proxy = await proxyContainer(ca);
    expect(proxy.image).toBe('registry.example/envoy:three');
    const bootstrap = proxyBootstrap(proxy, { 'metadata.name': 'web', 'metadata.namespace': 'default', 'status.podIP': '198.18.0.10' }) as { stats_sinks: unknown };
    expect(bootstrap.stats_sinks).toEqual([{ name: 'envoy.stat_sinks.statsd', typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.StatsdSink', tcp_cluster_name: 'statsd', prefix: 'mesh' } }]);
  });
});

describe('polling fallback', () => {
  it('picks up a change the directory watch cannot see (the file is a symlink into another directory)', async () => {
    const real = join(dir, 'elsewhere');
    mkdirSync(real);
    writeFileSync(join(real, 'config.yaml'), 'proxy:\n  image: registry.example/envoy:polled-1\n');
    mkdirSync(join(dir, 'mount'));
    symlinkSync(join(real, 'config.yaml'), join(dir, 'mount', 'config.yaml'));
    const polled = memoryLogger();
    const source = await openConfigFile({ path: join(dir, 'mount', 'config.yaml'), pollMs: 200, log: polled.log, metrics: createInjectorMetrics({ defaultMetrics: false }) });
    try {
      expect(source.current().proxy.image).toBe('registry.example/envoy:polled-1');
      writeFileSync(join(real, 'config.yaml'), 'proxy:\n  image: registry.example/envoy:polled-2\n');
      await waitFor('the poll to reload the configuration', () => source.current().proxy.image === 'registry.example/envoy:polled-2', 5000);
      expect(polled.lines.some((l) => l.msg === 'injector configuration reloaded')).toBe(true);
    } finally {
      source.close();
    }
  });
});
