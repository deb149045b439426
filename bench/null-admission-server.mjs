// The benchmark's floor: a fastify HTTPS server with the injector's TLS and body settings whose
// /inject parses the AdmissionReview and answers `allowed: true` without looking at the pod.
// Usage: node bench/null-admission-server.mjs PORT CERT_FILE KEY_FILE
import { readFileSync } from 'node:fs';
import fastify from 'fastify';

const [port, certFile, keyFile] = process.argv.slice(2);
const app = fastify({
  https: { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), minVersion: 'TLSv1.2' },
  logger: false,
  bodyLimit: 6 * 1024 * 1024,
  requestTimeout: 30_000,
  connectionTimeout: 60_000,
});
app.post('/inject', async (request) => {
  const review = request.body;
  return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } };
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stdout.write('listening\n');
process.once('SIGTERM', () => app.close().then(() => process.exit(0)));
