/**
 * A STAND-IN for the Kubernetes API server (there is none on this machine), over HTTPS with its
 * own CA and a bearer token. It implements exactly the calls outrigger's self-managed TLS mode
 * makes, and checks each the way the real API would: the path, the verb, the bearer token, the
 * content type (JSON for create/update, JSON Patch for patch), the body's kind/apiVersion/name,
 * base64 Secret data, resourceVersion on update (409 Conflict when stale), 409 AlreadyExists on
 * create, and JSON Patch `test` operations (422 when one fails). Patches are applied with the
 * independent rfc6902 package. Every other request is answered 404 and recorded as unexpected.
 */

import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { applyPatch } from 'rfc6902';
import { testPki } from './injector-https.js';

export interface StoredSecret {
  metadata: { name: string; namespace: string; resourceVersion: string; labels?: Record<string, string> };
  type: string;
  data: Record<string, string>;
}

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export interface KubeApiStandIn {
  readonly port: number;
  readonly calls: RecordedCall[];
  readonly unexpected: string[];
  readonly secrets: Map<string, StoredSecret>;
  readonly webhookConfigs: Map<string, Record<string, unknown>>;
  /** Writes a kubeconfig for this stand-in and returns its path. */
  writeKubeconfig(path: string): string;
  close(): Promise<void>;
}

const Token = 'stand-in-token-0123456789';

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const isBase64 = (v: unknown): boolean => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v) && v.length % 4 === 0;

