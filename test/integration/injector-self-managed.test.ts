// Self-managed TLS against a local HTTPS STAND-IN for the Kubernetes API (see
// test/helpers/kube-api-stand-in.ts: it checks paths, verbs, token, content types and bodies).
// Proves: the Secret is created once and a second replica reuses it (same certificate served),
// two replicas racing on an empty namespace end with one Secret and one certificate (409 path),
// the caBundle of every webhook is patched to the CA, drift is re-patched, a serving certificate
// near expiry is renewed through an optimistic update while the CA is kept, and a client that
// trusts the caBundle verifies the injector under the Service's DNS name.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InjectorServer, startInjectorServer } from '../../injector/server/injector-server.js';
import { generateCa, serviceDnsNames } from '../../injector/tls/self-managed-ca.js';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { fingerprintOf, httpsRequest, memoryLogger, waitFor } from '../helpers/injector-https.js';
import { type KubeApiStandIn, startKubeApiStandIn, webhookConfiguration } from '../helpers/kube-api-stand-in.js';

const Namespace = 'outrigger';
const Service = 'outrigger-injector';
const ServiceHost = `${Service}.${Namespace}.svc`;
let dir: string;
let api: KubeApiStandIn;
let kubeconfig: string;
const servers: InjectorServer[] = [];
const logs = memoryLogger();

const b64decode = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

async function replica(secretName: string, webhookConfigName: string, checkIntervalMs = 200): Promise<InjectorServer> {
  const server = await startInjectorServer({
    host: '127.0.0.1',
    port: 0,
    configFile: undefined,
    tls: { mode: 'self-managed', secretName, webhookConfigName, serviceName: Service, namespace: Namespace, clusterDomain: 'cluster.local', kubeconfig, checkIntervalMs },
    reloadPollMs: 60_000,
    drainMs: 0,
    maxConnectionAgeMs: 0,
    shutdownTimeoutMs: 2000,
    log: logs.log,
  });
  servers.push(server);
  return server;
}

function caBundles(name: string): string[] {
  const config = api.webhookConfigs.get(name) as { webhooks: { clientConfig: { caBundle?: string } }[] };
  return config.webhooks.map((w) => (w.clientConfig.caBundle ? b64decode(w.clientConfig.caBundle) : ''));
}

function secretData(name: string): Record<string, string> {
  const secret = api.secrets.get(`${Namespace}/${name}`);
  if (!secret) throw new Error(`secret ${name} was not created`);
  return Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, b64decode(v)]));
}

const served = (server: InjectorServer, ca: string) => httpsRequest(server.port, ca, { path: '/readyz', tls: { servername: ServiceHost } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'or-injector-sm-'));
  api = await startKubeApiStandIn();
  kubeconfig = api.writeKubeconfig(join(dir, 'kubeconfig'));
});

