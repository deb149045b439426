/**
 * Reads the one cluster and user from a kubeconfig file (its current context), for both the
 * plugin's API fallback and the installer run outside a pod: the API server URL, its CA, and a
 * bearer token (inline or a token file, which callers re-read so a rotated token is picked up)
 * or a client certificate. Deliberately small: the plugin runs on every pod start and must not
 * load @kubernetes/client-node; the YAML parser is loaded only when the file is YAML. Secrets
 * are never put in errors or logs. Files are read with readRegularFile: a FIFO, a device or a
 * file over 4 MiB is refused at once, never waited on.
 */

import { dirname, resolve } from 'node:path';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import { readRegularFile } from '../../common/read-regular-file.js';

export interface KubeAccess {
  readonly server: URL;
  readonly ca: Buffer | null;
  readonly insecureSkipTlsVerify: boolean;
  readonly token: string | null;
  readonly tokenFile: string | null;
  readonly clientCert: Buffer | null;
  readonly clientKey: Buffer | null;
}

type Node = Record<string, unknown>;

/** The most any kubeconfig, token, certificate or key file may hold (real ones are a few KiB). */
export const KubeFileMaxBytes = 4 * 1024 * 1024;

function named(list: unknown, name: unknown, field: string): Node | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = list.find((e: Node) => e && e.name === name) as Node | undefined;
  const inner = entry?.[field];
  return typeof inner === 'object' && inner !== null ? (inner as Node) : undefined;
}

function str(node: Node | undefined, key: string): string | null {
  const value = node?.[key];
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * yaml's parse, loaded only when the file is YAML. In the esbuild ESM bundle (dist/, where the
 * installer runs) a dynamic import of the CommonJS yaml package yields a namespace holding only
 * `default`; in the CommonJS single executable and unbundled, `parse` is there too.
 */
async function loadYamlParse(): Promise<(text: string) => unknown> {
  const yaml = (await import('yaml')) as Partial<typeof import('yaml')> & { readonly default?: typeof import('yaml') };
  const parse = yaml.parse ?? yaml.default?.parse;
  if (!parse) throw new Error('the yaml module has no parse function');
  return parse;
}

export async function readKubeconfig(path: string): Promise<KubeAccess> {
  const fail = (reason: string, cause?: unknown) =>
    new OutriggerError(ErrorCodes.ReadFailed, `kubeconfig ${path}: ${reason}`, cause === undefined ? {} : { cause });
  const read = await readRegularFile(path, KubeFileMaxBytes);
  if (!read.ok) throw fail(read.reason, read.cause);
  const text = read.data.toString('utf8');
  let doc: Node;
  try {
    const parsed: unknown = text.trimStart().startsWith('{') ? JSON.parse(text) : (await loadYamlParse())(text);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a mapping');
    doc = parsed as Node;
  } catch (cause) {
    throw fail('not valid YAML or JSON', cause);
  }

  const contexts = Array.isArray(doc.contexts) ? doc.contexts : [];
  const contextName = doc['current-context'] ?? (contexts.length === 1 ? (contexts[0] as Node).name : undefined);
  const context = named(doc.contexts, contextName, 'context');
  const clusters = Array.isArray(doc.clusters) ? doc.clusters : [];
  const users = Array.isArray(doc.users) ? doc.users : [];
  const cluster = context ? named(clusters, context.cluster, 'cluster') : clusters.length === 1 ? ((clusters[0] as Node).cluster as Node) : undefined;
  const user = context ? named(users, context.user, 'user') : users.length === 1 ? ((users[0] as Node).user as Node) : undefined;
  const serverText = str(cluster, 'server');
  if (!serverText) throw fail('no cluster server in the current context');
  let server: URL;
  try {
    server = new URL(serverText);
  } catch (cause) {
    throw fail(`cluster server ${JSON.stringify(serverText)} is not a URL`, cause);
  }
  if (server.protocol !== 'https:') throw fail(`cluster server must use https (got ${server.protocol})`);

  const base = dirname(path);
  const fileOrData = async (node: Node | undefined, fileKey: string, dataKey: string): Promise<Buffer | null> => {
    const data = str(node, dataKey);
    if (data) return Buffer.from(data, 'base64');
    const file = str(node, fileKey);
    if (!file) return null;
    const fileRead = await readRegularFile(resolve(base, file), KubeFileMaxBytes);
    if (!fileRead.ok) throw fail(`${fileKey} ${file}: ${fileRead.reason}`, fileRead.cause);
    return fileRead.data;
  };
  const tokenFile = str(user, 'tokenFile');
  return {
    server,
    ca: await fileOrData(cluster, 'certificate-authority', 'certificate-authority-data'),
    insecureSkipTlsVerify: cluster?.['insecure-skip-tls-verify'] === true,
    token: str(user, 'token'),
    tokenFile: tokenFile ? resolve(base, tokenFile) : null,
    clientCert: await fileOrData(user, 'client-certificate', 'client-certificate-data'),
    clientKey: await fileOrData(user, 'client-key', 'client-key-data'),
  };
}
