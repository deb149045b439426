// scripts/bundle-closure.mjs decides which bundle files go into the proxy-init image: everything
// `outrigger init` reaches (its command, validation, the CLI front), nothing of the injector (nor
// its Envoy bootstrap-override checker and schema, dist/envoy-schema.json, which is not a module),
// nothing of the CNI installer (whose repair loop loads the Kubernetes client) and nothing of
// `outrigger explain` (which reads manifests with the injector's code).
// Runs on the built dist/ (npm test builds first).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

function closure(...excludes: string[]): string[] {
  const result = spawnSync(process.execPath, ['scripts/bundle-closure.mjs', 'dist', ...excludes.flatMap((e) => ['--exclude', e])], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`bundle-closure failed: ${result.stderr}`);
  return result.stdout.trim().split('\n');
}

describe('bundle closure for the proxy-init image', () => {
  const all = readdirSync('dist').filter((f) => f.endsWith('.mjs')).sort();

  it('reaches every bundle file from outrigger.mjs when nothing is excluded', () => {
    expect(closure()).toEqual(all);
  });

  it('keeps what init runs and leaves out the injector, the CNI installer, explain and what only they load', () => {
    const init = closure('inject-command-', 'injector-command-', 'cni-command-', 'explain-command-');
    expect(init).toContain('outrigger.mjs');
    expect(init.some((f) => f.startsWith('init-command-'))).toBe(true);
    expect(init.some((f) => f.startsWith('validate-capture-'))).toBe(true);
    expect(init.some((f) => f.startsWith('inject-command-') || f.startsWith('injector-command-') || f.startsWith('cni-command-') || f.startsWith('explain-command-'))).toBe(false);
    // The Kubernetes client (found by its default user agent) stays out.
    const kubeClient = all.filter((f) => readFileSync(`dist/${f}`, 'utf8').includes('kubernetes-client-javascript/'));
    expect(kubeClient, 'the Kubernetes client is in the bundle').not.toEqual([]);
    expect(init.filter((f) => kubeClient.includes(f))).toEqual([]);
    const checker = all.filter((f) => readFileSync(`dist/${f}`, 'utf8').includes('envoy-schema.json'));
    expect(checker, 'the bootstrap-override checker is in the bundle').not.toEqual([]);
    expect(init.filter((f) => checker.includes(f))).toEqual([]);
    const bytes = (files: string[]) => files.reduce((sum, f) => sum + statSync(`dist/${f}`).size, 0);
    // The injector's and the installer's dependencies (fastify, the Kubernetes client) are most of the bundle.
    expect(bytes(init)).toBeLessThan(bytes(all) / 10);
  });

  it('refuses to run without a directory', () => {
    const result = spawnSync(process.execPath, ['scripts/bundle-closure.mjs'], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/usage/);
  });
});
