/**
 * A STAND-IN for the Kubernetes API server (there is none on the test machine), serving only the
 * calls the CNI installer's repair loop and the CNI plugin's API fallback (GET one pod) make, over
 * real TLS with a self-signed certificate for 127.0.0.1. It is honest about what the real API checks: the bearer token, the list's
 * fieldSelector (it filters by spec.nodeName as the real one does), the DELETE path, its JSON
 * DeleteOptions body and UID precondition (409 on mismatch, 404 when gone). Every request is
 * recorded for the test to inspect; anything else gets 404 and is recorded too.
 */

import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import type { Pod } from '../../cni-plugin/repair/repair-decisions.js';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly status: number;
}

export interface KubeApiStandIn {
  readonly port: number;
  readonly caPem: string;
  readonly requests: RecordedRequest[];
  /** The pods the stand-in holds; tests add and inspect them. */
  pods: Pod[];
  /** The token the stand-in accepts (tests rotate it). */
  token: string;
  close(): Promise<void>;
}

export async function startKubeApiStandIn(token: string): Promise<KubeApiStandIn> {
  const pems = await generate([{ name: 'commonName', value: 'kube-apiserver-stand-in' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const state = { pods: [] as Pod[], token, requests: [] as RecordedRequest[] };
  const server: Server = createServer({ key: pems.private, cert: pems.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://stand-in');
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = (status: number, payload: unknown) => {
        state.requests.push({
          method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization,
          contentType: req.headers['content-type'], body, status,
        });
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(payload));
      };
      const status = (code: number, message: string) => reply(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
      if (req.headers.authorization !== `Bearer ${state.token}`) return status(401, 'Unauthorized');

      if (req.method === 'GET' && url.pathname === '/api/v1/pods') {
        const selector = /^spec\.nodeName=([a-z0-9.-]+)$/.exec(url.searchParams.get('fieldSelector') ?? '');
        if (!selector) return status(400, 'the stand-in requires fieldSelector=spec.nodeName=NODE');
        const items = state.pods.filter((p) => p.spec?.nodeName === selector[1]);
        return reply(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
      }
      const one = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods\/([a-z0-9.-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && one) {
        // The CNI plugin's API fallback: one pod, by namespace and name.
        const pod = state.pods.find((p) => p.metadata.namespace === one[1] && p.metadata.name === one[2]);
        return pod ? reply(200, { kind: 'Pod', apiVersion: 'v1', ...pod }) : status(404, `pods "${one[2]}" not found`);
      }
      const del = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods\/([a-z0-9.-]+)$/.exec(url.pathname);
      if (req.method === 'DELETE' && del) {
        if (req.headers['content-type'] !== 'application/json') return status(415, 'body must be application/json');
        let options: { kind?: string; apiVersion?: string; preconditions?: { uid?: string } };
        try {
          options = JSON.parse(body) as typeof options;
        } catch {
          return status(400, 'body is not JSON');
        }
        if (options.kind !== 'DeleteOptions' || options.apiVersion !== 'v1') return status(400, 'body must be a v1 DeleteOptions');
        const index = state.pods.findIndex((p) => p.metadata.namespace === del[1] && p.metadata.name === del[2]);
        const pod = state.pods[index];
        if (!pod) return status(404, `pods "${del[2]}" not found`);
        if (options.preconditions?.uid !== undefined && options.preconditions.uid !== pod.metadata.uid) return status(409, 'Precondition failed: UID mismatch');
        state.pods.splice(index, 1);
        return reply(200, pod);
      }
      return status(404, 'the stand-in does not serve this');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    caPem: pems.cert,
    requests: state.requests,
    get pods() {
      return state.pods;
    },
    set pods(pods: Pod[]) {
      state.pods = pods;
    },
    get token() {
      return state.token;
    },
    set token(value: string) {
      state.token = value;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
