/**
 * Where outrigger-cni's log lines go: the `logFile` of its network config, or stderr (never
 * stdout, which belongs to the runtime). Logging is best effort: the CNI answer on stdout is what
 * the runtime acts on, so a log that cannot be written never fails or stalls a command.
 *
 * - `logFile` must be a regular file (created, with its directory, if missing). It is opened with
 *   O_NONBLOCK, so a FIFO without a reader cannot stall the open, and anything that is not a
 *   regular file (a FIFO, /dev/full or another device, a directory) is not used.
 * - A write that fails (a full disk: ENOSPC, EIO) closes the file; that line and the rest go to
 *   stderr, after one line saying why.
 * - stderr is written synchronously; if it is a pipe that is full, writing is retried for at most
 *   a second in all, then log lines are dropped (runtimes read plugins' stderr to the end, so this
 *   only happens when nobody reads it).
 */

import { closeSync, constants, fstatSync, mkdirSync, openSync, type Stats, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileKind } from '../../common/read-regular-file.js';

export interface LogDestination {
  write(line: string): void;
}

export interface OpenedLogDestination {
  readonly stream: LogDestination;
  /** Why `logFile` is not used (lines go to stderr), or null. */
  readonly problem: string | null;
}

const STDERR_RETRY_BUDGET_MS = 1000;
const STDERR_RETRY_STEP_MS = 10;
const pause = new Int32Array(new SharedArrayBuffer(4));

function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

function writeAll(fd: number, text: string, onBusy: () => boolean): void {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if (errnoCode(error) !== 'EAGAIN' || !onBusy()) throw error;
    }
  }
}

/** stderr with a bounded total wait on a full pipe; lines that cannot be written are dropped. */
function stderrWriter(): (text: string) => void {
  let budgetMs = STDERR_RETRY_BUDGET_MS;
  const onBusy = (): boolean => {
    if (budgetMs <= 0) return false;
    budgetMs -= STDERR_RETRY_STEP_MS;
    Atomics.wait(pause, 0, 0, STDERR_RETRY_STEP_MS);
    return true;
  };
  return (text) => {
    try {
      writeAll(2, text, onBusy);
    } catch {
      // Nowhere left to report it.
    }
  };
}

function notRegular(stats: Stats): string {
  return `not a regular file (${fileKind(stats)})`;
}

function openRegularFile(path: string): { fd: number } | { problem: string } {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch {
    // open reports what is wrong with the path
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | constants.O_NOCTTY, 0o640);
  } catch (error) {
    // A FIFO without a reader fails here (ENXIO), a directory too (EISDIR): say what the path is.
    let stats: Stats | undefined;
    try {
      stats = statSync(path);
    } catch {
      stats = undefined;
    }
    return { problem: stats && !stats.isFile() ? notRegular(stats) : `cannot open it (${errnoCode(error)})` };
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isFile()) return { fd };
    closeSync(fd);
    return { problem: notRegular(stats) };
  } catch (error) {
    closeSync(fd);
    return { problem: `cannot open it (${errnoCode(error)})` };
  }
}

/** `name` is the logger's name, for the one line this writes itself when the file fails. */
export function openLogDestination(logFile: string | null, name: string): OpenedLogDestination {
  const toStderr = stderrWriter();
  if (!logFile) return { stream: { write: toStderr }, problem: null };
  const opened = openRegularFile(logFile);
  if ('problem' in opened) return { stream: { write: toStderr }, problem: opened.problem };
  let fd: number | null = opened.fd;
  return {
    problem: null,
    stream: {
      write(line) {
        if (fd !== null) {
          try {
            // A regular file never answers EAGAIN: no waiting here.
            writeAll(fd, line, () => false);
            return;
          } catch (error) {
            try {
              closeSync(fd);
            } catch {
              // already unusable
            }
            fd = null;
            const reason = `cannot write it (${errnoCode(error)})`;
            toStderr(`${JSON.stringify({ level: 40, time: new Date().toISOString(), name, logFile, reason, msg: 'cannot use logFile; logging to stderr' })}\n`);
          }
        }
        toStderr(line);
      },
    },
  };
}
