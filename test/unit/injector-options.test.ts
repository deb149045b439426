// `outrigger injector` flags: the Deployment's contract parses; every bad flag is named at once;
// the namespace falls back from --namespace to POD_NAMESPACE to the service-account file.
import { describe, expect, it } from 'vitest';
import { isOutriggerError } from '../../common/errors.js';
import { parseInjectorFlags } from '../../injector/injector-options.js';

const noFile = () => undefined;

function problems(argv: string[], env: Record<string, string> = {}, file: () => string | undefined = noFile): string[] {
  try {
    parseInjectorFlags(argv, env, file);
  } catch (error) {
    if (isOutriggerError(error)) return error.problems.map((p) => p.source);
    throw error;
  }
  throw new Error('expected the flags to be refused');
}

describe('outrigger injector flags', () => {
  it('parses the files-mode contract of the manifests', () => {
    const result = parseInjectorFlags(
      ['--port', '9443', '--config-file', '/etc/outrigger/config.yaml', '--tls-cert-file', '/etc/outrigger/tls/tls.crt', '--tls-key-file', '/etc/outrigger/tls/tls.key'],
      {},
      noFile,
    );
    expect(result).toEqual({
      kind: 'run',
      options: {
        address: undefined,
        port: 9443,
        configFile: '/etc/outrigger/config.yaml',
        tls: { mode: 'files', certFile: '/etc/outrigger/tls/tls.crt', keyFile: '/etc/outrigger/tls/tls.key' },
        reloadPollMs: 10_000,
        drainMs: 5000,
        maxConnectionAgeMs: 30_000,
        shutdownTimeoutMs: 20_000,
        logLevel: 'info',
      },
    });
  });

  it('parses the self-managed contract, taking the namespace from POD_NAMESPACE, then the service-account file', () => {
    const argv = ['--tls-mode', 'self-managed', '--tls-secret-name', 'outrigger-injector-tls', '--webhook-config-name', 'outrigger-injector', '--service-name', 'outrigger-injector'];
    const fromEnv = parseInjectorFlags(argv, { POD_NAMESPACE: 'mesh' }, () => 'other\n');
    expect(fromEnv.kind === 'run' && fromEnv.options.tls).toEqual({
      mode: 'self-managed',
      secretName: 'outrigger-injector-tls',
      webhookConfigName: 'outrigger-injector',
      serviceName: 'outrigger-injector',
      namespace: 'mesh',
      clusterDomain: 'cluster.local',
      kubeconfig: undefined,
      checkIntervalMs: 60_000,
    });
    const fromFile = parseInjectorFlags(argv, {}, () => 'outrigger\n');
    expect(fromFile.kind === 'run' && fromFile.options.tls.mode === 'self-managed' && fromFile.options.tls.namespace).toBe('outrigger');
    const fromFlag = parseInjectorFlags([...argv, '--namespace', 'explicit'], { POD_NAMESPACE: 'mesh' }, () => 'outrigger');
    expect(fromFlag.kind === 'run' && fromFlag.options.tls.mode === 'self-managed' && fromFlag.options.tls.namespace).toBe('explicit');
  });

  it('accepts cert-manager as an alias of files mode', () => {
    const result = parseInjectorFlags(['--tls-mode', 'cert-manager', '--tls-cert-file', 'c', '--tls-key-file', 'k'], {}, noFile);
    expect(result.kind === 'run' && result.options.tls.mode).toBe('files');
  });

  it('names every bad flag at once', () => {
    expect(problems(['--port', '70000', '--log-level', 'loud', '--shutdown-drain=-1', '--tls-secret-name', 'x'])).toEqual([
      '--port',
      '--shutdown-drain',
      '--log-level',
      '--tls-cert-file',
      '--tls-key-file',
      '--tls-secret-name',
    ]);
    expect(problems(['--tls-mode', 'self-managed', '--tls-cert-file', 'c', '--service-name', 'Bad_Name'])).toEqual(['--tls-cert-file', '--namespace', '--service-name']);
    expect(problems(['--tls-mode', 'magic'])).toEqual(['--tls-mode']);
    expect(problems(['--no-such-flag'])).toEqual(['arguments']);
  });

  it('prints help', () => {
    expect(parseInjectorFlags(['--help'], {}, noFile)).toEqual({ kind: 'help' });
  });

  it('takes its durations as seconds or in the Go form the other subcommands use, and names a bad one', () => {
    const files = ['--tls-cert-file', '/c', '--tls-key-file', '/k'];
    const result = parseInjectorFlags([...files, '--shutdown-drain', '2.5', '--shutdown-timeout', '1m', '--reload-poll-interval', '500ms'], {}, noFile);
    expect(result.kind === 'run' && [result.options.drainMs, result.options.shutdownTimeoutMs, result.options.reloadPollMs]).toEqual([2500, 60_000, 500]);
    expect(problems([...files, '--shutdown-drain', '5 minutes', '--shutdown-timeout', '11m'])).toEqual(['--shutdown-drain', '--shutdown-timeout']);
  });
});
