// A stand-in for the Kubernetes API server (tests only): HTTPS on 127.0.0.1 with the given
// certificate, answering only GET /api/v1/namespaces/NS/pods/NAME for the pods in --pods (a JSON
// file keyed by "NS/NAME"), as the real API would: 401 without the right bearer token, 404 with a
// Status for unknown pods, 405 for other methods. Prints `READY <port>`, then one JSON line per
// request (method, path, whether the token matched, Accept header) so tests can check what the
// plugin sent. Exits after --max-seconds. With --trickle-ms N every answer (status line, headers
// and body) is sent one byte every N ms, as a slow or hostile server would.
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { cert: { type: 'string' }, key: { type: 'string' }, token: { type: 'string' }, pods: { type: 'string' }, 'max-seconds': { type: 'string', default: '120' }, 'trickle-ms': { type: 'string' } },
});
const trickleMs = values['trickle-ms'] === undefined ? 0 : Number(values['trickle-ms']);
const pods = JSON.parse(readFileSync(values.pods, 'utf8'));
const status = (code, reason, message) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

/** The raw HTTP/1.1 answer written to the socket a byte at a time (the response object stays unused). */
function trickle(req, code, body) {
  const raw = Buffer.from(`HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  const socket = req.socket;
  let sent = 0;
  const timer = setInterval(() => {
    if (sent >= raw.length || socket.destroyed) {
      clearInterval(timer);
      socket.end();
      return;
    }
    socket.write(raw.subarray(sent, ++sent));
  }, trickleMs);
  socket.on('close', () => clearInterval(timer));
}

const server = createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key), minVersion: 'TLSv1.2' }, (req, res) => {
  const tokenOk = req.headers.authorization === `Bearer ${values.token}`;
  process.stdout.write(`${JSON.stringify({ method: req.method, path: req.url, tokenOk, accept: req.headers.accept ?? null })}\n`);
  const answer = (code, body) => (trickleMs > 0 ? trickle(req, code, body) : res.writeHead(code, { 'Content-Type': 'application/json' }).end(body));
  if (!tokenOk) return answer(401, status(401, 'Unauthorized', 'Unauthorized'));
  if (req.method !== 'GET') return answer(405, status(405, 'MethodNotAllowed', 'only GET'));
  const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/?]+)$/.exec(req.url ?? '');
  const pod = match ? pods[`${decodeURIComponent(match[1])}/${decodeURIComponent(match[2])}`] : undefined;
  if (!pod) return answer(404, status(404, 'NotFound', `pods "${match?.[2] ?? ''}" not found`));
  answer(200, JSON.stringify(pod));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
setTimeout(() => process.exit(0), Number(values['max-seconds']) * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
