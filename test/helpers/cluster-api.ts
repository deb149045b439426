/**
 * Direct HTTPS calls to a test cluster's API server with the admin client certificate (keep-alive),
 * for tests and benchmarks that create many objects: a kubectl process per call would cost more
 * than the call. Every request has a timeout; nothing is retried.
 */

import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import type { Cluster } from '../../cluster/cluster.ts';

export interface ApiResponse {
  readonly status: number;
  readonly body: string;
}

export interface ClusterApi {
  post(path: string, body: unknown): Promise<ApiResponse>;
  close(): void;
}

export function clusterApi(cluster: Cluster, options: { maxSockets?: number; timeoutMs?: number } = {}): ClusterApi {
  const pkiFile = (name: string) => readFileSync(join(cluster.pki.dir, name));
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16, ca: pkiFile('ca.crt'), cert: pkiFile('admin.crt'), key: pkiFile('admin.key') });
  const timeout = options.timeoutMs ?? 30_000;
  return {
    post(path, body) {
      const payload = JSON.stringify(body);
      return new Promise((resolve, reject) => {
        const req = request(`${cluster.apiServerUrl}${path}`, { method: 'POST', agent, timeout, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('timeout', () => req.destroy(new Error(`POST ${path} timed out after ${timeout} ms`)));
        req.on('error', reject);
        req.end(payload);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
