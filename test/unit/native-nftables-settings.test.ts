/**
 * How the native-nftables switch travels from each surface to the capture model, as Istio's
 * does: `outrigger init --native-nftables` (and env NATIVE_NFTABLES, which istio-iptables binds to
 * the flag), refused beside a forced iptables backend; the injector config's
 * `capture.nativeNftables` (Istio's global.nativeNftables) adding the flag to proxy-init's args,
 * and in CNI mode carrying it in the pod's capture settings for the plugin.
 */

import { describe, expect, it } from 'vitest';
import { CaptureSettingsAnnotation, decodeCaptureSettings } from '../../capture/pod-annotations.js';
import { parseInjectorConfig } from '../../injector/config/injector-config.js';
import { reviewPod } from '../../injector/mutation/review-pod.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';

function capture(argv: string[], env: Record<string, string> = {}) {
  const parsed = parseInitFlags(argv, env);
  if (parsed.kind !== 'run') throw new Error('unexpected help');
  return parsed.capture;
}

function injected(configYaml: string) {
  const review = reviewPod({
    pod: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } },
    namespace: 'shop',
    config: parseInjectorConfig(configYaml, 'injector.yaml'),
  });
  if (review.kind !== 'inject') throw new Error(`expected an injection, got ${JSON.stringify(review)}`);
  return review.pod;
}

describe('outrigger init', () => {
  it('--native-nftables and env NATIVE_NFTABLES select nftables; the default is iptables; the flag wins', () => {
    expect(capture([]).nativeNftables).toBe(false);
    expect(capture(['--native-nftables']).nativeNftables).toBe(true);
    expect(capture([], { NATIVE_NFTABLES: 'true' }).nativeNftables).toBe(true);
    expect(capture(['--native-nftables=false'], { NATIVE_NFTABLES: 'true' }).nativeNftables).toBe(false);
  });

  it('refuses --native-nftables with a forced --iptables-backend, naming both', () => {
    expect(() => capture(['--native-nftables', '--iptables-backend', 'legacy'])).toThrow(/--iptables-backend "legacy": cannot be combined with --native-nftables/);
    expect(capture(['--native-nftables', '--iptables-backend', 'auto']).nativeNftables).toBe(true);
  });
});

describe('the injector', () => {
  it('adds --native-nftables to proxy-init with capture.nativeNftables, and not without it', () => {
    const args = (yaml: string) => injected(yaml).spec.initContainers?.find((c) => c.name === 'proxy-init')?.args ?? [];
    expect(args('capture:\n  nativeNftables: true\n')).toContain('--native-nftables');
    expect(args('revision: default\n')).not.toContain('--native-nftables');
    // What the container runs (after its first arg, `init`) is what init parses back.
    expect(capture(args('capture:\n  nativeNftables: true\n').slice(1)).nativeNftables).toBe(true);
  });

  it('in CNI mode puts nativeNftables into the capture-settings annotation for the plugin', () => {
    const settings = (yaml: string) => decodeCaptureSettings(injected(yaml).metadata?.annotations?.[CaptureSettingsAnnotation] ?? '').nativeNftables?.text;
    expect(settings('cniMode: true\ncapture:\n  nativeNftables: true\n')).toBe('true');
    expect(settings('cniMode: true\n')).toBe('false');
  });
});
