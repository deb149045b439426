// The injector's memory under the load of issue 9, item 11: the built CLI (`outrigger injector`, its
// own process) reviews 250 pods, each with its own 0.9 MB annotation, then 250 with 2.9 MB ones,
// four at a time (the most large bodies it takes at once); the process's peak resident memory
// (VmHWM, all threads, the review worker included) must stay under the memory limit of the shipped
// Deployment (manifests/base/injector-deployment.yaml, 256Mi). Before the caches were bounded by
// bytes it reached ~380 MB and ~880 MB. On this machine Node sizes its heap from the host's memory,
// not from a container's limit, so its collector is lazier here than in the pod: the bound holds a
// fortiori there. Bounded in time: every request has a 60 s timeout, the whole test 5 minutes.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { admissionReview, deploymentPod } from '../helpers/admission-requests.js';
import { httpsRequest } from '../helpers/injector-https.js';
import { startInjectorProcess } from '../helpers/injector-process.js';
import { MaxLargeInFlight } from '../../injector/server/injector-app.js';

/** The injector container's memory limit in the shipped manifest, in bytes. */
function manifestMemoryLimit(): number {
  const deployment = parse(readFileSync('manifests/base/injector-deployment.yaml', 'utf8')) as {
    spec: { template: { spec: { containers: { name: string; resources: { limits: { memory: string } } }[] } } };
  };
  const limit = deployment.spec.template.spec.containers.find((c) => c.name === 'injector')?.resources.limits.memory ?? '';
  const match = /^(\d+)(Mi|Gi)$/.exec(limit);
  if (!match) throw new Error(`unexpected memory limit ${JSON.stringify(limit)} in the manifest`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
}

function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

describe('injector memory under pods with distinct megabyte annotations', () => {
  it('stays under the manifest\'s memory limit', async () => {
    const limit = manifestMemoryLimit();
    expect(limit).toBe(256 * 1024 ** 2);
    const injector = await startInjectorProcess();
    try {
      const statuses = new Map<number, number>();
      const mib = (bytes: number): string => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
      const peaks: string[] = [];
      for (const size of [900_000, 2_900_000]) {
        let next = 0;
        const client = async (): Promise<void> => {
          while (next < 250) {
            const i = next++;
            // Distinct text per pod, so no cache could share it.
            const blob = `${size}-${i}-`.padEnd(size, String.fromCharCode(97 + (i % 26)));
            const body = JSON.stringify(admissionReview(deploymentPod({ annotations: { 'example.com/blob': blob } }), { uid: `mem-${size}-${i}` }));
            const result = await httpsRequest(injector.port, injector.pki.ca.cert, { method: 'POST', path: '/inject', headers: { 'content-type': 'application/json' }, body, tls: { timeout: 60_000 } });
            statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
            if (result.status === 200) expect((JSON.parse(result.text) as { response: { uid: string; allowed: boolean } }).response).toMatchObject({ uid: `mem-${size}-${i}`, allowed: true });
          }
        };
        await Promise.all(Array.from({ length: MaxLargeInFlight }, client));
        peaks.push(`${size / 1e6} MB annotations: peak ${mib(peakRss(injector.pid))}`);
      }
      const peak = peakRss(injector.pid);
      const summary = `${peaks.join('; ')}; answers ${JSON.stringify(Object.fromEntries(statuses))}; limit ${mib(limit)}`;
      console.log(`injector memory: ${summary}`);
      expect(statuses.get(200), summary).toBe(500);
      expect(peak, summary).toBeLessThan(limit);
    } finally {
      await injector.stop();
    }
  }, 300_000);
});
