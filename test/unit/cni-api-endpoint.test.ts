/**
 * How the installer finds the API server outside a pod: the current context of a kubeconfig,
 * with the CA inline or as a file and the token inline or as a file (re-read on every call, as
 * projected tokens rotate), and a clear error for what it cannot use.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inClusterEndpoint, kubeconfigEndpoint } from '../../cni-plugin/install/api-endpoint.js';

const dir = mkdtempSync(join(tmpdir(), 'outrigger-endpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

describe('kubeconfig endpoint', () => {
  it('follows the current context; CA and token from files relative to the kubeconfig', async () => {
    file('ca.crt', ca);
    file('token', 'first\n');
    const path = file('kc', `apiVersion: v1
kind: Config
current-context: b
clusters:
- name: one
  cluster: { server: "https://10.0.0.1:6443" }
- name: two
  cluster:
    server: https://127.0.0.1:8443/
    certificate-authority: ca.crt
users:
- name: u
  user: { tokenFile: token }
contexts:
- name: a
  context: { cluster: one, user: u }
- name: b
  context: { cluster: two, user: u }
`);
    const endpoint = await kubeconfigEndpoint(path);
    expect(endpoint.server).toBe('https://127.0.0.1:8443');
    expect(endpoint.caPem).toBe(ca);
    expect(await endpoint.token()).toBe('first');
    file('token', 'second');
    expect(await endpoint.token()).toBe('second');
  });

  it('reads inline CA data and token', async () => {
    const path = file('kc2', `clusters:\n- name: c\n  cluster:\n    server: https://h:1\n    certificate-authority-data: ${Buffer.from(ca).toString('base64')}\nusers:\n- name: u\n  user:\n    token: abc\ncontexts:\n- name: x\n  context: { cluster: c, user: u }\ncurrent-context: x\n`);
    const endpoint = await kubeconfigEndpoint(path);
    expect(endpoint.caPem).toBe(ca);
    expect(await endpoint.token()).toBe('abc');
  });

  it.each([
    ['no server', 'clusters: []\n', /no cluster server/],
    ['client certificates', 'clusters:\n- name: c\n  cluster: { server: "https://h:1" }\nusers:\n- name: u\n  user: { client-certificate: c.crt }\n', /neither token nor tokenFile/],
    ['an http server', 'clusters:\n- name: c\n  cluster: { server: "http://h:1" }\n', /must use https/],
  ])('refuses %s', async (_name, text, message) => {
    file('c.crt', ca);
    await expect(kubeconfigEndpoint(file('bad', text))).rejects.toThrow(message);
  });
});

describe('in-cluster endpoint', () => {
  it('fails at start when the token file is missing or empty', async () => {
    file('ca2', ca);
    await expect(inClusterEndpoint('https://10.96.0.1:443', join(dir, 'ca2'), join(dir, 'missing'))).rejects.toThrow(/cannot read the service-account token .*missing: ENOENT/);
    await expect(inClusterEndpoint('https://10.96.0.1:443', join(dir, 'ca2'), file('empty', '\n'))).rejects.toThrow(/is empty/);
  });
});
