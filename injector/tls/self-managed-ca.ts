/**
 * The self-managed mode's certificates: a CA (ECDSA P-256, 10 years) and a serving certificate it
 * signs (ECDSA P-256, 1 year) for the Service's DNS names. Generated with `selfsigned`; checked
 * with node:crypto. Nothing here talks to the API or logs; callers keep keys out of logs.
 */

import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

const Day = 24 * 60 * 60 * 1000;
export const CaValidityMs = 3650 * Day;
export const ServingValidityMs = 365 * Day;
/** A serving certificate is replaced when it has less than this left (or is otherwise unfit). */
export const ServingRenewBeforeMs = 30 * Day;
/** A CA is replaced (old and new both trusted in the bundle) when it has less than this left. */
export const CaRenewBeforeMs = 365 * Day;

export interface KeyPairPem {
  readonly cert: string;
  readonly key: string;
}

/** The DNS names the API server may use for `service: {name, namespace}`. */
export function serviceDnsNames(service: string, namespace: string, clusterDomain: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`];
}

export async function generateCa(now: Date, commonName: string): Promise<KeyPairPem> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 5 * 60 * 1000),
    notAfterDate: new Date(now.getTime() + CaValidityMs),
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export async function issueServingCert(ca: KeyPairPem, dnsNames: readonly string[], now: Date): Promise<KeyPairPem> {
  const [first] = dnsNames;
  if (first === undefined) throw new Error('a serving certificate needs at least one DNS name');
  const pems = await generate([{ name: 'commonName', value: dnsNames.at(-1) ?? first }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 5 * 60 * 1000),
    notAfterDate: new Date(now.getTime() + ServingValidityMs),
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** The PEM certificates in a bundle, in order. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Why a serving certificate must be replaced, or undefined when it is fit for `dnsNames` at `now`. */
export function servingCertProblem(serving: X509Certificate, caBundle: string, dnsNames: readonly string[], now: Date): string | undefined {
  const left = new Date(serving.validTo).getTime() - now.getTime();
  if (left < ServingRenewBeforeMs) return `expires ${new Date(serving.validTo).toISOString()}`;
  if (new Date(serving.validFrom).getTime() > now.getTime() + 5 * 60 * 1000) return 'not valid yet';
  const names = (serving.subjectAltName ?? '').split(',').map((n) => n.trim());
  const missing = dnsNames.filter((n) => !names.includes(`DNS:${n}`));
  if (missing.length > 0) return `does not name ${missing.join(', ')}`;
  const signedByBundle = splitPemBundle(caBundle).some((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return serving.checkIssued(ca) && serving.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
  return signedByBundle ? undefined : 'is not signed by a CA in ca.crt';
}
