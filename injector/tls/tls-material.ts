/**
 * A serving certificate and its key, checked before use: both parse, the key belongs to the
 * certificate (the first one in the PEM, the leaf), and a TLS context accepts them. Errors name
 * the file and what is wrong, never the key material.
 */

import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';

/** TLS 1.2 is the floor (the API server speaks 1.2 and 1.3). */
export const MinTlsVersion = 'TLSv1.2';

/**
 * The suites offered: Mozilla's "intermediate" profile (v5.7), only forward-secret AEAD suites.
 * TLS 1.3 has only such suites; for TLS 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305 (ECDSA and
 * RSA certificates alike). Node's default list also allows RSA key exchange (AES-GCM, AES-CCM,
 * ARIA) and CBC suites: not offered. Mozilla's DHE suites are left out: Node negotiates them only
 * with configured DH parameters, and the API server (Go's crypto/tls) does not implement DHE.
 */
export const TlsCiphers = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** What every secure context of the server is made with (at start, on every certificate swap). */
export const ServerTlsPolicy = { minVersion: MinTlsVersion, ciphers: TlsCiphers } as const;

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
  readonly notAfter: Date;
  /** SHA-256 of cert and key together: tells a changed pair from a re-read of the same one. */
  readonly digest: string;
  /** SHA-256 fingerprint of the leaf certificate (safe to log). */
  readonly fingerprint: string;
}

export function checkTlsMaterial(cert: string, key: string, source: { cert: string; key: string }): TlsMaterial {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new OutriggerError(ErrorCodes.InvalidInput, `${source.cert}: not a PEM certificate`, { cause: error });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    // The cause can quote the input; keep only its message-free code.
    throw new OutriggerError(ErrorCodes.InvalidInput, `${source.key}: not a PEM private key`, { cause: (error as { code?: string }).code });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new OutriggerError(ErrorCodes.InvalidInput, `${source.key} does not belong to the certificate in ${source.cert}`);
  }
  try {
    createSecureContext({ cert, key, ...ServerTlsPolicy });
  } catch (error) {
    throw new OutriggerError(ErrorCodes.InvalidInput, `${source.cert}, ${source.key}: refused by TLS (${(error as { code?: string }).code ?? 'unknown'})`);
  }
  const notAfter = new Date(leaf.validTo);
  return {
    cert,
    key,
    notAfter,
    digest: createHash('sha256').update(cert).update('\0').update(key).digest('hex'),
    fingerprint: leaf.fingerprint256,
  };
}
