/**
 * Bounded reads of configuration files and the CNI plugin's best-effort log destination, on real
 * files of each kind (a FIFO made with mkfifo, /dev/zero, /dev/full, a directory).
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readRegularFile } from '../../common/read-regular-file.js';
import { openLogDestination } from '../../cni-plugin/plugin/log-destination.js';

const dir = mkdtempSync(join(tmpdir(), 'or-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fifo(name: string): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

describe('readRegularFile', () => {
  it('reads a regular file, also through a symlink', async () => {
    writeFileSync(join(dir, 'token'), 'abc\n');
    symlinkSync(join(dir, 'token'), join(dir, 'token-link'));
    for (const name of ['token', 'token-link']) {
      const read = await readRegularFile(join(dir, name), 1024);
      expect(read.ok && read.data.toString()).toBe('abc\n');
    }
  });

  it('refuses at once what is not a regular file: a FIFO without a writer, a device, a directory', async () => {
    expect(await readRegularFile(fifo('kubeconfig'), 1024)).toEqual({ ok: false, reason: 'not a regular file (a FIFO)' });
    expect(await readRegularFile('/dev/zero', 1024)).toEqual({ ok: false, reason: 'not a regular file (a character device)' });
    expect(await readRegularFile(dir, 1024)).toEqual({ ok: false, reason: 'not a regular file (a directory)' });
  });

  it('refuses a file over the limit and names a missing one', async () => {
    writeFileSync(join(dir, 'big'), Buffer.alloc(5000));
    expect(await readRegularFile(join(dir, 'big'), 4096)).toEqual({ ok: false, reason: 'larger than 4 KiB' });
    const exact = await readRegularFile(join(dir, 'big'), 5000);
    expect(exact.ok && exact.data.length).toBe(5000);
    expect(await readRegularFile(join(dir, 'absent'), 1024)).toMatchObject({ ok: false, reason: 'cannot read it (ENOENT)' });
  });
});

describe('openLogDestination', () => {
  it('appends to a regular file, creating it and its directory', () => {
    const path = join(dir, 'logs', 'cni.log');
    const { stream, problem } = openLogDestination(path, 'test');
    expect(problem).toBeNull();
    stream.write('{"a":1}\n');
    stream.write('{"a":2}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"a":2}\n');
  });

  it('does not use a FIFO without a reader, a device or a directory, and says what it is', () => {
    expect(openLogDestination(fifo('log'), 'test').problem).toBe('not a regular file (a FIFO)');
    expect(openLogDestination('/dev/full', 'test').problem).toBe('not a regular file (a character device)');
    mkdirSync(join(dir, 'a-dir'));
    expect(openLogDestination(join(dir, 'a-dir'), 'test').problem).toBe('not a regular file (a directory)');
  });
});
