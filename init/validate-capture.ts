/**
 * `--run-validation`: proves the capture rules work, the way istio-validation does. Listeners
 * take the proxy's two ports on loopback; a client running as the proxy's uid connects to
 * 127.0.0.6:<probe port> (nothing listens there). Only the ISTIO_OUTPUT → ISTIO_IN_REDIRECT
 * rule can carry that connection to our listener, so receiving the client's random token there
 * proves redirection. Retries are bounded by the probe timeout.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import type { CaptureConfig } from '../capture/capture-config.js';
import { ErrorCodes, OutriggerError } from '../common/errors.js';

export interface ValidationTarget {
  readonly family: 4 | 6;
  readonly listenHost: string;
  readonly probeHost: string;
}

export const ValidationTargets: Record<4 | 6, ValidationTarget> = {
  4: { family: 4, listenHost: '127.0.0.1', probeHost: '127.0.0.6' },
  6: { family: 6, listenHost: '::1', probeHost: '::6' },
};

const RETRY_INTERVAL_MS = 100;

/** One connection attempt, run in a child process so it can carry the proxy's uid and gid. */
const CLIENT_SCRIPT = `
const net = require('node:net');
const [host, port, token, localHost] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), localAddress: localHost, timeout: 1000 });
s.on('connect', () => s.end(token));
s.on('close', (hadError) => process.exit(hadError ? 1 : 0));
s.on('error', () => process.exit(1));
s.on('timeout', () => { s.destroy(); process.exit(1); });
`;

function listen(host: string, port: number, onToken: (token: string) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        data += chunk;
        if (data.length > 256) socket.destroy();
      });
      socket.on('end', () => onToken(data));
      socket.on('error', () => socket.destroy());
    });
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

function connectOnce(target: ValidationTarget, probePort: number, token: string, asOwner: { uid: number; gid: number } | null): Promise<void> {
  if (!asOwner) {
    return new Promise((resolve) => {
      const socket = connect({ host: target.probeHost, port: probePort, localAddress: target.listenHost, timeout: 1000 });
      socket.on('connect', () => socket.end(token));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.on('timeout', () => socket.destroy());
    });
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', CLIENT_SCRIPT, target.probeHost, String(probePort), token, target.listenHost], {
      uid: asOwner.uid,
      gid: asOwner.gid,
      stdio: 'ignore',
      timeout: 3000,
    });
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
}

/** Which identity the probe client takes: ourselves if we are the proxy, else the proxy's uid via a child. */
function probeIdentity(config: CaptureConfig): { uid: number; gid: number } | null {
  const uid = config.proxyUids.find((u) => /^\d+$/.test(u));
  const gid = config.proxyGids.find((g) => /^\d+$/.test(g)) ?? uid;
  const myUid = process.getuid?.() ?? -1;
  if (uid !== undefined && Number(uid) === myUid) return null;
  if (myUid !== 0 || uid === undefined || gid === undefined) {
    throw new OutriggerError(
      ErrorCodes.ValidationFailed,
      `validation must run as the proxy's uid (${config.proxyUids.join(',')}) or as root (running as uid ${myUid})`,
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

export async function validateCapture(config: CaptureConfig, options: { families: readonly (4 | 6)[]; probePort: number; timeoutMs: number }): Promise<void> {
  const identity = probeIdentity(config);
  const deadline = Date.now() + options.timeoutMs;
  for (const family of options.families) {
    const target = ValidationTargets[family];
    const token = randomBytes(12).toString('hex');
    let received = false;
    const servers: Server[] = [];
    try {
      for (const port of new Set([config.proxyPort, config.inboundCapturePort])) {
        servers.push(await listen(target.listenHost, port, (t) => {
          if (t === token) received = true;
        }));
      }
    } catch (cause) {
      servers.forEach((s) => s.close());
      throw new OutriggerError(ErrorCodes.ValidationFailed, `validation could not listen on ${target.listenHost} ports ${config.proxyPort}/${config.inboundCapturePort}`, { cause });
    }
    try {
      while (!received && Date.now() < deadline) {
        await connectOnce(target, options.probePort, token, identity);
        if (!received) await new Promise((r) => setTimeout(r, RETRY_INTERVAL_MS));
      }
    } finally {
      servers.forEach((s) => s.close());
    }
    if (!received) {
      throw new OutriggerError(
        ErrorCodes.ValidationFailed,
        `iptables validation failed for IPv${family}: a connection to ${target.probeHost}:${options.probePort} as the proxy did not reach ` +
          `${target.listenHost}:${config.inboundCapturePort} within ${options.timeoutMs} ms; the pod's traffic is not captured. ` +
          'In CNI mode this happens when the pod started before the outrigger CNI plugin was installed on its node: delete the pod so it is recreated.',
      );
    }
  }
}
