// A stand-in for the Kubernetes API server (tests only): HTTPS on 127.0.0.1 with the given
// certificate, answering only GET /api/v1/namespaces/NS/pods/NAME for the pods in --pods (a JSON
// file keyed by "NS/NAME"), as the real API would: 401 without the right bearer token, 404 with a
// Status for unknown pods, 405 for other methods. Prints `READY <port>`, then one JSON line per
// request (method, path, whether the token matched, Accept header) so tests can check what the
// plugin sent. Exits after --max-seconds.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { cert: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, pods: { type: 'string' }, 'max-seconds': { type: 'string', default: '120' } } });
const pods = JSON.parse(readFileSync(values.pods, 'utf8'));
const status = (code, reason, message) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

const server = createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key), minVersion: 'TLSv1.2' }, (req, res) => {
  const tokenOk = req.headers.authorization === `Bearer ${values.token}`;
  process.stdout.write(`${JSON.stringify({ method: req.method, path: req.url, tokenOk, accept: req.headers.accept ?? null })}\n`);
  res.setHeader('Content-Type', 'application/json');
  if (!tokenOk) return res.writeHead(401).end(status(401, 'Unauthorized', 'Unauthorized'));
  if (req.method !== 'GET') return res.writeHead(405).end(status(405, 'MethodNotAllowed', 'only GET'));
  const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)$/.exec(req.url ?? '');
  const pod = match ? pods[`${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`] : undefined;
  if (!pod) return res.writeHead(404).end(status(404, 'NotFound', `pods "${match?.[2] ?? ''}" not found`));
  res.writeHead(200).end(JSON.stringify(pod));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
setTimeout(() => process.exit(0), Number(values['max-seconds']) * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
