/**
 * Registers test/helpers/second-webhook-server.mjs as a second MutatingWebhookConfiguration in the test
 * cluster (named to sort after outrigger's, so the API server calls it second) for the namespace
 * `reinvoke`: it adds a container after outrigger injected, which makes the API server reinvoke
 * outrigger's webhook (reinvocationPolicy IfNeeded). Called by URL over real TLS (the cluster's CA).
 */

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cluster } from '../../cluster/cluster.ts';
import { run } from '../../cluster/run-command.ts';
import { waitUntil } from '../../cluster/wait-until.ts';

const script = fileURLToPath(new URL('./second-webhook-server.mjs', import.meta.url));
const Address = '198.18.63.99';
const Port = 8443;

export interface SecondWebhook {
  readonly containerName: string;
  /** How many AdmissionReviews it answered. */
  calls(): number;
  stop(): Promise<void>;
}

export async function startSecondWebhook(cluster: Cluster, namespace = 'reinvoke'): Promise<SecondWebhook> {
  const cert = cluster.pki.issue({ name: 'second-webhook', commonName: 'second-webhook', usage: 'server', ipAddresses: [Address] });
  run('ip', ['-n', cluster.netns, 'addr', 'add', `${Address}/32`, 'dev', 'lo']);
  const child = cluster.startProcess({ name: 'second-webhook', command: process.execPath, args: [script, Address, String(Port), cert.certFile, cert.keyFile] });
  await waitUntil('the second webhook to listen', 20_000, () => /"listening"/.test(cluster.logOf('second-webhook')) || undefined, 200);
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'zz-second-webhook' },
    webhooks: [{
      name: 'second.webhook.test', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Fail', reinvocationPolicy: 'Never', timeoutSeconds: 10,
      clientConfig: { url: `https://${Address}:${Port}/mutate`, caBundle: Buffer.from(readFileSync(cluster.pki.caCertFile)).toString('base64') },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    }],
  };
  cluster.kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(config) });
  return {
    containerName: 'telemetry-agent',
    calls: () => cluster.logOf('second-webhook', 10_000).split('\n').filter((l) => l.includes('"uid"')).length,
    async stop() {
      cluster.kubectl(['delete', 'mutatingwebhookconfiguration', 'zz-second-webhook', '--ignore-not-found']);
      await cluster.stopProcess(child);
    },
  };
}
