/**
 * Plain HTTP on the metrics port (inside the cluster network only; no secrets served):
 *   GET /readyz   200 "installed" once our entry is in the primary config, else 503 with the state
 *   GET /metrics  Prometheus text from the installer's registry
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export async function startStatusServer(port: number, registry: Registry, state: () => string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' }).end();
    } else if (path === '/readyz') {
      const current = state();
      res.writeHead(current === 'installed' ? 200 : 503, { 'Content-Type': 'text/plain' }).end(`${current}\n`);
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
