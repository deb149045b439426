/**
 * Renders the kubeconfig the plugin uses for its API fallback (getting a pod when the runtime
 * did not pass its annotations): the API server, its CA inline, and this DaemonSet's
 * service-account token. Pure; the caller writes it with mode 0600 and rewrites it when the
 * token rotates. Every value is written as a JSON string, which YAML reads unchanged.
 */

export interface KubeconfigInput {
  readonly server: string;
  /** PEM text of the CA bundle, or undefined to trust the system roots. */
  readonly caPem: string | undefined;
  readonly token: string;
}

export function renderKubeconfig(input: KubeconfigInput): string {
  const q = (s: string) => JSON.stringify(s);
  const ca = input.caPem === undefined ? '' : `\n    certificate-authority-data: ${q(Buffer.from(input.caPem, 'utf8').toString('base64'))}`;
  return `# Written by \`outrigger cni install\` for the outrigger-cni plugin; rewritten when the token rotates.
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${q(input.server)}${ca}
users:
- name: outrigger-cni
  user:
    token: ${q(input.token)}
contexts:
- name: outrigger-cni
  context:
    cluster: local
    user: outrigger-cni
current-context: outrigger-cni
`;
}
