/**
 * The deferred logger `outrigger init` uses: lines below the level open nothing (pino is not even
 * created, so no destination file appears); lines at or above it are pino JSON, written by the
 * time the call resolves.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeferredLogger } from '../../common/deferred-log.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function logFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deferred-log-'));
  dirs.push(dir);
  return join(dir, 'sub', 'init.log');
}

describe('createDeferredLogger', () => {
  it('creates no pino logger (no destination) for lines below the level, or at silent', async () => {
    const warnFile = logFile();
    const warn = createDeferredLogger({ name: 'outrigger-init', level: 'warn', destination: warnFile });
    await warn.info({ families: [] }, 'capture rules applied');
    await warn.debug('step');
    expect(existsSync(warnFile)).toBe(false);

    const silentFile = logFile();
    const silent = createDeferredLogger({ name: 'outrigger-init', level: 'silent', destination: silentFile });
    await silent.error({ code: 'APPLY_FAILED' }, 'failed');
    expect(existsSync(silentFile)).toBe(false);
  });

  it('writes enabled lines as pino JSON with the name, level and fields, in call order', async () => {
    const file = logFile();
    const log = createDeferredLogger({ name: 'outrigger-init', level: 'info', destination: file });
    await log.debug('not at info');
    await log.info({ routingAdded: 1 }, 'capture rules applied');
    await log.error({ code: 'APPLY_FAILED', err: new Error('boom') }, 'apply failed');
    await log.info('validation passed');
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.name, l.msg])).toEqual([
      [30, 'outrigger-init', 'capture rules applied'],
      [50, 'outrigger-init', 'apply failed'],
      [30, 'outrigger-init', 'validation passed'],
    ]);
    expect(lines[0]).toMatchObject({ routingAdded: 1 });
    expect(lines[1]).toMatchObject({ code: 'APPLY_FAILED', err: { type: 'Error', message: 'boom' } });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('defaults to info', async () => {
    const file = logFile();
    const log = createDeferredLogger({ name: 't', destination: file });
    await log.debug('hidden');
    expect(existsSync(file)).toBe(false);
    await log.warn('shown');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ level: 40, msg: 'shown' });
  });
});
