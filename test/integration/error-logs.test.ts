/**
 * What users read when a command fails for an ordinary reason: the built `outrigger init` (in a
 * test namespace) and the built `outrigger-cni` (as a runtime runs it) log the error's message and
 * code, and the JavaScript stack only at debug level.
 */

import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execPlugin, pluginConfig } from '../helpers/cni-runtime.js';
import { type CniNode, createCniNode, requireCniPlugins } from '../helpers/cni-pod.js';
import { createNamespace, destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';
import { outrigger } from '../helpers/outrigger-cli.js';

/** A stack frame, raw or inside a JSON string. */
const StackFrame = /(\n|\\n)\s+at /;

let cni: CniNode;

beforeAll(() => {
  requireRealKernel();
  requireCniPlugins();
  cni = createCniNode();
});
afterAll(() => {
  cni?.destroy();
  destroyAllNamespaces();
});

function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('outrigger init', () => {
  it('logs a user name iptables does not know with its message and code, the stack only at debug', async () => {
    const ns = createNamespace();
    const plain = await outrigger(ns, ['init', '-u', 'nosuchuser']);
    expect(plain.exitCode).toBe(1);
    expect(plain.stderr).not.toMatch(StackFrame);
    const [line] = jsonLines(plain.stderr);
    expect(line).toMatchObject({ level: 50, code: 'APPLY_FAILED', err: { type: 'OutriggerError', code: 'APPLY_FAILED', message: expect.stringContaining('"nosuchuser"') } });
    expect(line?.err).not.toHaveProperty('stack');
    expect(plain.stderr).toContain('outrigger init: iptables-nft-restore failed for IPv4; the previous rules are intact');

    const debug = await outrigger(ns, ['init', '-u', 'nosuchuser', '--log-level', 'debug']);
    expect(debug.exitCode).toBe(1);
    const debugLine = jsonLines(debug.stderr).find((l) => l.level === 50);
    expect(String((debugLine?.err as { stack?: unknown } | undefined)?.stack)).toMatch(/^OutriggerError: .*\n\s+at /s);
    ns.destroy();
  });
});

describe('outrigger-cni', () => {
  async function addWithoutPrevResult(logLevel: string): Promise<Record<string, unknown>[]> {
    const logFile = join(cni.dataDir, `no-prev-${logLevel}.log`);
    rmSync(logFile, { force: true });
    const list = cni.list({ logLevel, logFile });
    const call = cni.call();
    const out = await execPlugin(cni.node, 'outrigger-cni', 'ADD', JSON.stringify(pluginConfig(list, list.plugins[2]!, call, undefined)), call);
    expect(out.exitCode).toBe(1);
    expect(out.json).toMatchObject({ code: 7, msg: 'outrigger-cni is a chained plugin and needs prevResult' });
    expect(out.stdout).not.toMatch(StackFrame);
    return jsonLines(readFileSync(logFile, 'utf8'));
  }

  it('logs ADD without prevResult with its message and code, the stack only at debug', async () => {
    const text = JSON.stringify(await addWithoutPrevResult('info'));
    expect(text).not.toMatch(StackFrame);
    const [failed] = (await addWithoutPrevResult('info')).filter((l) => l.msg === 'ADD failed');
    expect(failed).toMatchObject({ level: 50, err: { type: 'CniError', code: 7, message: 'outrigger-cni is a chained plugin and needs prevResult' } });
    expect(failed?.err).not.toHaveProperty('stack');

    const [debugFailed] = (await addWithoutPrevResult('debug')).filter((l) => l.msg === 'ADD failed');
    expect(String((debugFailed?.err as { stack?: unknown } | undefined)?.stack)).toMatch(/^CniError: .*\n\s+at /s);
  });
});
