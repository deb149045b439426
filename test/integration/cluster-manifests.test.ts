// The shipped manifests against a real kube-apiserver v1.34.4 (cluster/cluster.ts): the cluster itself
// is sealed (no route out of its network namespace) and runs the production admission chain; every
// overlay applies or passes the server's validation; the service accounts can do exactly what their
// jobs need (RBAC enforced by the API server, shown with `kubectl auth can-i`).
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../cluster/cluster.ts';
import { assertNoRouteOut } from '../../cluster/cluster-network.ts';
import { run } from '../../cluster/run-command.ts';
import { applyOverlay, renderOverlayWithClusterKubectl } from '../helpers/cluster-outrigger.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster();
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('the test cluster', () => {
  it('is Kubernetes v1.34.4 from our build, on both sides', () => {
    const version = JSON.parse(cluster.kubectlOk(['version', '-o', 'json'])) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(version.clientVersion.gitVersion).toBe('v1.34.4');
    expect(version.serverVersion.gitVersion).toBe('v1.34.4');
  });

  it('has no route out of its network namespace and uses only the test ranges', () => {
    expect(() => assertNoRouteOut(cluster.netns)).not.toThrow();
    const routes = run('ip', ['-n', cluster.netns, '-4', 'route', 'show']).stdout + run('ip', ['-n', cluster.netns, '-6', 'route', 'show']).stdout;
    expect(routes).toMatch(/blackhole 198\.18\.0\.0\/15/);
    expect(routes).toMatch(/blackhole 2001:db8::\/32/);
    expect(routes).not.toMatch(/^default/m);
    const services = JSON.parse(cluster.kubectlOk(['get', 'service', 'kubernetes', '-n', 'default', '-o', 'json'])) as { spec: { clusterIPs: string[] } };
    for (const ip of services.spec.clusterIPs) expect(ip).toMatch(/^(198\.1[89]\.|2001:db8:)/);
    expect(cluster.clusterIp).toMatch(/^198\.18\.0\./);
  });

  it('enforces Pod Security and RBAC, and writes an audit log', async () => {
    cluster.kubectlOk(['create', 'namespace', 'locked']);
    cluster.kubectlOk(['label', 'namespace', 'locked', 'pod-security.kubernetes.io/enforce=restricted']);
    const privileged = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'locked' }, spec: { containers: [{ name: 'c', image: 'x:1', securityContext: { privileged: true } }] } };
    const refused = cluster.kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(privileged) });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/violates PodSecurity "restricted/);
    const anonymous = cluster.kubectl(['get', 'pods', '-A', '--as=system:anonymous']);
    expect(anonymous.stderr).toMatch(/forbidden/);
    const audited = readdirSync(cluster.logDir).includes('audit.log');
    expect(audited).toBe(true);
  });
});

describe('manifests applied to the real API server', () => {
  it('kubectl apply -k manifests/overlays/default applies cleanly and every object is stored', () => {
    const out = applyOverlay(cluster, 'default');
    const objects = renderOverlayWithClusterKubectl(cluster, 'default');
    for (const o of objects) expect(out, `${o.kind}/${o.metadata.name}`).toMatch(new RegExp(`/${o.metadata.name} (created|configured|unchanged)`));
    // What the server keeps is what the manifests say: kubectl diff finds nothing (exit 0). (A second
    // client-side apply reports the PodDisruptionBudget "configured" without changing it: kubectl's
    // patch for an int-or-string field, not a difference.)
    const diff = cluster.kubectl(['diff', '-k', 'manifests/overlays/default']);
    expect(diff.status, diff.stdout + diff.stderr).toBe(0);
  });

  it('the cni overlay passes server-side apply dry-run on top of the default install', () => {
    const out = cluster.kubectlOk(['apply', '--server-side', '--dry-run=server', '-k', 'manifests/overlays/cni']);
    expect(out).toMatch(/daemonset\.apps\/outrigger-cni serverside-applied \(server dry run\)/);
    expect(out).toMatch(/clusterrole\.rbac\.authorization\.k8s\.io\/outrigger-cni serverside-applied/);
  });

  it('the cert-manager overlay: every object but cert-manager\'s own passes dry-run; its Certificate and Issuer need cert-manager\'s CRDs, which are not here', () => {
    const objects = renderOverlayWithClusterKubectl(cluster, 'cert-manager');
    const isCertManager = (o: object) => String((o as { apiVersion?: unknown }).apiVersion).startsWith('cert-manager.io/');
    const ours = objects.filter((o) => !isCertManager(o));
    const theirs = objects.filter(isCertManager);
    expect(theirs.length).toBeGreaterThan(0);
    const out = cluster.kubectlOk(['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: ours }) });
    expect(out.split('\n').filter((l) => l.includes('server dry run'))).toHaveLength(ours.length);
    const crd = cluster.kubectl(['apply', '--server-side', '--dry-run=server', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: theirs }) });
    expect(crd.status).not.toBe(0);
    expect(crd.stderr).toMatch(/no matches for kind "(Certificate|Issuer)" in version "cert-manager\.io\/v1"/);
  });

  it.each(['default.yaml', 'cni.yaml'])('manifests/rendered/%s passes the API server\'s validation (server-side apply, dry run)', (file) => {
    const out = cluster.kubectlOk(['apply', '--server-side', '--dry-run=server', '--force-conflicts', '-f', `manifests/rendered/${file}`]);
    const objects = renderOverlayWithClusterKubectl(cluster, file.replace('.yaml', ''));
    expect(out.split('\n').filter((l) => l.includes('server dry run'))).toHaveLength(objects.length);
  });
});

