/**
 * The few Kubernetes API calls the self-managed TLS mode makes, behind one small interface:
 * Secret get/create/replace in the injector's namespace and MutatingWebhookConfiguration get/patch
 * (JSON Patch). Backed by @kubernetes/client-node, loaded only in this mode (self-managed-tls.ts
 * is a dynamic import). Named imports, never the whole namespace: the bundle then keeps only the
 * parts of the client that outrigger uses, shared with the CNI installer's repair loop (6 of its
 * 17 MB; a namespace import here made every user of the client load all of it). RBAC needed: secrets
 * get/create/update (one name), mutatingwebhookconfigurations get/patch (one name). Errors are
 * OutriggerErrors naming the call and HTTP status; response bodies (which may echo the Secret)
 * are never put in messages.
 */

import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';

export interface SecretData {
  readonly resourceVersion: string | undefined;
  /** Decoded values by key. */
  readonly data: Readonly<Record<string, string>>;
}

export interface WebhookCaBundles {
  /** Each webhook's name and decoded caBundle ('' when unset), in order. */
  readonly webhooks: readonly { readonly name: string; readonly caBundle: string }[];
}

export type JsonPatch = readonly ({ op: 'test' | 'add' | 'replace'; path: string; value: unknown })[];

export interface TlsKubeApi {
  readSecret(namespace: string, name: string): Promise<SecretData | undefined>;
  /** `conflict` when another replica created it first. */
  createSecret(namespace: string, name: string, data: Record<string, string>, labels: Record<string, string>): Promise<'created' | 'conflict'>;
  /** Optimistic update (resourceVersion); `conflict` when it changed since it was read. */
  replaceSecret(namespace: string, name: string, resourceVersion: string, data: Record<string, string>, labels: Record<string, string>): Promise<'replaced' | 'conflict'>;
  readWebhookConfiguration(name: string): Promise<WebhookCaBundles | undefined>;
  patchWebhookConfiguration(name: string, patch: JsonPatch): Promise<void>;
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function apiError(call: string, error: unknown): OutriggerError {
  const status = statusOf(error);
  // fetch errors carry the socket error (ECONNREFUSED, certificate problems) as their cause.
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  const detail = status !== undefined ? `HTTP ${status}` : (cause ?? (error as { code?: string }).code ?? (error as Error).message ?? 'failed');
  return new OutriggerError(ErrorCodes.Unavailable, `Kubernetes API: ${call} failed (${detail})`, { cause: status ?? (error as { code?: string }).code });
}

/** A TlsKubeApi for a kubeconfig file, or the in-cluster service account when `kubeconfig` is unset. */
export async function createTlsKubeApi(kubeconfig: string | undefined): Promise<TlsKubeApi> {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const secretBody = (name: string, data: Record<string, string>, labels: Record<string, string>, resourceVersion?: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, labels, ...(resourceVersion ? { resourceVersion } : {}) },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  });

  return {
    async readSecret(namespace, name) {
      try {
        const secret = await core.readNamespacedSecret({ name, namespace });
        const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, unb64(v)]));
        return { resourceVersion: secret.metadata?.resourceVersion, data };
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw apiError(`get secret ${namespace}/${name}`, error);
      }
    },
    async createSecret(namespace, name, data, labels) {
      try {
        await core.createNamespacedSecret({ namespace, body: secretBody(name, data, labels) });
        return 'created';
      } catch (error) {
        if (statusOf(error) === 409) return 'conflict';
        throw apiError(`create secret ${namespace}/${name}`, error);
      }
    },
    async replaceSecret(namespace, name, resourceVersion, data, labels) {
      try {
        await core.replaceNamespacedSecret({ name, namespace, body: secretBody(name, data, labels, resourceVersion) });
        return 'replaced';
      } catch (error) {
        if (statusOf(error) === 409) return 'conflict';
        throw apiError(`update secret ${namespace}/${name}`, error);
      }
    },
    async readWebhookConfiguration(name) {
      try {
        const config = await admission.readMutatingWebhookConfiguration({ name });
        return { webhooks: (config.webhooks ?? []).map((w) => ({ name: w.name, caBundle: w.clientConfig.caBundle ? unb64(w.clientConfig.caBundle) : '' })) };
      } catch (error) {
        if (statusOf(error) === 404) return undefined;
        throw apiError(`get mutatingwebhookconfiguration ${name}`, error);
      }
    },
    async patchWebhookConfiguration(name, patch) {
      try {
        await admission.patchMutatingWebhookConfiguration(
          { name, body: patch, fieldManager: 'outrigger-injector' },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        );
      } catch (error) {
        throw apiError(`patch mutatingwebhookconfiguration ${name}`, error);
      }
    },
  };
}

export { b64 as encodeBase64 };
