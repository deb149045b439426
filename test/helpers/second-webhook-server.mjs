// A second mutating webhook for the reinvocation test: a plain HTTPS AdmissionReview server that adds
// one container (`telemetry-agent`) to every pod it sees, unless the pod already has it, and prints one
// JSON line per call. Real TLS with a certificate from the test cluster's CA. Test fixture only.
//   node second-webhook-server.mjs ADDRESS PORT CERT KEY
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [address, port, certFile, keyFile] = process.argv.slice(2);
const containerName = 'telemetry-agent';
const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile), minVersion: 'TLSv1.2' }, (req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { if (body.length < 4_000_000) body += chunk; });
  req.on('end', () => {
    let review;
    try {
      review = JSON.parse(body);
    } catch {
      res.writeHead(400).end('not JSON');
      return;
    }
    const pod = review.request?.object ?? {};
    const containers = pod.spec?.containers ?? [];
    const has = containers.some((c) => c.name === containerName);
    const patch = has ? [] : [{ op: 'add', path: '/spec/containers/-', value: { name: containerName, image: 'outrigger/test-app:0.1.0' } }];
    console.log(JSON.stringify({ uid: review.request?.uid, added: !has, containers: containers.map((c) => c.name) }));
    const response = { uid: review.request?.uid, allowed: true, ...(patch.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
  });
});
server.listen(Number(port), address, () => console.log(JSON.stringify({ listening: `${address}:${port}` })));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
