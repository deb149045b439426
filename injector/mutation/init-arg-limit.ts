/**
 * Linux refuses to start a program with an argument or environment string longer than
 * MAX_ARG_STRLEN (32 pages of 4 KiB: 131,072 bytes, the terminating NUL included): execve fails
 * with E2BIG. proxy-init (and proxy-validation in CNI mode) gets each capture setting as one
 * argument (`-x <CIDRs>`) or environment variable, so a pod whose setting is longer (10,000 CIDRs
 * in traffic.sidecar.istio.io/excludeOutboundIPRanges make ~143 KB) could never start. Such a pod
 * is refused at admission, naming the setting's source. Checked on the raw settings before their
 * lists are parsed, so a huge annotation costs no more than its length.
 */

import type { FieldProblem } from '../../common/errors.js';
import type { RawCaptureSettings } from '../../capture/build-capture-config.js';
import { CaptureEnvOnly, CaptureFlags } from '../../capture/capture-flags.js';
import { jsonPreview } from './json-preview.js';

/** Linux's MAX_ARG_STRLEN (include/uapi/linux/binfmts.h: PAGE_SIZE * 32), NUL included. */
export const MaxArgStrlen = 32 * 4096;
/** The longest argument (or `NAME=value` environment string) proxy-init may get, in bytes. */
export const MaxInitArgBytes = MaxArgStrlen - 1;

export function initArgProblems(raw: RawCaptureSettings): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check = (setting: keyof RawCaptureSettings, as: string, prefix: string): void => {
    const value = raw[setting];
    if (value === undefined) return;
    const bytes = Buffer.byteLength(prefix, 'utf8') + Buffer.byteLength(value.text, 'utf8');
    if (bytes <= MaxInitArgBytes) return;
    problems.push({
      source: value.source,
      value: jsonPreview(value.text),
      reason:
        `is ${bytes} bytes as proxy-init's ${as}, over Linux's limit of ${MaxInitArgBytes} bytes for one argument (MAX_ARG_STRLEN): ` +
        'the pod could never start; list fewer, wider ranges or ports',
    });
  };
  for (const flag of CaptureFlags) {
    if (flag.kind === 'string') check(flag.setting, `argument ${flag.short ? `-${flag.short}` : `--${flag.long}`}`, '');
  }
  for (const { env, setting } of CaptureEnvOnly) check(setting, `environment variable ${env}`, `${env}=`);
  return problems;
}
