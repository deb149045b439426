/**
 * A STAND-IN for the Kubernetes API server (for tests that need no real control plane; the real one
 * is in test/integration/cluster-*.test.ts), serving only the calls the CNI installer's repair
 * loop and the CNI plugin's API fallback (GET one pod) make, over real TLS with a self-signed
 * certificate for 127.0.0.1. It is honest about what the real API checks: the bearer token, the
 * list's and the watch's fieldSelector (it filters by spec.nodeName as the real one does), the
 * DELETE path, its JSON DeleteOptions body and UID precondition (409 on mismatch, 404 when gone).
 * Watches work like the API server's watch cache, in small: tests change `pods` directly, the
 * stand-in notices within 20 ms, stamps a new resourceVersion and sends ADDED/MODIFIED/DELETED to
 * the open watches of that node; a watch from a resourceVersion replays what came after it (from a
 * bounded history; older gets a 410 Gone event, as the real one does). Every request is recorded
 * for the test to inspect (a watch when it starts); anything else gets 404 and is recorded too.
 */

import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import type { Pod } from '../../cni-plugin/repair/repair-decisions.js';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
  readonly status: number;
}

export interface KubeApiStandIn {
  readonly port: number;
  readonly caPem: string;
  readonly requests: RecordedRequest[];
  /** The pods the stand-in holds; tests add and inspect them. */
  pods: Pod[];
  /** The token the stand-in accepts (tests rotate it). */
  token: string;
  /** Stops answering (open connections cut, new ones refused) for `downMs`, then listens on the same port again. */
  restart(downMs: number): Promise<void>;
  close(): Promise<void>;
}

interface WatchEvent {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly pod: Pod;
}

/** The stand-in's watch cache: the pods as last seen, a resourceVersion per change, a bounded history. */
function podStore(current: () => Pod[]) {
  let version = 1;
  const known = new Map<string, { json: string; stamped: Pod }>();
  const history: WatchEvent[] = [];
  const watchers = new Set<{ node: string; res: ServerResponse }>();
  const stamp = (pod: Pod, rv: number): Pod => ({ ...pod, metadata: { ...pod.metadata, resourceVersion: String(rv) } });
  const send = (event: WatchEvent) => {
    for (const w of watchers) if (event.pod.spec?.nodeName === w.node) w.res.write(`${JSON.stringify({ type: event.type, object: { kind: 'Pod', apiVersion: 'v1', ...event.pod } })}\n`);
  };
  const record = (type: WatchEvent['type'], pod: Pod) => {
    const event = { rv: ++version, type, pod: stamp(pod, version) };
    history.push(event);
    if (history.length > 1000) history.shift();
    send(event);
    return event.pod;
  };
  const sync = () => {
    const seen = new Set<string>();
    for (const pod of current()) {
      seen.add(pod.metadata.uid);
      const json = JSON.stringify(pod);
      const before = known.get(pod.metadata.uid);
      if (before?.json === json) continue;
      known.set(pod.metadata.uid, { json, stamped: record(before ? 'MODIFIED' : 'ADDED', pod) });
    }
    for (const [uid, { stamped }] of known) {
      if (seen.has(uid)) continue;
      known.delete(uid);
      record('DELETED', stamped);
    }
  };
  return {
    sync,
    get version() {
      return version;
    },
    list: (node: string) => [...known.values()].map((k) => k.stamped).filter((p) => p.spec?.nodeName === node),
    /** Starts a watch from `from`: false when that version is older than the history holds. */
    watch(node: string, from: number, res: ServerResponse): boolean {
      if (from < version && (history[0]?.rv ?? version + 1) > from + 1) return false;
      const watcher = { node, res };
      watchers.add(watcher);
      res.on('close', () => watchers.delete(watcher));
      for (const event of history) if (event.rv > from && event.pod.spec?.nodeName === node) res.write(`${JSON.stringify({ type: event.type, object: { kind: 'Pod', apiVersion: 'v1', ...event.pod } })}\n`);
      return true;
    },
    closeWatches() {
      for (const w of watchers) w.res.end();
      watchers.clear();
    },
  };
}

