/**
 * The tests and the demo run some of the project's files as other users: probe scripts and the
 * stand-in proxy as the proxy's uid 1337 or an app's uid 1000, `outrigger init --run-validation`
 * as uid 1337. Those users must be able to reach the files, but a checkout may sit below a
 * directory only root can enter (a clone in `mktemp -d` is mode 0700). This stages the files in
 * one directory of this process under the system temp directory (mode 0755): hard links where
 * the file system allows (the file's own mode applies), copies otherwise. The directory is
 * removed when the process exits; test workers can end without exit handlers, so directories of
 * processes that are gone are removed when the next one is made.
 *
 * Plain TypeScript with erasable syntax only, so `node scripts/demo.mjs` imports it directly.
 */

import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

let stagingDir: string | undefined;
const staged = new Map<string, string>();

const Prefix = 'outrigger-staged-';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function removeLeftovers(): void {
  for (const entry of readdirSync(tmpdir())) {
    const pid = Number(/^outrigger-staged-(\d+)-/.exec(entry)?.[1]);
    if (pid > 0 && pid !== process.pid && !isAlive(pid)) rmSync(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

function directory(): string {
  if (stagingDir === undefined) {
    removeLeftovers();
    const dir = mkdtempSync(join(tmpdir(), `${Prefix}${process.pid}-`));
    chmodSync(dir, 0o755);
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    stagingDir = dir;
  }
  return stagingDir;
}

function place(source: string, target: string): void {
  if (statSync(source).isDirectory()) {
    mkdirSync(target, { mode: 0o755 });
    chmodSync(target, 0o755);
    for (const entry of readdirSync(source)) place(join(source, entry), join(target, entry));
    return;
  }
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}

/**
 * A path other users can read (and execute, if the file is executable) with the same content as
 * `source` (a file or a directory tree), staged once per process. Files keep their base name, so
 * a bundle's entry and its chunks stay side by side: stage the directory, then join the entry.
 */
export function stageForOtherUsers(source: string): string {
  const real = realpathSync(source);
  let target = staged.get(real);
  if (target === undefined) {
    target = join(directory(), `${staged.size}-${basename(real)}`);
    mkdirSync(target, { mode: 0o755 });
    chmodSync(target, 0o755);
    place(real, join(target, basename(real)));
    target = join(target, basename(real));
    staged.set(real, target);
  }
  return target;
}