/** `kubectl auth can-i --list` as a service account: the resource rules, one "resource [names] [verbs]" per row. */
function resourceRules(account: string, namespace: string): string[] {
  const out = cluster.kubectlOk(['auth', 'can-i', '--list', `--as=system:serviceaccount:outrigger:${account}`, '-n', namespace]);
  return out.split('\n').slice(1).filter((l) => /^\S/.test(l)).map((l) => l.trim().split(/\s{2,}/).join(' ')).sort();
}

// What every authenticated user may do (system:basic-user): ask who it is and what it may do.
const selfReviews = [
  'selfsubjectaccessreviews.authorization.k8s.io [] [] [create]',
  'selfsubjectreviews.authentication.k8s.io [] [] [create]',
  'selfsubjectrulesreviews.authorization.k8s.io [] [] [create]',
];

describe('least RBAC, enforced by the API server', () => {
  beforeAll(() => {
    cluster.kubectlOk(['apply', '-k', 'manifests/overlays/cni']);
  });

  it('the injector can do exactly what self-managed TLS needs: its Secret and its webhook\'s caBundle', () => {
    expect(resourceRules('outrigger-injector', 'outrigger')).toEqual([
      'mutatingwebhookconfigurations.admissionregistration.k8s.io [] [outrigger-injector] [get patch]',
      'secrets [] [] [create]',
      'secrets [] [outrigger-injector-tls] [get update]',
      ...selfReviews,
    ].sort());
    // Nothing outside its namespace but the one webhook.
    expect(resourceRules('outrigger-injector', 'default')).toEqual([
      'mutatingwebhookconfigurations.admissionregistration.k8s.io [] [outrigger-injector] [get patch]',
      ...selfReviews,
    ].sort());
  });

  const canI = (account: string, args: string[]) => cluster.kubectl(['auth', 'can-i', ...args, `--as=system:serviceaccount:outrigger:${account}`]).stdout.trim();

  it.each([
    [['get', 'secret/outrigger-injector-tls', '-n', 'outrigger'], 'yes'],
    [['update', 'secret/outrigger-injector-tls', '-n', 'outrigger'], 'yes'],
    [['create', 'secrets', '-n', 'outrigger'], 'yes'],
    [['patch', 'mutatingwebhookconfiguration/outrigger-injector'], 'yes'],
    [['get', 'secret/other', '-n', 'outrigger'], 'no'],
    [['list', 'secrets', '-n', 'outrigger'], 'no'],
    [['watch', 'secrets', '-n', 'outrigger'], 'no'],
    [['delete', 'secret/outrigger-injector-tls', '-n', 'outrigger'], 'no'],
    [['create', 'secrets', '-n', 'default'], 'no'],
    [['patch', 'mutatingwebhookconfiguration/other'], 'no'],
    [['delete', 'mutatingwebhookconfiguration/outrigger-injector'], 'no'],
    [['list', 'mutatingwebhookconfigurations'], 'no'],
    [['patch', 'validatingwebhookconfiguration/outrigger-injector'], 'no'],
    [['list', 'pods', '-A'], 'no'],
    [['create', 'clusterrolebindings'], 'no'],
    [['impersonate', 'serviceaccounts'], 'no'],
  ])('injector: can-i %j is %s', (args, expected) => {
    expect(canI('outrigger-injector', args as string[])).toBe(expected);
  });

  it('the CNI installer and plugin can do exactly what capture and repair need: read, watch and delete pods', () => {
    expect(resourceRules('outrigger-cni', 'default')).toEqual(['pods [] [] [get list watch delete]', ...selfReviews].sort());
  });

  it.each([
    [['get', 'pods', '-n', 'default'], 'yes'],
    [['list', 'pods', '-A'], 'yes'],
    [['watch', 'pods', '-A'], 'yes'],
    [['delete', 'pods', '-n', 'default'], 'yes'],
    [['deletecollection', 'pods', '-n', 'default'], 'no'],
    [['create', 'pods', '-n', 'default'], 'no'],
    [['patch', 'pods', '-n', 'default'], 'no'],
    [['update', 'pods', '-n', 'default'], 'no'],
    [['create', 'pods/eviction', '-n', 'default'], 'no'],
    [['get', 'secrets', '-n', 'outrigger'], 'no'],
    [['get', 'configmaps', '-n', 'outrigger'], 'no'],
    [['list', 'nodes'], 'no'],
    [['watch', 'nodes'], 'no'],
    [['watch', 'secrets', '-A'], 'no'],
    [['patch', 'mutatingwebhookconfiguration/outrigger-injector'], 'no'],
  ])('CNI: can-i %j is %s', (args, expected) => {
    expect(canI('outrigger-cni', args as string[])).toBe(expected);
  });
});
