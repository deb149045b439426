/**
 * Where the API server is and how to authenticate: in a pod, KUBERNETES_SERVICE_HOST/PORT with
 * the service-account CA and token files; otherwise (tests, out-of-cluster runs) the current
 * context of a kubeconfig (server, CA inline or as a file, token inline or as a file). The
 * token is read on every call because projected tokens rotate.
 */

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';

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

type Named<T> = { name?: string } & T;

export async function kubeconfigEndpoint(path: string): Promise<ApiEndpoint> {
  const bad = (reason: string) => new OutriggerError(ErrorCodes.InvalidInput, `kubeconfig ${path}: ${reason}`);
  let doc: {
    'current-context'?: string;
    contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
    clusters?: Named<{ cluster?: { server?: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }>[];
    users?: Named<{ user?: { token?: string; tokenFile?: string } }>[];
  };
  try {
    doc = parse(await readText(path, 'kubeconfig')) as typeof doc;
  } catch (error) {
    if (error instanceof OutriggerError) throw error;
    throw bad(`not YAML (${String(error)})`);
  }
  const context = doc.contexts?.find((c) => c.name === doc['current-context'])?.context ?? doc.contexts?.[0]?.context;
  const cluster = (doc.clusters?.find((c) => c.name === context?.cluster) ?? doc.clusters?.[0])?.cluster;
  const user = (doc.users?.find((u) => u.name === context?.user) ?? doc.users?.[0])?.user;
  if (!cluster?.server || !/^https?:\/\//.test(cluster.server)) throw bad('no cluster server (https://...)');
  const base = dirname(path);
  let caPem: string | undefined;
  if (cluster['certificate-authority-data']) caPem = Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8');
  else if (cluster['certificate-authority']) caPem = await readText(resolve(base, cluster['certificate-authority']), 'CA bundle');
  let token: () => Promise<string>;
  if (user?.tokenFile) token = tokenFromFile(resolve(base, user.tokenFile));
  else if (user?.token) {
    const fixed = user.token;
    token = async () => fixed;
  } else throw bad('the user has neither token nor tokenFile (client certificates are not supported here)');
  await token();
  return { server: cluster.server.replace(/\/+$/, ''), caPem, token };
}
