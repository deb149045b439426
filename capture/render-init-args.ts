/**
 * Renders raw capture settings back into the istio-iptables-compatible command line of
 * `outrigger init` (and the environment variables for the settings Istio reads only from the
 * environment). The injector uses it for the proxy-init container, so the container's args read
 * exactly like Istio's (`-p 15001 -z 15006 -u 1337 -m REDIRECT -i '*' -x "" -b '*' -d ...`).
 */

import type { CaptureSettingKey, RawCaptureSettings } from './build-capture-config.js';
import { CaptureEnvOnly, CaptureFlags } from './capture-flags.js';
import { parseBoolean } from './capture-values.js';

export interface InitInvocation {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** Flags in Istio's order, short names where Istio has them; booleans only when true. */
export function renderInitArgs(raw: RawCaptureSettings): InitInvocation {
  const args: string[] = [];
  for (const flag of CaptureFlags) {
    const value = raw[flag.setting];
    if (value === undefined) continue;
    if (flag.kind === 'boolean') {
      const parsed = parseBoolean(value.text);
      if (parsed.ok && parsed.value) args.push(`--${flag.long}`);
      continue;
    }
    args.push(flag.short ? `-${flag.short}` : `--${flag.long}`, value.text);
  }
  const env: Record<string, string> = {};
  for (const { env: name, setting } of CaptureEnvOnly) {
    const value = raw[setting as CaptureSettingKey];
    if (value !== undefined) env[name] = value.text;
  }
  return { args, env };
}
