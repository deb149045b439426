/**
 * File mode (and cert-manager mode, which is file mode with cert-manager filling the Secret and the
 * webhook's caBundle): the serving pair comes from `--tls-cert-file` and `--tls-key-file`, and is
 * reloaded when the mounted Secret changes. A new pair that does not parse or does not match is
 * refused with one log line per distinct problem, and the previous pair keeps serving.
 */

import { readFile } from 'node:fs/promises';
import { ErrorCodes, OutriggerError, isOutriggerError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { InjectorMetrics } from '../metrics/injector-metrics.js';
import { type MountedFilesWatch, watchMountedFiles } from '../watch/watch-mounted-files.js';
import type { ServingCertificate } from './serving-certificate.js';
import { checkTlsMaterial, type TlsMaterial } from './tls-material.js';

export interface CertFilePaths {
  readonly cert: string;
  readonly key: string;
}

export async function loadCertFiles(paths: CertFilePaths): Promise<TlsMaterial> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8')]);
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unknown';
    const path = (error as { path?: string }).path ?? `${paths.cert}, ${paths.key}`;
    throw new OutriggerError(ErrorCodes.ReadFailed, `cannot read ${path} (${code})`, { cause: error });
  }
  return checkTlsMaterial(cert, key, paths);
}

export function watchCertFiles(options: {
  readonly paths: CertFilePaths;
  readonly serving: ServingCertificate;
  readonly pollMs: number;
  readonly log: Logger;
  readonly metrics: InjectorMetrics;
}): MountedFilesWatch {
  const { paths, serving, log, metrics } = options;
  let lastProblem: string | undefined;
  return watchMountedFiles({
    paths: [paths.cert, paths.key],
    pollMs: options.pollMs,
    log,
    onCheck: async () => {
      try {
        const material = await loadCertFiles(paths);
        lastProblem = undefined;
        serving.use(material, 'files');
      } catch (error) {
        const message = isOutriggerError(error) ? error.message : String(error);
        if (message === lastProblem) return;
        lastProblem = message;
        metrics.reloads.inc({ what: 'certificate', result: 'refused' });
        log.error({ problem: message, fingerprint: serving.current?.fingerprint }, 'new certificate refused; still serving the previous one');
      }
    },
  });
}
