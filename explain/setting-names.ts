/**
 * How to name a capture setting to the person reading an explanation, by where the rules came
 * from: the pod annotation or injector configuration that set it (a manifest), the proxy-init flag
 * (flags), or both where either could have (a live pod, a dump). One place, so every hint speaks
 * of the same names as the rest of outrigger (capture-flags.ts, pod-annotations.ts).
 */

import type { CaptureSettingKey, RawCaptureSettings } from '../capture/build-capture-config.js';
import { CaptureEnvOnly, CaptureFlags } from '../capture/capture-flags.js';
import { annotationOfSetting } from '../capture/pod-annotations.js';

export type SettingContext =
  /** Flags after `--`: name the flag. */
  | { readonly kind: 'flags' }
  /** A pod manifest: name the annotation or injector setting the value came from. */
  | { readonly kind: 'manifest'; readonly raw: RawCaptureSettings }
  /** A live pod or a dump: either could have set it. */
  | { readonly kind: 'rules' };

/** Settings the injector takes from its `proxy` section, not from `capture`. */
const ProxyOwned: Partial<Record<CaptureSettingKey, string>> = {
  proxyPort: 'proxy.ports.outbound',
  inboundCapturePort: 'proxy.ports.inbound',
  proxyUids: 'proxy.uid',
  proxyGids: 'proxy.gid',
};

/** `-x/--istio-service-exclude-cidr`, `--redirect-dns`, or `env ISTIO_OUTBOUND_OWNER_GROUPS`. */
export function flagOfSetting(key: CaptureSettingKey): string | undefined {
  const flag = CaptureFlags.find((f) => f.setting === key);
  if (flag) return flag.short ? `-${flag.short}/--${flag.long}` : `--${flag.long}`;
  const env = CaptureEnvOnly.find((e) => e.setting === key);
  return env ? `env ${env.env}` : undefined;
}

export function settingName(key: CaptureSettingKey, context: SettingContext): string {
  const annotation = annotationOfSetting(key);
  const flag = flagOfSetting(key);
  switch (context.kind) {
    case 'flags':
      return flag ?? key;
    case 'manifest': {
      const source = context.raw[key]?.source;
      const config = ProxyOwned[key] ?? `capture.${key}`;
      if (source !== undefined && !source.startsWith('injector config')) return source;
      return annotation ? `annotation ${annotation} (default: injector config ${config})` : `injector config ${config}`;
    }
    case 'rules':
      if (annotation && flag) return `annotation ${annotation} (proxy-init ${flag})`;
      return annotation ? `annotation ${annotation}` : (flag ? `proxy-init ${flag}` : key);
  }
}
