/**
 * The repair loop's Kubernetes client, @kubernetes/client-node: a KubeConfig for the installer's
 * ApiEndpoint (server, CA bundle inline) and the two plain calls, list this node's pods (served
 * from the API server's watch cache with resourceVersion=0, filtered server-side by spec.nodeName;
 * the informer's list) and delete one pod with a UID precondition, so a pod recreated under the
 * same name (a StatefulSet's) is never hit.
 *
 * The bearer token comes from the endpoint on every request (projected tokens rotate). A token
 * that cannot be read sends no Authorization header, so the request fails with 401 and is retried
 * like any failure, instead of throwing inside the library's watch-reconnect path. Named imports
 * only, and this file is reached only through a dynamic import (start-repair.ts), so the bundle
 * keeps just the config, watch, informer and core API of the client (2.6 of its 17 MB); the CNI
 * plugin and `--repair-mode off` never load it. List and delete time out after `timeoutMs`
 * (the watch has its own timeouts, see node-pod-informer.ts). Errors are OutriggerErrors naming
 * the call, HTTP status and the API server's Status message, never the response body itself.
 */

import { CoreV1Api, KubeConfig, type KubernetesListObject, type KubernetesObject, Observable, type RequestContext, type ResponseContext } from '@kubernetes/client-node';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { ApiEndpoint } from '../install/api-endpoint.js';

export const UserAgent = 'outrigger-cni-installer';

export interface KubeApi {
  /** For the informer's watch: the same server, CA and token as the calls below. */
  readonly config: KubeConfig;
  /** This node's pods, as client-node's list (its items become pod views in the informer). */
  listNodePods(nodeName: string): Promise<KubernetesListObject<KubernetesObject>>;
  /** 'deleted', or 'gone' when the pod (with that UID) no longer exists. */
  deletePod(namespace: string, name: string, uid: string): Promise<'deleted' | 'gone'>;
}

/** The selector both the list and the watch send: the API server filters, we never see other nodes' pods. */
export function nodeFieldSelector(nodeName: string): string {
  return `spec.nodeName=${nodeName}`;
}

export function kubeConfigFor(endpoint: ApiEndpoint): KubeConfig {
  const config = new KubeConfig();
  const user = 'outrigger-cni-installer';
  config.loadFromOptions({
    clusters: [{ name: 'api', server: endpoint.server, skipTLSVerify: false, ...(endpoint.caPem ? { caData: Buffer.from(endpoint.caPem).toString('base64') } : {}) }],
    users: [{ name: user }],
    contexts: [{ name: 'api', cluster: 'api', user }],
    currentContext: 'api',
  });
  config.addAuthenticator({
    isAuthProvider: (candidate) => candidate.name === user,
    async applyAuthentication(_user, opts) {
      const headers = (opts.headers ??= {}) as Record<string, string>;
      headers['User-Agent'] = UserAgent;
      const token = await endpoint.token().catch(() => undefined);
      if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    },
  });
  return config;
}

function failure(call: string, error: unknown): OutriggerError {
  const status = (error as { code?: unknown }).code;
  if (typeof status === 'number') {
    const body = (error as { body?: unknown }).body;
    const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? `: ${(body as { message: string }).message.slice(0, 300)}` : '';
    const code = status >= 500 || status === 429 ? ErrorCodes.Unavailable : ErrorCodes.ApplyFailed;
    return new OutriggerError(code, `API server ${call}: HTTP ${status}${message}`, { cause: status });
  }
  // fetch errors carry the socket error (ECONNREFUSED, a certificate problem) as their cause.
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const detail = typeof cause?.code === 'string' ? cause.code : (error as Error).name === 'TimeoutError' ? 'no answer in time' : String((error as Error).message ?? error);
  return new OutriggerError(ErrorCodes.Unavailable, `API server ${call}: ${detail}`, { cause: detail });
}

export function createKubeApi(endpoint: ApiEndpoint, timeoutMs = 10_000): KubeApi {
  const config = kubeConfigFor(endpoint);
  const core = config.makeApiClient(CoreV1Api);
  // Per call (a fresh array: the generated client reverses it in place), instead of the client's
  // own user agent: ours, and a timeout covering the answer's body too.
  const options = () => ({
    middleware: [{
      pre: (context: RequestContext) => {
        context.setHeaderParam('User-Agent', UserAgent);
        context.setSignal(AbortSignal.timeout(timeoutMs));
        return new Observable(Promise.resolve(context));
      },
      post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
    }],
    middlewareMergeStrategy: 'replace' as const,
  });

  return {
    config,
    async listNodePods(nodeName) {
      const fieldSelector = nodeFieldSelector(nodeName);
      try {
        return await core.listPodForAllNamespaces({ fieldSelector, resourceVersion: '0' }, options());
      } catch (error) {
        throw failure(`list pods ${fieldSelector}`, error);
      }
    },
    async deletePod(namespace, name, uid) {
      try {
        await core.deleteNamespacedPod({ namespace, name, body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid } } }, options());
        return 'deleted';
      } catch (error) {
        // 404: already gone; 409: the UID precondition failed (a new pod took the name).
        const status = (error as { code?: unknown }).code;
        if (status === 404 || status === 409) return 'gone';
        throw failure(`delete pod ${namespace}/${name}`, error);
      }
    },
  };
}
