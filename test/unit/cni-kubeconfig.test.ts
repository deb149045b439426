// The plugin's small kubeconfig reader: the current context's cluster and user, YAML or JSON,
// files relative to the kubeconfig, https only, and errors that name the file but never a secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKubeconfig } from '../../cni-plugin/kube/read-kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'or-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const yaml = (server: string, user: string) => `apiVersion: v1
kind: Config
current-context: b
clusters:
- name: a
  cluster: { server: "https://a.example:6443" }
- name: b
  cluster:
    server: ${server}
    certificate-authority: ca.crt
users:
- name: u
  user:
${user}
contexts:
- name: a
  context: { cluster: a, user: u }
- name: b
  context: { cluster: b, user: u }
`;

describe('readKubeconfig', () => {
  it('reads the current context from YAML, with files relative to the kubeconfig', async () => {
    file('ca.crt', 'CA PEM');
    const access = await readKubeconfig(file('k1.yaml', yaml('https://10.96.0.1:443/prefix', '    tokenFile: token')));
    expect(access.server.href).toBe('https://10.96.0.1/prefix');
    expect(access.ca?.toString()).toBe('CA PEM');
    expect(access.tokenFile).toBe(join(dir, 'token'));
    expect(access.token).toBeNull();
  });

  it('reads JSON and inline data (token, client certificate)', async () => {
    const doc = {
      'current-context': 'c',
      clusters: [{ name: 'k', cluster: { server: 'https://[2001:db8::1]:6443', 'certificate-authority-data': Buffer.from('CA').toString('base64') } }],
      users: [{ name: 'u', user: { token: 'secret-token', 'client-certificate-data': Buffer.from('CERT').toString('base64'), 'client-key-data': Buffer.from('KEY').toString('base64') } }],
      contexts: [{ name: 'c', context: { cluster: 'k', user: 'u' } }],
    };
    const access = await readKubeconfig(file('k2.json', JSON.stringify(doc)));
    expect(access.server.hostname).toBe('[2001:db8::1]');
    expect([access.ca?.toString(), access.token, access.clientCert?.toString(), access.clientKey?.toString()]).toEqual(['CA', 'secret-token', 'CERT', 'KEY']);
  });

  it('refuses plain http, a missing server, an unreadable file and a missing CA file, naming the kubeconfig', async () => {
    await expect(readKubeconfig(file('k3.yaml', yaml('http://10.96.0.1', '    token: secret-token')))).rejects.toThrow(/k3\.yaml: cluster server must use https/);
    await expect(readKubeconfig(file('k4.json', '{"clusters":[]}'))).rejects.toThrow(/k4\.json: no cluster server/);
    await expect(readKubeconfig(join(dir, 'absent'))).rejects.toMatchObject({ code: 'READ_FAILED', message: expect.stringContaining('ENOENT') });
    rmSync(join(dir, 'ca.crt'), { force: true });
    const error = await readKubeconfig(file('k5.yaml', yaml('https://10.96.0.1', '    token: secret-token'))).then(
      () => new Error('expected a failure'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/certificate-authority ca\.crt: cannot read it \(ENOENT\)/);
    expect(error.message).not.toContain('secret-token');
  });
});
