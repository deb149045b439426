/**
 * The certificate the HTTPS server presents, swappable while it runs: a new pair applies to new
 * TLS handshakes (`server.setSecureContext`); connections already open keep the old one. Used by
 * both the file mode (reloaded from the mounted Secret) and the self-managed mode (from the
 * Secret it maintains through the API). Logs fingerprints and expiry only.
 */

import type { Server as TlsServer } from 'node:tls';
import type { Logger } from '../../common/log.js';
import type { InjectorMetrics } from '../metrics/injector-metrics.js';
import { ServerTlsPolicy, type TlsMaterial } from './tls-material.js';

export class ServingCertificate {
  #current: TlsMaterial | undefined;
  #server: TlsServer | undefined;
  readonly #log: Logger;
  readonly #metrics: InjectorMetrics;

  constructor(log: Logger, metrics: InjectorMetrics) {
    this.#log = log;
    this.#metrics = metrics;
  }

  get current(): TlsMaterial | undefined {
    return this.#current;
  }

  /** The options to create the HTTPS server with (the first certificate must be in place). */
  serverOptions(): { cert: string; key: string } & typeof ServerTlsPolicy {
    if (!this.#current) throw new Error('no serving certificate yet');
    return { cert: this.#current.cert, key: this.#current.key, ...ServerTlsPolicy };
  }

  attach(server: TlsServer): void {
    this.#server = server;
  }

  /** Puts a checked pair in use; returns false when it is the one already in use. */
  use(material: TlsMaterial, source: string): boolean {
    if (this.#current?.digest === material.digest) return false;
    const previous = this.#current;
    // A new context replaces the old one whole: it must carry the same version floor and suites.
    this.#server?.setSecureContext({ cert: material.cert, key: material.key, ...ServerTlsPolicy });
    this.#current = material;
    this.#metrics.certificateExpiry.set(material.notAfter.getTime() / 1000);
    if (previous) this.#metrics.reloads.inc({ what: 'certificate', result: 'applied' });
    this.#log.info(
      { source, fingerprint: material.fingerprint, notAfter: material.notAfter.toISOString(), previousFingerprint: previous?.fingerprint },
      previous ? 'serving a new certificate' : 'serving certificate loaded',
    );
    return true;
  }
}
