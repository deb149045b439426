// The CNI skeleton without a process: in-memory environment, stdin and stdout, a recording
// plugin. Version negotiation, required environment, error JSON with the spec's codes, and the
// translation of outrigger's errors at this edge.
import { describe, expect, it } from 'vitest';
import { ErrorCodes, invalidInput, OutriggerError } from '../../common/errors.js';
import type { CmdArgs, CniPlugin } from '../../cni-plugin/skel/skel.js';
import { runSkel } from '../../cni-plugin/skel/skel.js';

const baseEnv = { CNI_CONTAINERID: 'abc123', CNI_NETNS: '/var/run/netns/pod', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' };
const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'outrigger-cni', ...extra });

function recorder(behaviour: Partial<Record<keyof CniPlugin, (args: CmdArgs) => unknown>> = {}) {
  const calls: CmdArgs[] = [];
  const handle = (name: keyof CniPlugin) => async (args: CmdArgs) => {
    calls.push(args);
    const result = behaviour[name]?.(args);
    return (result ?? (name === 'add' ? { cniVersion: args.cniVersion, ips: [] } : undefined)) as never;
  };
  const plugin: CniPlugin = { add: handle('add'), del: handle('del'), check: handle('check'), status: handle('status'), gc: handle('gc') };
  return { plugin, calls };
}

async function invoke(env: Record<string, string | undefined>, stdin: string, plugin = recorder().plugin) {
  let stdout = '';
  const code = await runSkel({ env, stdin, stdout: (t) => (stdout += t) }, plugin);
  return { code, stdout, json: stdout ? (JSON.parse(stdout) as Record<string, unknown>) : null };
}

describe('CNI skeleton', () => {
  it('answers VERSION in the requested version, or the latest', async () => {
    expect((await invoke({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.3.1"}')).json).toEqual({ cniVersion: '0.3.1', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    expect((await invoke({ CNI_COMMAND: 'VERSION' }, '')).json).toMatchObject({ cniVersion: '1.1.0' });
  });

  it('dispatches ADD with the parsed environment and prints the result', async () => {
    const { plugin, calls } = recorder();
    const out = await invoke({ ...baseEnv, CNI_COMMAND: 'ADD', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1' }, conf(), plugin);
    expect(out).toMatchObject({ code: 0, json: { cniVersion: '1.0.0', ips: [] } });
    expect(out.stdout.endsWith('\n')).toBe(true);
    const args = calls[0]!;
    expect([args.command, args.containerId, args.netns, args.ifName, args.cniVersion]).toEqual(['ADD', 'abc123', '/var/run/netns/pod', 'eth0', '1.0.0']);
    expect(args.path).toEqual(['/opt/cni/bin', '/usr/lib/cni']);
    expect(args.args.get('K8S_POD_NAME')).toBe('web-1');
    expect(args.config.name).toBe('net');
  });

  it('refuses an unknown or missing CNI_COMMAND with code 4', async () => {
    expect((await invoke({ ...baseEnv, CNI_COMMAND: 'FROB' }, conf())).json).toMatchObject({ code: 4, msg: 'unknown CNI_COMMAND "FROB"' });
    expect((await invoke(baseEnv, conf())).json).toMatchObject({ code: 4, msg: 'CNI_COMMAND is not set' });
  });

  it('names every missing environment variable (code 4); DEL needs no CNI_NETNS', async () => {
    const out = await invoke({ CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0' }, conf());
    expect(out).toMatchObject({ code: 1, json: { code: 4, msg: 'ADD needs CNI_CONTAINERID, CNI_NETNS, CNI_PATH' } });
    expect((await invoke({ ...baseEnv, CNI_NETNS: undefined, CNI_COMMAND: 'DEL' }, conf())).code).toBe(0);
  });

  it('refuses a bad CNI_IFNAME, CNI_CONTAINERID or CNI_ARGS with code 4', async () => {
    const out = await invoke({ ...baseEnv, CNI_COMMAND: 'ADD', CNI_IFNAME: 'a/b', CNI_CONTAINERID: '-x', CNI_ARGS: 'K8S_POD_NAME' }, conf());
    expect(out.json).toMatchObject({ code: 4 });
    for (const name of ['CNI_IFNAME', 'CNI_CONTAINERID', 'CNI_ARGS']) expect(String(out.json?.details)).toContain(name);
  });

  it('reports stdin that is not a JSON object as code 6', async () => {
    expect((await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, '{"cniVersion":')).json).toMatchObject({ code: 6, cniVersion: '1.1.0' });
    expect((await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, '[1]')).json).toMatchObject({ code: 6 });
  });

  it('negotiates the version: missing is code 7, unknown is code 1, commands newer than the config are code 1', async () => {
    expect((await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, '{"name":"n"}')).json).toMatchObject({ code: 7, details: 'cniVersion: required' });
    expect((await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.2.0' }))).json).toMatchObject({ code: 1, cniVersion: '1.1.0' });
    expect((await invoke({ ...baseEnv, CNI_COMMAND: 'CHECK' }, conf({ cniVersion: '0.3.1' }))).json).toMatchObject({ code: 1, cniVersion: '0.3.1', msg: 'config version 0.3.1 does not allow CHECK' });
    expect((await invoke({ CNI_COMMAND: 'STATUS' }, conf())).json).toMatchObject({ code: 1, msg: 'config version 1.0.0 does not allow STATUS' });
    expect((await invoke({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }))).code).toBe(0);
    expect((await invoke({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }, conf({ cniVersion: '1.1.0' }))).code).toBe(0);
  });

  it("translates outrigger's errors to CNI codes in the caller's version, problems in details", async () => {
    const failing = (error: unknown) => recorder({ add: () => { throw error; } }).plugin;
    const bad = await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, conf({ cniVersion: '0.4.0' }), failing(invalidInput([{ source: 'annotation x', value: 'y', reason: 'bad' }], 'pod annotations')));
    expect(bad).toMatchObject({ code: 1, json: { cniVersion: '0.4.0', code: 7, msg: 'invalid pod annotations: 1 bad value', details: 'annotation x "y": bad' } });
    const later = await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, conf(), failing(new OutriggerError(ErrorCodes.Unavailable, 'API down')));
    expect(later.json).toMatchObject({ code: 11, msg: 'API down' });
    const applyFailed = await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, conf(), failing(new OutriggerError(ErrorCodes.ApplyFailed, 'restore failed')));
    expect(applyFailed.json).toMatchObject({ code: 100 });
    const bug = await invoke({ ...baseEnv, CNI_COMMAND: 'ADD' }, conf(), failing(new TypeError('oops')));
    expect(bug.json).toMatchObject({ code: 999, msg: 'internal error: oops', details: 'TypeError; this is a bug in outrigger-cni' });
    // The runtime shows msg and details to users: never a JavaScript stack.
    expect(bug.stdout).not.toMatch(/\n\s+at |\\n\s+at /);
  });

  it('prints nothing on stdout for a successful DEL or CHECK', async () => {
    for (const command of ['DEL', 'CHECK']) expect((await invoke({ ...baseEnv, CNI_COMMAND: command }, conf())).stdout).toBe('');
  });
});
