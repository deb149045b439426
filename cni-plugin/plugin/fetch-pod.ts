/**
 * The API fallback: GET /api/v1/namespaces/NS/pods/NAME over node:https with the kubeconfig's
 * credentials, retried with exponential backoff inside one overall deadline. Retried: network
 * errors, timeouts, 401 (a token being rotated), 404 and a UID that does not match K8S_POD_UID
 * (the pod is not visible yet, or a same-named older pod answered), 429 and 5xx. Not retried: 403
 * (missing RBAC is not transient), nor a token file that cannot be read (code 5). When the
 * deadline passes the error is Unavailable, which the CNI edge reports as code 11 ("try again
 * later").
 *
 * The deadline bounds the whole call, from connecting to the last byte of the answer: each
 * attempt has a timer that ends it however the server paces its bytes (a socket idle timeout
 * alone would let a server trickle a byte every half second forever), and no attempt is given
 * more time than the deadline has left. Answers over 8 MiB are cut off (a pod is under 1.5 MiB,
 * etcd's limit).
 */

import { request } from 'node:https';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { readRegularFile } from '../../common/read-regular-file.js';
import { KubeFileMaxBytes, type KubeAccess } from '../kube/read-kubeconfig.js';

export interface PodMeta {
  readonly uid: string;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface FetchPodOptions {
  readonly namespace: string;
  readonly name: string;
  /** K8S_POD_UID from CNI_ARGS, when the runtime sent it. */
  readonly uid: string | null;
  readonly deadlineMs: number;
  readonly log: Logger;
}

type Attempt = { kind: 'ok'; pod: PodMeta } | { kind: 'retry'; reason: string } | { kind: 'fail'; error: OutriggerError };

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 1000;
const ATTEMPT_TIMEOUT_MS = 3000;
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/** The bearer token (re-read from its file on every attempt, so rotation is picked up), or a failure. */
async function bearer(access: KubeAccess): Promise<{ ok: true; token: string | null } | { ok: false; error: OutriggerError }> {
  if (!access.tokenFile) return { ok: true, token: access.token };
  const read = await readRegularFile(access.tokenFile, KubeFileMaxBytes);
  if (read.ok) return { ok: true, token: read.data.toString('utf8').trim() };
  return { ok: false, error: new OutriggerError(ErrorCodes.ReadFailed, `kubeconfig tokenFile ${access.tokenFile}: ${read.reason}`, read.cause === undefined ? {} : { cause: read.cause }) };
}

function getOnce(access: KubeAccess, path: string, token: string | null, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const fail = (error: Error): void => settle(() => reject(error));
    const req = request(
      {
        protocol: 'https:',
        hostname: access.server.hostname.replace(/^\[|\]$/g, ''),
        port: access.server.port || 443,
        path: `${access.server.pathname.replace(/\/$/, '')}${path}`,
        method: 'GET',
        headers: { Accept: 'application/json', 'User-Agent': 'outrigger-cni', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        minVersion: 'TLSv1.2',
        rejectUnauthorized: !access.insecureSkipTlsVerify,
        ...(access.ca ? { ca: access.ca } : {}),
        ...(access.clientCert && access.clientKey ? { cert: access.clientCert, key: access.clientKey } : {}),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) {
            fail(new Error(`answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB`));
            req.destroy();
          } else chunks.push(c);
        });
        res.on('end', () => settle(() => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })));
        res.on('error', fail);
        res.on('close', () => fail(new Error('the connection closed before the answer was complete')));
      },
    );
    // Connect, TLS, headers and body together: however slowly the bytes come, the attempt ends here.
    const timer = setTimeout(() => {
      fail(new Error(`no complete answer within ${timeoutMs} ms`));
      req.destroy();
    }, timeoutMs);
    req.on('error', fail);
    req.end();
  });
}

async function attempt(access: KubeAccess, options: FetchPodOptions, timeoutMs: number): Promise<Attempt> {
  const path = `/api/v1/namespaces/${encodeURIComponent(options.namespace)}/pods/${encodeURIComponent(options.name)}`;
  const token = await bearer(access);
  if (!token.ok) return { kind: 'fail', error: token.error };
  let answer: { status: number; body: string };
  try {
    answer = await getOnce(access, path, token.token, timeoutMs);
  } catch (error) {
    return { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
  }
  const { status, body } = answer;
  if (status === 403) {
    return { kind: 'fail', error: new OutriggerError(ErrorCodes.ReadFailed, `the API server refused to let outrigger-cni get pod ${options.namespace}/${options.name} (403); grant it "get pods"`) };
  }
  if (status !== 200) return { kind: 'retry', reason: `API server answered ${status}` };
  let pod: { metadata?: { uid?: unknown; annotations?: unknown } };
  try {
    pod = JSON.parse(body) as typeof pod;
  } catch {
    return { kind: 'retry', reason: 'API server answered with something that is not JSON' };
  }
  const uid = typeof pod.metadata?.uid === 'string' ? pod.metadata.uid : '';
  if (options.uid && uid !== options.uid) return { kind: 'retry', reason: `pod UID ${uid || '(none)'} is not K8S_POD_UID ${options.uid}` };
  const raw = pod.metadata?.annotations;
  const annotations: Record<string, string> = {};
  if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') annotations[k] = v;
  return { kind: 'ok', pod: { uid, annotations } };
}

export async function fetchPod(access: KubeAccess, options: FetchPodOptions): Promise<PodMeta> {
  const deadline = Date.now() + options.deadlineMs;
  let backoff = BACKOFF_START_MS;
  let attempts = 0;
  let lastReason = '';
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    attempts++;
    const result = await attempt(access, options, Math.min(ATTEMPT_TIMEOUT_MS, remaining));
    if (result.kind === 'ok') return result.pod;
    if (result.kind === 'fail') throw result.error;
    lastReason = result.reason;
    options.log.debug({ attempts, reason: lastReason }, 'getting the pod from the API server failed; retrying');
    const wait = Math.min(backoff, deadline - Date.now());
    if (wait <= 0) break;
    await new Promise((r) => setTimeout(r, wait));
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  }
  throw new OutriggerError(
    ErrorCodes.Unavailable,
    `could not get pod ${options.namespace}/${options.name} from the API server ${access.server.origin} within ${options.deadlineMs} ms (${attempts} attempts): ${lastReason}`,
  );
}
