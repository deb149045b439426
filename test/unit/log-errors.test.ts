/**
 * How errors appear in pino lines (common/log.ts): message with its causes, code, problems and
 * the error's own name as its type; the JavaScript stack only when debug is enabled at the time
 * of logging.
 */

import { describe, expect, it } from 'vitest';
import { createLogger } from '../../common/log.js';
import { ErrorCodes, OutriggerError } from '../../common/errors.js';

function capture(level: string): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ name: 't', level, destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { log, lines };
}

const ordinary = () =>
  new OutriggerError(ErrorCodes.ReadFailed, 'kubeconfig /k: cannot read it (ENOENT)', { cause: Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }) });

describe('error lines', () => {
  it('at info: type, code, problems and the message with its causes, no stack', () => {
    const { log, lines } = capture('info');
    log.error({ err: ordinary() }, 'failed');
    expect(lines[0]?.err).toEqual({ type: 'OutriggerError', name: 'OutriggerError', code: 'READ_FAILED', problems: [], message: 'kubeconfig /k: cannot read it (ENOENT): ENOENT: no such file' });
  });

  it('at debug: the stack too, also of child loggers and after a level change', () => {
    const { log, lines } = capture('debug');
    log.child({ command: 'ADD' }).error({ err: ordinary() }, 'failed');
    expect(String((lines[0]?.err as { stack?: string }).stack)).toMatch(/^OutriggerError: kubeconfig \/k.*\n\s+at /s);
    log.level = 'info';
    log.error({ err: ordinary() }, 'failed');
    expect(lines[1]?.err).not.toHaveProperty('stack');
  });
});