afterAll(async () => {
  for (const server of servers) await server.shutdown();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('self-managed TLS', () => {
  it('creates the Secret once, a second replica reuses it, the caBundle is patched and trusted, drift is re-patched', async () => {
    api.webhookConfigs.set('outrigger-injector', webhookConfiguration('outrigger-injector', { name: Service, namespace: Namespace }));
    const a = await replica('outrigger-injector-tls', 'outrigger-injector');
    const data = secretData('outrigger-injector-tls');
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(api.secrets.get(`${Namespace}/outrigger-injector-tls`)?.type).toBe('kubernetes.io/tls');
    const leaf = new X509Certificate(data['tls.crt'] ?? '');
    expect(leaf.subjectAltName).toBe(serviceDnsNames(Service, Namespace, 'cluster.local').map((n) => `DNS:${n}`).join(', '));

    await waitFor('the caBundle to be patched', () => caBundles('outrigger-injector').every((b) => b.trim() === data['ca.crt']?.trim()));
    // A client trusting exactly the caBundle verifies the injector under the Service's DNS name.
    const bundle = caBundles('outrigger-injector')[0] ?? '';
    const fromA = await served(a, bundle);
    expect(fromA.status).toBe(200);
    expect(fromA.fingerprint).toBe(fingerprintOf(data['tls.crt'] ?? ''));
    const admitted = await httpsRequest(a.port, bundle, {
      method: 'POST',
      path: '/inject',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(admissionReview(deploymentPod())),
      tls: { servername: ServiceHost },
    });
    expect(admitted.status).toBe(200);

    const b = await replica('outrigger-injector-tls', 'outrigger-injector');
    expect((await served(b, bundle)).fingerprint).toBe(fromA.fingerprint);
    const posts = api.calls.filter((c) => c.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]).toMatchObject({ path: `/api/v1/namespaces/${Namespace}/secrets`, status: 201 });

    // Drift: someone re-applies the configuration without the caBundle, or with a wrong one.
    const drifted = webhookConfiguration('outrigger-injector', { name: Service, namespace: Namespace }) as { webhooks: { clientConfig: { caBundle?: string } }[] };
    drifted.webhooks[1]!.clientConfig.caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\nbogus\n-----END CERTIFICATE-----\n').toString('base64');
    api.webhookConfigs.set('outrigger-injector', drifted);
    await waitFor('the drifted caBundle to be re-patched', () => caBundles('outrigger-injector').every((x) => x.trim() === data['ca.crt']?.trim()), 5000);
    const patches = api.calls.filter((c) => c.method === 'PATCH');
    expect(patches.length).toBeGreaterThanOrEqual(2);
    expect(patches.every((c) => c.status === 200)).toBe(true);
    expect(api.unexpected).toEqual([]);
  });

  it('two replicas racing on an empty namespace end with one Secret and the same certificate', async () => {
    api.webhookConfigs.set('race-webhook', webhookConfiguration('race-webhook', { name: Service, namespace: Namespace }));
    const postsBefore = api.calls.filter((c) => c.method === 'POST').length;
    const [c, d] = await Promise.all([replica('race-tls', 'race-webhook'), replica('race-tls', 'race-webhook')]);
    const posts = api.calls.filter((x) => x.method === 'POST').slice(postsBefore);
    expect(posts.filter((p) => p.status === 201)).toHaveLength(1);
    expect(posts.filter((p) => p.status !== 201).every((p) => p.status === 409)).toBe(true);
    const data = secretData('race-tls');
    const ca = data['ca.crt'] ?? '';
    const expected = fingerprintOf(data['tls.crt'] ?? '');
    // The loser may first have generated its own pair; within one check interval both serve the Secret's.
    await waitFor('both replicas to serve the Secret\'s certificate', async () => (await served(c, ca)).fingerprint === expected && (await served(d, ca)).fingerprint === expected, 5000);
    expect(api.unexpected).toEqual([]);
  });

  it('renews a serving certificate near expiry with an optimistic update, keeping the CA', async () => {
    const now = new Date();
    const ca = await generateCa(now, 'seeded CA');
    const names = serviceDnsNames(Service, Namespace, 'cluster.local');
    // Re-issue the same names expiring in 2 days: under the 30-day renewal threshold.
    const { generate } = await import('selfsigned');
    const nearExpiry = await generate([{ name: 'commonName', value: names[3]! }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notBeforeDate: new Date(now.getTime() - 60_000),
      notAfterDate: new Date(now.getTime() + 2 * 24 * 3600 * 1000),
      ca: { cert: ca.cert, key: ca.key },
      extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
    });
    const enc = (t: string) => Buffer.from(t).toString('base64');
    api.secrets.set(`${Namespace}/renew-tls`, {
      metadata: { name: 'renew-tls', namespace: Namespace, resourceVersion: '7' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': enc(nearExpiry.cert), 'tls.key': enc(nearExpiry.private), 'ca.crt': enc(ca.cert), 'ca.key': enc(ca.key) },
    });
    api.webhookConfigs.set('renew-webhook', webhookConfiguration('renew-webhook', { name: Service, namespace: Namespace }));
    const e = await replica('renew-tls', 'renew-webhook');
    const data = secretData('renew-tls');
    expect(data['ca.crt']?.trim()).toBe(ca.cert.trim());
    expect(data['ca.key']).toBe(ca.key);
    const renewed = new X509Certificate(data['tls.crt'] ?? '');
    expect(new Date(renewed.validTo).getTime() - now.getTime()).toBeGreaterThan(300 * 24 * 3600 * 1000);
    expect(renewed.checkIssued(new X509Certificate(ca.cert))).toBe(true);
    expect((await served(e, ca.cert)).fingerprint).toBe(renewed.fingerprint256);
    const puts = api.calls.filter((c) => c.method === 'PUT');
    expect(puts).toEqual([{ method: 'PUT', path: `/api/v1/namespaces/${Namespace}/secrets/renew-tls`, status: 200 }]);
    await waitFor('the caBundle to be patched', () => caBundles('renew-webhook').every((b) => b.trim() === ca.cert.trim()));
    expect(api.unexpected).toEqual([]);
  });

  it('never logs key material or the token', () => {
    const all = logs.raw.join('\n');
    expect(all).not.toContain('PRIVATE KEY');
    expect(all).not.toContain('stand-in-token');
  });
});
