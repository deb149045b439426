/**
 * Where the API server is and how to authenticate: in a pod, KUBERNETES_SERVICE_HOST/PORT with
 * the service-account CA and token files; otherwise (tests, out-of-cluster runs) the current
 * context of a kubeconfig, read as the plugin reads it (cni-plugin/kube/read-kubeconfig.ts). The
 * token is read on every call because projected tokens rotate.
 */

import { readFile } from 'node:fs/promises';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import { readKubeconfig } from '../kube/read-kubeconfig.js';

export interface ApiEndpoint {
  readonly server: string;
  readonly caPem: string | undefined;
  /** The current bearer token (trimmed). */
  token(): Promise<string>;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read ${what} ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`, { cause });
  }
}

function tokenFromFile(path: string): () => Promise<string> {
  return async () => {
    const token = (await readText(path, 'the service-account token')).trim();
    if (token === '') throw new OutriggerError(ErrorCodes.ReadFailed, `the service-account token ${path} is empty`);
    return token;
  };
}

export async function inClusterEndpoint(server: string, caFile: string, tokenFile: string): Promise<ApiEndpoint> {
  const caPem = await readText(caFile, "the API server's CA bundle");
  const token = tokenFromFile(tokenFile);
  await token(); // fail at start, not at the first pod
  return { server, caPem, token };
}

/** The installer outside a pod (tests, out-of-cluster runs): the same kubeconfig reading as the plugin's. */
export async function kubeconfigEndpoint(path: string): Promise<ApiEndpoint> {
  const access = await readKubeconfig(path);
  let token: () => Promise<string>;
  if (access.tokenFile) token = tokenFromFile(access.tokenFile);
  else if (access.token) {
    const fixed = access.token;
    token = async () => fixed;
  } else {
    throw new OutriggerError(ErrorCodes.InvalidInput, `kubeconfig ${path}: the user has neither token nor tokenFile (client certificates are not supported here)`);
  }
  await token();
  return { server: access.server.href.replace(/\/+$/, ''), caPem: access.ca?.toString('utf8'), token };
}