export async function startKubeApiStandIn(token: string): Promise<KubeApiStandIn> {
  const pems = await generate([{ name: 'commonName', value: 'kube-apiserver-stand-in' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  const state = { pods: [] as Pod[], token, requests: [] as RecordedRequest[] };
  const store = podStore(() => state.pods);
  const syncTimer = setInterval(store.sync, 20);
  const server: Server = createServer({ key: pems.private, cert: pems.cert, minVersion: 'TLSv1.2' }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://stand-in');
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = (status: number, payload: unknown) => {
        state.requests.push({
          method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization,
          contentType: req.headers['content-type'], body, status,
        });
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(payload));
      };
      const status = (code: number, message: string) => reply(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code });
      if (req.headers.authorization !== `Bearer ${state.token}`) return status(401, 'Unauthorized');

      store.sync();
      if (req.method === 'GET' && url.pathname === '/api/v1/pods') {
        const selector = /^spec\.nodeName=([a-z0-9.-]+)$/.exec(url.searchParams.get('fieldSelector') ?? '');
        if (!selector?.[1]) return status(400, 'the stand-in requires fieldSelector=spec.nodeName=NODE');
        if (url.searchParams.get('watch') === 'true') {
          const from = Number(url.searchParams.get('resourceVersion') ?? '');
          if (!Number.isInteger(from) || from < 1) return status(400, 'the stand-in watches only from a resourceVersion');
          state.requests.push({
            method: 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization,
            contentType: req.headers['content-type'], body, status: 200,
          });
          // The real API server answers a watch's headers at once, then streams events.
          res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
          res.flushHeaders();
          if (!store.watch(selector[1], from, res)) {
            res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`);
          }
          return;
        }
        return reply(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(store.version) }, items: store.list(selector[1]) });
      }
      const one = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods\/([a-z0-9.-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && one) {
        // The CNI plugin's API fallback: one pod, by namespace and name.
        const pod = state.pods.find((p) => p.metadata.namespace === one[1] && p.metadata.name === one[2]);
        return pod ? reply(200, { kind: 'Pod', apiVersion: 'v1', ...pod }) : status(404, `pods "${one[2]}" not found`);
      }
      const del = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods\/([a-z0-9.-]+)$/.exec(url.pathname);
      if (req.method === 'DELETE' && del) {
        if (req.headers['content-type'] !== 'application/json') return status(415, 'body must be application/json');
        let options: { kind?: string; apiVersion?: string; preconditions?: { uid?: string } };
        try {
          options = JSON.parse(body) as typeof options;
        } catch {
          return status(400, 'body is not JSON');
        }
        if (options.kind !== 'DeleteOptions' || options.apiVersion !== 'v1') return status(400, 'body must be a v1 DeleteOptions');
        const index = state.pods.findIndex((p) => p.metadata.namespace === del[1] && p.metadata.name === del[2]);
        const pod = state.pods[index];
        if (!pod) return status(404, `pods "${del[2]}" not found`);
        if (options.preconditions?.uid !== undefined && options.preconditions.uid !== pod.metadata.uid) return status(409, 'Precondition failed: UID mismatch');
        state.pods.splice(index, 1);
        return reply(200, pod);
      }
      return status(404, 'the stand-in does not serve this');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    caPem: pems.cert,
    requests: state.requests,
    get pods() {
      return state.pods;
    },
    set pods(pods: Pod[]) {
      state.pods = pods;
    },
    get token() {
      return state.token;
    },
    set token(value: string) {
      state.token = value;
    },
    async restart(downMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      store.closeWatches();
      server.closeAllConnections();
      await closed;
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    },
    close: () => new Promise<void>((resolve) => {
      clearInterval(syncTimer);
      store.closeWatches();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
