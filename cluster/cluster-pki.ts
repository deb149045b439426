/**
 * The test cluster's certificates, made with openssl (Debian's, 3.0): one CA for serving and client
 * certificates (as a kubeadm cluster has), the API server's serving certificate, a client certificate
 * per component and user, and the service-account signing key. ECDSA P-256 keys (fast to make),
 * valid for 30 days: a cluster lives for a test run or a developer's afternoon.
 * Files are 0600 in a 0700 folder; nothing here is a secret beyond the test cluster.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './run-command.ts';

export interface CertificateRequest {
  /** Base name of the files: NAME.crt, NAME.key. */
  readonly name: string;
  readonly commonName: string;
  /** Subject O entries: Kubernetes reads them as the user's groups. */
  readonly organizations?: readonly string[];
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly usage: 'server' | 'client';
}

export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

export class ClusterPki {
  readonly dir: string;
  readonly caCertFile: string;
  readonly caKeyFile: string;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;

  constructor(dir: string) {
    this.dir = dir;
    this.caCertFile = join(dir, 'ca.crt');
    this.caKeyFile = join(dir, 'ca.key');
    this.serviceAccountKeyFile = join(dir, 'service-account.key');
    this.serviceAccountPublicKeyFile = join(dir, 'service-account.pub');
  }

  /** Makes the CA and the service-account key pair. */
  init(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    runOk('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', this.caKeyFile]);
    runOk('openssl', ['req', '-x509', '-new', '-key', this.caKeyFile, '-subj', '/CN=outrigger-test-cluster-ca', '-days', '30', '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', this.caCertFile]);
    runOk('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', this.serviceAccountKeyFile]);
    runOk('openssl', ['ec', '-in', this.serviceAccountKeyFile, '-pubout', '-out', this.serviceAccountPublicKeyFile]);
  }

  issue(request: CertificateRequest): IssuedCertificate {
    const keyFile = join(this.dir, `${request.name}.key`);
    const certFile = join(this.dir, `${request.name}.crt`);
    const subject = [...(request.organizations ?? []).map((o) => `/O=${o}`), `/CN=${request.commonName}`].join('');
    const sans = [...(request.dnsNames ?? []).map((d) => `DNS:${d}`), ...(request.ipAddresses ?? []).map((ip) => `IP:${ip}`)];
    const extensions = join(this.dir, `${request.name}.ext`);
    writeFileSync(extensions, [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${request.usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
    ].join('\n') + '\n');
    runOk('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
    const csr = runOk('openssl', ['req', '-new', '-key', keyFile, '-subj', subject]);
    runOk('openssl', ['x509', '-req', '-CA', this.caCertFile, '-CAkey', this.caKeyFile, '-CAcreateserial', '-days', '30', '-sha256',
      '-extfile', extensions, '-out', certFile], { input: csr });
    return { certFile, keyFile };
  }
}

/** A kubeconfig for a client certificate (file paths, so it works for kubectl and every component). */
export function clientKubeconfig(server: string, caFile: string, cert: IssuedCertificate, user: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: outrigger-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate: ${cert.certFile}`,
    `    client-key: ${cert.keyFile}`,
    'contexts:',
    '- name: outrigger-test',
    '  context:',
    '    cluster: outrigger-test',
    `    user: ${user}`,
    'current-context: outrigger-test',
    '',
  ].join('\n');
}
