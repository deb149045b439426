// Re-injection keeps our containers as the API server stored them when nothing we set changed, and
// rebuilds them (keeping only other admission's mounts) when something did.
import { describe, expect, it } from 'vitest';
import type { Container } from '../../injector/kube/pod-types.js';
import { reuseInjectedContainer } from '../../injector/mutation/reuse-injected-container.js';

const fresh: Container = {
  name: 'proxy', image: 'envoy:1', args: ['-c', 'x'], ports: [{ containerPort: 15090, name: 'http-envoy-prom' }],
  readinessProbe: { httpGet: { path: '/ready', port: 15021 }, periodSeconds: 2 }, volumeMounts: [{ name: 'certs', mountPath: '/etc/certs' }],
} as Container;
const tokenMount = { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true };
const asStored = {
  ...fresh, imagePullPolicy: 'IfNotPresent', terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
  ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }],
  readinessProbe: { httpGet: { path: '/ready', port: 15021, scheme: 'HTTP' }, periodSeconds: 2, successThreshold: 1, failureThreshold: 3, timeoutSeconds: 1 },
  volumeMounts: [{ name: 'certs', mountPath: '/etc/certs' }, tokenMount],
} as Container;

describe('reuseInjectedContainer', () => {
  it('keeps the stored container (defaults, the token mount) when it holds everything we set', () => {
    expect(reuseInjectedContainer(fresh, asStored)).toBe(asStored);
  });

  it('rebuilds when a value we set changed, keeping the token mount other admission added', () => {
    const got = reuseInjectedContainer({ ...fresh, image: 'envoy:2' }, asStored);
    expect(got.image).toBe('envoy:2');
    expect(got).not.toHaveProperty('imagePullPolicy');
    expect(got.volumeMounts).toEqual([{ name: 'certs', mountPath: '/etc/certs' }, tokenMount]);
  });

  it('rebuilds when a list we set differs in length or order', () => {
    expect(reuseInjectedContainer({ ...fresh, args: ['-c', 'x', '--extra'] }, asStored).args).toEqual(['-c', 'x', '--extra']);
    expect(reuseInjectedContainer({ ...fresh, args: ['x', '-c'] }, asStored).args).toEqual(['x', '-c']);
  });

  it('rebuilds when our own mount is gone, and uses the fresh container when there was none', () => {
    const withoutOurs = { ...asStored, volumeMounts: [tokenMount] } as Container;
    expect(reuseInjectedContainer(fresh, withoutOurs).volumeMounts).toEqual([{ name: 'certs', mountPath: '/etc/certs' }, tokenMount]);
    expect(reuseInjectedContainer(fresh, undefined)).toBe(fresh);
  });
});
