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
    createSecureContext({ cert, key, minVersion: MinTlsVersion });
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
