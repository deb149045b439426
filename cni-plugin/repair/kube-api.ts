/**
 * The two API calls the repair loop makes, over HTTPS (TLS 1.2+, the cluster's CA) with the
 * current service-account token: list this node's pods (served from the API server's watch
 * cache with resourceVersion=0, filtered server-side by spec.nodeName) and delete one pod with
 * a UID precondition, so a pod recreated under the same name (a StatefulSet's) is never hit.
 */

import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { ApiEndpoint } from '../install/api-endpoint.js';
import type { Pod } from './repair-decisions.js';

export interface KubeApi {
  listNodePods(nodeName: string): Promise<Pod[]>;
  /** 'deleted', or 'gone' when the pod (with that UID) no longer exists. */
  deletePod(namespace: string, name: string, uid: string): Promise<'deleted' | 'gone'>;
}

interface Response {
  readonly status: number;
  readonly body: string;
}

export function createKubeApi(endpoint: ApiEndpoint, timeoutMs = 10_000): KubeApi {
  const url = new URL(endpoint.server);
  const secure = url.protocol === 'https:';

  async function call(method: string, path: string, body?: string): Promise<Response> {
    const token = await endpoint.token();
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}`, 'User-Agent': 'outrigger-cni-installer' };
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(body));
      }
      const options = {
        method, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (secure ? 443 : 80), path: `${url.pathname.replace(/\/$/, '')}${path}`,
        headers, timeout: timeoutMs, ...(secure ? { ca: endpoint.caPem, minVersion: 'TLSv1.2' as const, servername: url.hostname } : {}),
      };
      const req = (secure ? httpsRequest : httpRequest)(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (cause) => reject(new OutriggerError(ErrorCodes.Unavailable, `API server ${endpoint.server} ${method} ${path}: ${cause.message}`, { cause })));
      req.end(body);
    });
  }

  function failure(method: string, path: string, res: Response): OutriggerError {
    let message = res.body.slice(0, 300);
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? message;
    } catch {
      // not a Status object
    }
    return new OutriggerError(res.status >= 500 || res.status === 429 ? ErrorCodes.Unavailable : ErrorCodes.ApplyFailed, `API server ${method} ${path}: HTTP ${res.status} ${message}`);
  }

  return {
    async listNodePods(nodeName) {
      const path = `/api/v1/pods?${new URLSearchParams({ fieldSelector: `spec.nodeName=${nodeName}`, resourceVersion: '0' }).toString()}`;
      const res = await call('GET', path);
      if (res.status !== 200) throw failure('GET', path, res);
      const list = JSON.parse(res.body) as { kind?: string; items?: Pod[] };
      if (list.kind !== 'PodList' || !Array.isArray(list.items)) throw new OutriggerError(ErrorCodes.Unavailable, `API server GET ${path}: not a PodList`);
      return list.items;
    },
    async deletePod(namespace, name, uid) {
      const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`;
      const body = JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid } });
      const res = await call('DELETE', path, body);
      if (res.status === 200 || res.status === 202) return 'deleted';
      // 404: already gone; 409: the UID precondition failed (a new pod took the name).
      if (res.status === 404 || res.status === 409) return 'gone';
      throw failure('DELETE', path, res);
    },
  };
}
