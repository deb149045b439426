/**
 * Self-managed TLS: the injector keeps its own CA and serving certificate in a Secret that every
 * replica shares, and keeps the MutatingWebhookConfiguration's caBundle equal to that CA.
 *
 * - Start: read the Secret; if absent, generate a CA and serving certificate and create it. On
 *   409 Conflict another replica won the race: read and use the winner's. Replicas never serve
 *   different certificates for long.
 * - Renewal: a serving certificate that expires within 30 days, misses a Service DNS name or is
 *   not signed by the stored CA is re-issued from the stored CA (a fresh CA when that has under a
 *   year left; the old one stays in ca.crt until it expires, so replicas still serving the old
 *   pair stay trusted). Written back with resourceVersion; a 409 means someone else renewed first.
 * - Every check interval (and on start): re-read the Secret (picking up another replica's
 *   renewal), serve what it holds, and patch every webhook of the named configuration whose
 *   caBundle differs (drift: someone edited or re-applied it), with a JSON Patch that first
 *   tests the webhook's name so a concurrently reordered list is never patched at the wrong index.
 *
 * Logged: names, fingerprints, expiry dates, HTTP statuses. Never: keys, certificates, tokens.
 */

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { ErrorCodes, OutriggerError, isOutriggerError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { InjectorMetrics } from '../metrics/injector-metrics.js';
import {
  CaRenewBeforeMs,
  generateCa,
  issueServingCert,
  type KeyPairPem,
  serviceDnsNames,
  servingCertProblem,
  splitPemBundle,
} from './self-managed-ca.js';
import type { ServingCertificate } from './serving-certificate.js';
import { createTlsKubeApi, encodeBase64, type JsonPatch, type SecretData, type TlsKubeApi } from './tls-kube-api.js';
import { checkTlsMaterial, type TlsMaterial } from './tls-material.js';

export interface SelfManagedTlsOptions {
  readonly secretName: string;
  readonly webhookConfigName: string;
  readonly serviceName: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  /** A kubeconfig file; unset: the in-cluster service account. */
  readonly kubeconfig: string | undefined;
  /** How often to re-check the Secret and the caBundle. */
  readonly checkIntervalMs: number;
}

export interface SelfManagedTls {
  /** Begins the periodic check (the first one, with the caBundle patch, right away). */
  start(): void;
  close(): void;
}

interface SecretState {
  readonly material: TlsMaterial;
  readonly caBundle: string;
}

const Labels = { 'app.kubernetes.io/managed-by': 'outrigger-injector', 'app.kubernetes.io/component': 'injector-tls' };

export async function startSelfManagedTls(
  options: SelfManagedTlsOptions,
  deps: { serving: ServingCertificate; log: Logger; metrics: InjectorMetrics; api?: TlsKubeApi; now?: () => Date },
): Promise<SelfManagedTls> {
  const { serving, log } = deps;
  const api = deps.api ?? (await createTlsKubeApi(options.kubeconfig));
  const now = deps.now ?? (() => new Date());
  const { namespace, secretName } = options;
  const dnsNames = serviceDnsNames(options.serviceName, namespace, options.clusterDomain);
  const where = `secret ${namespace}/${secretName}`;

  /** A usable state from the Secret, or why it must be renewed. */
  function readState(secret: SecretData): SecretState | string {
    const { data } = secret;
    const cert = data['tls.crt'];
    const key = data['tls.key'];
    const caBundle = data['ca.crt'];
    if (!cert || !key || !caBundle) return 'lacks tls.crt, tls.key or ca.crt';
    let material: TlsMaterial;
    try {
      material = checkTlsMaterial(cert, key, { cert: `${where} tls.crt`, key: `${where} tls.key` });
    } catch (error) {
      return isOutriggerError(error) ? error.message : 'unreadable serving pair';
    }
    const problem = servingCertProblem(new X509Certificate(cert), caBundle, dnsNames, now());
    return problem ? `serving certificate ${problem}` : { material, caBundle };
  }

  /** The CA to sign with: the stored one if whole and not near expiry, else a new one. */
  async function signingCa(data: Readonly<Record<string, string>>): Promise<{ ca: KeyPairPem; bundle: string }> {
    const at = now();
    const stillValid = splitPemBundle(data['ca.crt'] ?? '').filter((pem) => {
      try {
        return new Date(new X509Certificate(pem).validTo).getTime() > at.getTime();
      } catch {
        return false;
      }
    });
    const [first] = stillValid;
    const caKey = data['ca.key'];
    if (first && caKey) {
      try {
        const x = new X509Certificate(first);
        if (x.ca && x.checkPrivateKey(createPrivateKey(caKey)) && new Date(x.validTo).getTime() - at.getTime() > CaRenewBeforeMs) {
          return { ca: { cert: first, key: caKey }, bundle: stillValid.join('\n') + '\n' };
        }
      } catch {
        // An unreadable CA key: replaced below.
      }
    }
    const ca = await generateCa(at, `${options.serviceName}.${namespace} outrigger injector CA`);
    log.info({ secret: where, fingerprint: new X509Certificate(ca.cert).fingerprint256 }, 'generated a new injector CA');
    return { ca, bundle: [ca.cert.trim(), ...stillValid].join('\n') + '\n' };
  }

  async function freshData(previous: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    const { ca, bundle } = await signingCa(previous);
    const issued = await issueServingCert(ca, dnsNames, now());
    return { 'tls.crt': issued.cert, 'tls.key': issued.key, 'ca.crt': bundle, 'ca.key': ca.key };
  }

  async function ensureSecret(): Promise<SecretState> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const secret = await api.readSecret(namespace, secretName);
      if (!secret) {
        const data = await freshData({});
        const result = await api.createSecret(namespace, secretName, data, Labels);
        if (result === 'conflict') {
          log.info({ secret: where }, 'another replica created the TLS secret first; using it');
          continue;
        }
        log.info({ secret: where }, 'created the TLS secret');
        const state = readState({ resourceVersion: undefined, data });
        if (typeof state === 'string') throw new OutriggerError(ErrorCodes.Internal, `generated TLS material is unusable: ${state}`);
        return state;
      }
      const state = readState(secret);
      if (typeof state !== 'string') return state;
      log.info({ secret: where, problem: state }, 'renewing the serving certificate in the TLS secret');
      const data = await freshData(secret.data);
      const result = await api.replaceSecret(namespace, secretName, secret.resourceVersion ?? '', data, Labels);
      if (result === 'conflict') {
        log.info({ secret: where }, 'the TLS secret changed while renewing; re-reading it');
        continue;
      }
      const renewed = readState({ resourceVersion: undefined, data });
      if (typeof renewed === 'string') throw new OutriggerError(ErrorCodes.Internal, `renewed TLS material is unusable: ${renewed}`);
      return renewed;
    }
    throw new OutriggerError(ErrorCodes.Unavailable, `${where} kept changing while outrigger tried to settle it; will retry`);
  }

  let configMissingLogged = false;
  async function patchCaBundle(caBundle: string): Promise<void> {
    const config = await api.readWebhookConfiguration(options.webhookConfigName);
    if (!config) {
      if (!configMissingLogged) log.warn({ webhookConfiguration: options.webhookConfigName }, 'the MutatingWebhookConfiguration does not exist (yet); will patch its caBundle once it does');
      configMissingLogged = true;
      return;
    }
    configMissingLogged = false;
    const patch: JsonPatch[number][] = [];
    const drifted: string[] = [];
    config.webhooks.forEach((webhook, index) => {
      if (webhook.caBundle.trim() === caBundle.trim()) return;
      drifted.push(webhook.name);
      patch.push({ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name });
      patch.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: encodeBase64(caBundle) });
    });
    if (patch.length === 0) return;
    await api.patchWebhookConfiguration(options.webhookConfigName, patch);
    deps.metrics.reloads.inc({ what: 'ca_bundle', result: 'applied' });
    log.info({ webhookConfiguration: options.webhookConfigName, webhooks: drifted }, 'patched the caBundle');
  }

  // The first Secret read decides whether the server can start; retry briefly (API start-up races).
  let initial: SecretState | undefined;
  for (let attempt = 1; !initial; attempt++) {
    try {
      initial = await ensureSecret();
    } catch (error) {
      if (attempt >= 5 || !isOutriggerError(error) || error.code !== ErrorCodes.Unavailable) throw error;
      log.warn({ problem: error.message, attempt }, 'cannot settle the TLS secret yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }
  serving.use(initial.material, where);

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const check = async (): Promise<void> => {
    try {
      const state = await ensureSecret();
      serving.use(state.material, where);
      await patchCaBundle(state.caBundle);
    } catch (error) {
      log.warn({ problem: isOutriggerError(error) ? error.message : String(error) }, 'self-managed TLS check failed; will retry');
    }
    if (!closed) {
      timer = setTimeout(() => void check(), options.checkIntervalMs);
      timer.unref();
    }
  };
  return {
    start() {
      void check();
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
