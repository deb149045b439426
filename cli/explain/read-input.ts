/**
 * Reads a dump or manifest the user points at: a file, or `-` for stdin, at most MaxInputBytes
 * (a kube-proxy node's iptables-save is a few MB; more is refused, never loaded whole). A file
 * may be a pipe (`--rules <(kubectl exec ... -- iptables-save)`). Failure to read is a ReadFailed
 * error (exit 1) naming the flag and the path.
 */

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { ErrorCodes, invalidInput, OutriggerError } from '../../common/errors.js';

export const MaxInputBytes = 64 * 1024 * 1024;

async function readBounded(stream: Readable, flag: string, path: string, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buffer.length;
    if (total > max) {
      stream.destroy();
      throw invalidInput([{ source: flag, value: path, reason: `is larger than ${max >= 1024 * 1024 ? `${max / 1024 / 1024} MiB` : `${max} bytes`}` }], 'input');
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readInput(flag: string, path: string, stdin: Readable = process.stdin, max = MaxInputBytes): Promise<string> {
  try {
    return await readBounded(path === '-' ? stdin : createReadStream(path), flag, path, max);
  } catch (error) {
    if (error instanceof OutriggerError) throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read ${flag} ${path}: ${reason}`, { cause: error });
  }
}
