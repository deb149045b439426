// The self-managed mode's CA and serving certificate: the right DNS names and key usages, signed
// by the CA, verified by a real TLS handshake that trusts only that CA; and the renewal rules.
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:tls';
import { describe, expect, it } from 'vitest';
import {
  generateCa,
  issueServingCert,
  serviceDnsNames,
  ServingRenewBeforeMs,
  servingCertProblem,
} from '../../injector/tls/self-managed-ca.js';

const names = serviceDnsNames('outrigger-injector', 'outrigger', 'cluster.local');

describe('self-managed CA', () => {
  it('names the four service DNS names', () => {
    expect(names).toEqual([
      'outrigger-injector',
      'outrigger-injector.outrigger',
      'outrigger-injector.outrigger.svc',
      'outrigger-injector.outrigger.svc.cluster.local',
    ]);
  });

  it('issues a P-256 serving certificate a TLS client trusting only the CA accepts for each DNS name', async () => {
    const now = new Date();
    const ca = await generateCa(now, 'outrigger-injector-ca');
    const serving = await issueServingCert(ca, names, now);
    const caX = new X509Certificate(ca.cert);
    const leaf = new X509Certificate(serving.cert);
    expect(caX.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(caX)).toBe(true);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(leaf.subjectAltName).toBe(names.map((n) => `DNS:${n}`).join(', '));
    expect(servingCertProblem(leaf, ca.cert, names, now)).toBeUndefined();

    const server = createServer({ cert: serving.cert, key: serving.key, minVersion: 'TLSv1.2' }, (socket) => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    try {
      for (const servername of [names[2]!, names[3]!]) {
        const socket = connect({ host: '127.0.0.1', port, servername, ca: ca.cert });
        await once(socket, 'secureConnect');
        expect(socket.authorized).toBe(true);
        socket.destroy();
      }
      // A name the certificate does not carry fails verification.
      const wrong = connect({ host: '127.0.0.1', port, servername: 'other.outrigger.svc', ca: ca.cert });
      const [error] = (await once(wrong, 'error')) as [NodeJS.ErrnoException];
      expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    } finally {
      server.close();
    }
  });

  it('asks for renewal when near expiry, missing a name, or signed by another CA', async () => {
    const now = new Date();
    const ca = await generateCa(now, 'ca-one');
    const other = await generateCa(now, 'ca-two');
    const leaf = new X509Certificate((await issueServingCert(ca, names, now)).cert);
    const later = new Date(new Date(leaf.validTo).getTime() - ServingRenewBeforeMs + 1000);
    expect(servingCertProblem(leaf, ca.cert, names, later)).toMatch(/^expires /);
    expect(servingCertProblem(leaf, ca.cert, [...names, 'extra.name'], now)).toBe('does not name extra.name');
    expect(servingCertProblem(leaf, other.cert, names, now)).toBe('is not signed by a CA in ca.crt');
    expect(servingCertProblem(leaf, `${other.cert}\n${ca.cert}`, names, now)).toBeUndefined();
  });
});