export async function startKubeApiStandIn(): Promise<KubeApiStandIn> {
  const pki = await testPki('kube-api stand-in CA');
  const calls: RecordedCall[] = [];
  const unexpected: string[] = [];
  const secrets = new Map<string, StoredSecret>();
  const webhookConfigs = new Map<string, Record<string, unknown>>();
  let version = 100;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const method = req.method ?? '';
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (req.headers.authorization !== `Bearer ${Token}`) {
      status(res, 401, 'Unauthorized', 'Unauthorized');
      return 401;
    }
    const body = await readBody(req);
    let m = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/secrets(?:\/([a-z0-9.-]+))?$/.exec(url.pathname);
    if (m) {
      const [, namespace = '', name] = m;
      const key = `${namespace}/${name ?? ''}`;
      if (method === 'GET' && name) {
        const secret = secrets.get(key);
        if (!secret) {
          status(res, 404, 'NotFound', `secrets "${name}" not found`);
          return 404;
        }
        send(res, 200, { apiVersion: 'v1', kind: 'Secret', ...secret });
        return 200;
      }
      if ((method === 'POST' && !name) || (method === 'PUT' && name)) {
        if (type !== 'application/json') {
          status(res, 415, 'UnsupportedMediaType', `unsupported content type ${type}`);
          return 415;
        }
        const object = JSON.parse(body) as { apiVersion?: string; kind?: string; type?: string; metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> }; data?: Record<string, unknown> };
        const objectName = object.metadata?.name ?? '';
        const problems: string[] = [];
        if (object.apiVersion !== 'v1' || object.kind !== 'Secret') problems.push('apiVersion/kind must be v1 Secret');
        if (!objectName || (name && objectName !== name)) problems.push('metadata.name missing or not the URL name');
        if (object.metadata?.namespace && object.metadata.namespace !== namespace) problems.push('metadata.namespace does not match the URL');
        if (object.type !== 'kubernetes.io/tls') problems.push('type must be kubernetes.io/tls');
        for (const k of ['tls.crt', 'tls.key']) if (!isBase64(object.data?.[k])) problems.push(`data.${k} must be base64`);
        for (const [k, v] of Object.entries(object.data ?? {})) if (!isBase64(v)) problems.push(`data.${k} must be base64`);
        if (problems.length > 0) {
          status(res, 422, 'Invalid', problems.join('; '));
          return 422;
        }
        const storeKey = `${namespace}/${objectName}`;
        const existing = secrets.get(storeKey);
        if (method === 'POST' && existing) {
          status(res, 409, 'AlreadyExists', `secrets "${objectName}" already exists`);
          return 409;
        }
        if (method === 'PUT') {
          if (!existing) {
            status(res, 404, 'NotFound', `secrets "${objectName}" not found`);
            return 404;
          }
          if (object.metadata?.resourceVersion !== existing.metadata.resourceVersion) {
            status(res, 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
            return 409;
          }
        }
        const stored: StoredSecret = {
          metadata: { name: objectName, namespace, resourceVersion: String(++version), ...(object.metadata?.labels ? { labels: object.metadata.labels } : {}) },
          type: object.type ?? '',
          data: object.data as Record<string, string>,
        };
        secrets.set(storeKey, stored);
        send(res, method === 'POST' ? 201 : 200, { apiVersion: 'v1', kind: 'Secret', ...stored });
        return method === 'POST' ? 201 : 200;
      }
    }
    m = /^\/apis\/admissionregistration\.k8s\.io\/v1\/mutatingwebhookconfigurations\/([a-z0-9.-]+)$/.exec(url.pathname);
    if (m) {
      const [, name = ''] = m;
      const config = webhookConfigs.get(name);
      if (!config) {
        status(res, 404, 'NotFound', `mutatingwebhookconfigurations "${name}" not found`);
        return 404;
      }
      if (method === 'GET') {
        send(res, 200, config);
        return 200;
      }
      if (method === 'PATCH') {
        if (type !== 'application/json-patch+json') {
          status(res, 415, 'UnsupportedMediaType', `a JSON Patch must be sent as application/json-patch+json, not ${type}`);
          return 415;
        }
        const patch = JSON.parse(body) as Parameters<typeof applyPatch>[1];
        if (!Array.isArray(patch)) {
          status(res, 400, 'BadRequest', 'a JSON Patch is a list');
          return 400;
        }
        const copy = structuredClone(config);
        const errors = applyPatch(copy, patch).filter((e) => e !== null);
        if (errors.length > 0) {
          status(res, 422, 'Invalid', `the patch did not apply: ${errors.map(String).join('; ')}`);
          return 422;
        }
        for (const webhook of (copy.webhooks as { clientConfig: { caBundle?: unknown } }[]) ?? []) {
          if (webhook.clientConfig.caBundle !== undefined && !isBase64(webhook.clientConfig.caBundle)) {
            status(res, 422, 'Invalid', 'caBundle must be base64');
            return 422;
          }
        }
        (copy.metadata as { resourceVersion: string }).resourceVersion = String(++version);
        webhookConfigs.set(name, copy);
        send(res, 200, copy);
        return 200;
      }
    }
    unexpected.push(`${method} ${req.url}`);
    status(res, 404, 'NotFound', 'the stand-in does not implement this call');
    return 404;
  };

  const server: Server = createServer({ cert: pki.serving.cert, key: pki.serving.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).then(
      (code) => calls.push({ method: req.method ?? '', path: req.url ?? '', status: code }),
      (error: unknown) => {
        unexpected.push(`${req.method} ${req.url}: ${String(error)}`);
        status(res, 500, 'InternalError', String(error));
      },
    );
  });
  // `localhost` as the client will resolve it (the certificate names localhost).
  server.listen(0, 'localhost');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  return {
    port,
    calls,
    unexpected,
    secrets,
    webhookConfigs,
    writeKubeconfig(path) {
      const ca = Buffer.from(pki.ca.cert).toString('base64');
      writeFileSync(
        path,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          `- name: stand-in`,
          `  cluster: { server: "https://localhost:${port}", certificate-authority-data: "${ca}" }`,
          'users:',
          `- name: injector`,
          `  user: { token: "${Token}" }`,
          'contexts:',
          '- name: stand-in',
          '  context: { cluster: stand-in, user: injector }',
          'current-context: stand-in',
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      return path;
    },
    async close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A MutatingWebhookConfiguration as the manifests would create it (no caBundle yet). */
export function webhookConfiguration(name: string, service: { name: string; namespace: string }): Record<string, unknown> {
  const webhook = (hookName: string) => ({
    name: hookName,
    admissionReviewVersions: ['v1', 'v1beta1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    reinvocationPolicy: 'IfNeeded',
    timeoutSeconds: 10,
    clientConfig: { service: { ...service, path: '/inject', port: 443 } },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
    namespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } },
    objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name, resourceVersion: '1' },
    webhooks: [webhook('namespace.sidecar-injector.outrigger.dev'), webhook('object.sidecar-injector.outrigger.dev')],
  };
}
