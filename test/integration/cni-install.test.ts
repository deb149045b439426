/**
 * The real `outrigger cni install` process on temporary node directories holding the configs of
 * real network plugins (flannel, calico, cilium, bridge): what it adds, how it keeps it there
 * when the network plugin rewrites its config (also while another writer keeps replacing the
 * file), how it refuses a malformed or unreadable config, how it keeps the kubeconfig fresh,
 * and that SIGTERM leaves exactly the files that were there before, byte for byte. The API
 * server is a local HTTPS stand-in (the repair loop is off here; see cni-repair.test.ts).
 */

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { copyFileAtomic } from '../../cni-plugin/install/atomic-file.js';
import {
  httpGet, type InstallerProcess, makeNodeLayout, type NodeLayout, startInstaller, stopAllInstallers, waitFor, writeAtomically,
} from '../helpers/cni-installer.js';
import { type KubeApiStandIn, startKubeApiStandIn } from '../helpers/pod-api-stand-in.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/cni-configs/${name}`, import.meta.url), 'utf8');
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

let api: KubeApiStandIn;
const layouts: NodeLayout[] = [];
beforeAll(async () => {
  api = await startKubeApiStandIn('token-one');
});
afterEach(() => stopAllInstallers());
afterAll(async () => {
  stopAllInstallers();
  for (const layout of layouts) layout.remove();
  await api.close();
});

interface Node extends NodeLayout {
  readonly pluginSource: string;
  readonly pluginBytes: Buffer;
}

/** A node with the given CNI configs, an unrelated binary and an unrelated file of another plugin. */
function makeNode(configs: Record<string, string>): Node {
  const layout = makeNodeLayout(api.caPem, api.token);
  layouts.push(layout);
  for (const [name, text] of Object.entries(configs)) writeFileSync(join(layout.confDir, name), text);
  writeFileSync(join(layout.confDir, 'calico-kubeconfig'), 'not ours\n', { mode: 0o600 });
  writeFileSync(join(layout.binDir, 'bridge'), 'a real node has real plugins here\n', { mode: 0o755 });
  const pluginBytes = randomBytes(4 * 1024 * 1024);
  mkdirSync(join(layout.root, 'image'));
  const pluginSource = join(layout.root, 'image', 'outrigger-cni');
  writeFileSync(pluginSource, pluginBytes, { mode: 0o755 });
  return { ...layout, pluginSource, pluginBytes };
}

/** Every file under the node's CNI directories: name → mode and sha256. */
function snapshot(node: NodeLayout): Record<string, string> {
  const result: Record<string, string> = {};
  for (const dir of [node.binDir, node.confDir]) {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      result[path.slice(node.root.length)] = `${(stat.mode & 0o7777).toString(8)} ${stat.isDirectory() ? 'directory' : sha256(readFileSync(path))}`;
    }
  }
  return result;
}

function start(node: Node, args: string[] = []): InstallerProcess {
  return startInstaller(node, ['--plugin-binary', node.pluginSource, '--repair-mode', 'off', '--resync-interval', '1s', ...args], {
    KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port),
  });
}

async function ready(installer: InstallerProcess): Promise<number> {
  const port = await installer.statusPort();
  await waitFor('/readyz 200', async () => (await httpGet(port, '/readyz')).status === 200);
  return port;
}

type Plugin = { type: string } & Record<string, unknown>;
function pluginsOf(node: NodeLayout, name: string): Plugin[] {
  return (JSON.parse(readFileSync(join(node.confDir, name), 'utf8')) as { plugins: Plugin[] }).plugins;
}
const ours = (plugins: Plugin[]) => plugins.filter((p) => p.type === 'outrigger-cni');

describe.each([
  { file: '10-flannel.conflist', list: '10-flannel.conflist' },
  { file: '10-calico.conflist', list: '10-calico.conflist' },
  { file: '05-cilium.conflist', list: '05-cilium.conflist' },
  { file: '05-cilium.conf', list: '05-cilium.conflist' },
  { file: '10-bridge.conf', list: '10-bridge.conflist' },
])('$file', ({ file, list }) => {
  it('installs binary, kubeconfig and conflist entry; SIGTERM leaves exactly the original files', async () => {
    const original = fixture(file);
    const node = makeNode({ [file]: original, '99-loopback.conf': '{"cniVersion":"0.3.1","name":"lo","type":"loopback"}\n' });
    const before = snapshot(node);
    const installer = start(node);
    const port = await ready(installer);

    const binary = join(node.binDir, 'outrigger-cni');
    expect(sha256(readFileSync(binary))).toBe(sha256(node.pluginBytes));
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    const kubeconfigPath = join(node.confDir, 'ZZZ-outrigger-cni-kubeconfig');
    expect(statSync(kubeconfigPath).mode & 0o777).toBe(0o600);
    const kubeconfig = parse(readFileSync(kubeconfigPath, 'utf8')) as { clusters: { cluster: { server: string } }[]; users: { user: { token: string } }[] };
    expect(kubeconfig.clusters[0]?.cluster.server).toBe(`https://127.0.0.1:${api.port}`);
    expect(kubeconfig.users[0]?.user.token).toBe('token-one');

    const plugins = pluginsOf(node, list);
    const originalPlugins = file.endsWith('.conflist') ? (JSON.parse(original) as { plugins: Plugin[] }).plugins : [JSON.parse(original) as Plugin];
    expect(plugins.slice(0, -1)).toEqual(originalPlugins);
    expect(plugins.at(-1)).toMatchObject({ type: 'outrigger-cni', kubeconfig: '/etc/cni/net.d/ZZZ-outrigger-cni-kubeconfig', capabilities: { 'io.kubernetes.cri.pod-annotations': true } });
    if (file !== list) expect(readdirSync(node.confDir)).not.toContain(file);
    expect(readFileSync(join(node.confDir, '99-loopback.conf'), 'utf8')).toContain('loopback'); // not the primary: untouched
    expect((await httpGet(port, '/metrics')).body).toMatch(/^outrigger_cni_installed 1$/m);

    expect(await installer.stop()).toBe(0);
    expect(snapshot(node)).toEqual(before);
    expect(readFileSync(join(node.confDir, file), 'utf8')).toBe(original);
    expect(installer.stderr()).not.toContain('token-one');
  });
});

describe('keeping the entry', () => {
  it('re-inserts itself when the network plugin rewrites its conflist', async () => {
    const node = makeNode({ '10-flannel.conflist': fixture('10-flannel.conflist') });
    const installer = start(node);
    await ready(installer);
    const rewritten = fixture('10-flannel.conflist').replace('"isDefaultGateway": true', '"isDefaultGateway": false');
    writeAtomically(join(node.confDir, '10-flannel.conflist'), rewritten);
    const plugins = await waitFor('our entry back in the rewritten conflist', () => {
      const p = pluginsOf(node, '10-flannel.conflist');
      return ours(p).length === 1 ? p : undefined;
    });
    expect(plugins.slice(0, -1)).toEqual((JSON.parse(rewritten) as { plugins: Plugin[] }).plugins);
    expect(await installer.stop()).toBe(0);
    expect(readFileSync(join(node.confDir, '10-flannel.conflist'), 'utf8')).toBe(rewritten);
  });

  it('converts a rewritten .conf again, taking its new content', async () => {
    const node = makeNode({ '10-bridge.conf': fixture('10-bridge.conf') });
    const installer = start(node);
    await ready(installer);
    const rewritten = fixture('10-bridge.conf').replace('10.22.0.0/16', '10.23.0.0/16');
    writeAtomically(join(node.confDir, '10-bridge.conf'), rewritten);
    await waitFor('the new .conf converted', () => {
      const names = readdirSync(node.confDir);
      return !names.includes('10-bridge.conf') && JSON.stringify(pluginsOf(node, '10-bridge.conflist')).includes('10.23.0.0/16');
    });
    expect(ours(pluginsOf(node, '10-bridge.conflist'))).toHaveLength(1);
    expect(await installer.stop()).toBe(0);
    expect(readFileSync(join(node.confDir, '10-bridge.conf'), 'utf8')).toBe(rewritten);
    expect(readdirSync(node.confDir)).not.toContain('10-bridge.conflist');
  });

  it.each(['rename', 'in place'])('ends valid and listed exactly once while another writer keeps replacing the file (%s)', async (how) => {
    const node = makeNode({ '10-calico.conflist': fixture('10-calico.conflist') });
    const installer = start(node);
    await ready(installer);
    const path = join(node.confDir, '10-calico.conflist');
    let last = '';
    const deadline = Date.now() + 4000;
    for (let i = 0; i < 400 && Date.now() < deadline; i++) {
      last = fixture('10-calico.conflist').replace('"mtu": 0', `"mtu": ${1000 + i}`);
      if (how === 'rename') writeAtomically(path, last);
      else writeFileSync(path, last); // truncate and write, as `cp` does
      await new Promise((r) => setTimeout(r, i % 7));
    }
    const plugins = await waitFor('our entry after the writer stopped', () => {
      const p = pluginsOf(node, '10-calico.conflist');
      return ours(p).length === 1 ? p : undefined;
    });
    expect(plugins.slice(0, -1)).toEqual((JSON.parse(last) as { plugins: Plugin[] }).plugins);
    await new Promise((r) => setTimeout(r, 1500)); // a resync later it is still exactly once
    expect(ours(pluginsOf(node, '10-calico.conflist'))).toHaveLength(1);
    expect(readdirSync(node.confDir).filter((n) => n.endsWith('.outrigger-tmp'))).toEqual([]);
    expect(await installer.stop()).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(last);
  });

  it('copies the binary again when it disappears', async () => {
    const node = makeNode({ '10-flannel.conflist': fixture('10-flannel.conflist') });
    const installer = start(node);
    await ready(installer);
    const binary = join(node.binDir, 'outrigger-cni');
    (await import('node:fs')).rmSync(binary);
    await waitFor('the binary back', () => sha256(readFileSync(binary)) === sha256(node.pluginBytes), 5000);
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    expect(await installer.stop()).toBe(0);
    expect(readdirSync(node.binDir)).toEqual(['bridge']);
  });

  it('rewrites the kubeconfig (still 0600) when the token rotates, and never logs it', async () => {
    const node = makeNode({ '10-flannel.conflist': fixture('10-flannel.conflist') });
    const installer = start(node);
    await ready(installer);
    const kubeconfigPath = join(node.confDir, 'ZZZ-outrigger-cni-kubeconfig');
    const firstWrite = statSync(kubeconfigPath).mtimeMs;
    await new Promise((r) => setTimeout(r, 1200)); // a resync with the same token rewrites nothing
    expect(statSync(kubeconfigPath).mtimeMs).toBe(firstWrite);
    writeAtomically(node.tokenFile, 'token-two\n');
    await waitFor('the rotated token in the kubeconfig', () => (parse(readFileSync(kubeconfigPath, 'utf8')) as { users: { user: { token: string } }[] }).users[0]?.user.token === 'token-two');
    expect(statSync(kubeconfigPath).mode & 0o777).toBe(0o600);
    expect(await installer.stop()).toBe(0);
    expect(readdirSync(node.confDir)).not.toContain('ZZZ-outrigger-cni-kubeconfig');
    expect(installer.stderr()).not.toMatch(/token-(one|two)/);
  });
});

describe('waiting and refusing', () => {
  it('waits for a primary config (logging it once), then installs', async () => {
    const node = makeNode({});
    const installer = start(node, ['--resync-interval', '100ms']);
    const port = await installer.statusPort();
    await waitFor('/readyz 503', async () => (await httpGet(port, '/readyz')).body === 'waiting-for-primary\n');
    await new Promise((r) => setTimeout(r, 1000)); // ten resyncs
    expect(installer.logs.filter((l) => l.msg.startsWith('waiting for a network plugin'))).toHaveLength(1);
    writeFileSync(join(node.confDir, '05-cilium.conflist'), fixture('05-cilium.conflist'));
    await waitFor('/readyz 200', async () => (await httpGet(port, '/readyz')).status === 200);
    expect(ours(pluginsOf(node, '05-cilium.conflist'))).toHaveLength(1);
    expect(await installer.stop()).toBe(0);
    expect(readFileSync(join(node.confDir, '05-cilium.conflist'), 'utf8')).toBe(fixture('05-cilium.conflist'));
  });

  it('stops cleanly while still waiting, even when signalled twice', async () => {
    const node = makeNode({});
    const before = snapshot(node);
    const installer = start(node);
    const port = await installer.statusPort();
    await waitFor('/readyz 503', async () => (await httpGet(port, '/readyz')).status === 503);
    installer.child.kill('SIGTERM');
    installer.child.kill('SIGTERM');
    expect(await installer.exited).toBe(0);
    expect(snapshot(node)).toEqual(before);
  });

  it.each([
    ['malformed JSON', (dir: string) => writeFileSync(join(dir, '10-flannel.conflist'), fixture('10-flannel.conflist').slice(0, 120)), /10-flannel\.conflist is not usable: not valid JSON/],
    ['a list without plugins', (dir: string) => writeFileSync(join(dir, '10-flannel.conflist'), '{"name":"cbr0","cniVersion":"0.3.1"}'), /needs a "plugins" array/],
    ['an unreadable file', (dir: string) => mkdirSync(join(dir, '10-flannel.conflist')), /cannot read the primary CNI config \S+10-flannel\.conflist: EISDIR; nothing was written/],
  ])('refuses %s with a clear error and writes nothing, then installs once it is fixed', async (_name, breakIt, message) => {
    const node = makeNode({});
    breakIt(node.confDir);
    const before = snapshot(node);
    const installer = start(node, ['--resync-interval', '200ms']);
    const port = await installer.statusPort();
    const error = await installer.waitForLog((l) => l.level >= 50);
    expect(error.msg).toMatch(message);
    expect((await httpGet(port, '/readyz')).status).toBe(503);
    const after = snapshot(node);
    // Only the binary and the kubeconfig were added; the broken config is as it was.
    expect(Object.keys(after).sort()).toEqual([...Object.keys(before), '/bin/outrigger-cni', '/net.d/ZZZ-outrigger-cni-kubeconfig'].sort());
    for (const [name, state] of Object.entries(before)) expect(after[name]).toBe(state);
    const path = join(node.confDir, '10-flannel.conflist');
    if (statSync(path).isDirectory()) (await import('node:fs')).rmdirSync(path);
    writeAtomically(path, fixture('10-flannel.conflist'));
    await waitFor('/readyz 200 after the fix', async () => (await httpGet(port, '/readyz')).status === 200, 10_000);
    expect(await installer.stop()).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe(fixture('10-flannel.conflist'));
  });

  it('with --native-nftables=true, reports a node without nft (error log, /readyz 503 nft-missing) and is ready once nft is there', async () => {
    const node = makeNode({ '10-flannel.conflist': fixture('10-flannel.conflist') });
    const sbin = join(node.root, 'node-sbin');
    mkdirSync(sbin);
    const installer = start(node, ['--native-nftables=true', '--host-tool-dirs', sbin]);
    const error = await installer.waitForLog((l) => l.level >= 50);
    expect(error.msg).toContain(`nft was not found on this node (looked in ${sbin})`);
    const port = await installer.statusPort();
    await waitFor('the plugin entry', () => ours(pluginsOf(node, '10-flannel.conflist'))[0]);
    expect(ours(pluginsOf(node, '10-flannel.conflist'))[0]).toMatchObject({ nativeNftables: true });
    expect(await httpGet(port, '/readyz')).toEqual({ status: 503, body: 'nft-missing\n' });
    writeFileSync(join(sbin, 'nft'), '#!/bin/sh\n', { mode: 0o755 });
    await waitFor('/readyz 200 once nft is there', async () => (await httpGet(port, '/readyz')).status === 200);
    expect(await installer.stop()).toBe(0);
  });

  it('exits 2 on bad flags, naming each, and touches nothing', async () => {
    const node = makeNode({ '10-flannel.conflist': fixture('10-flannel.conflist') });
    const before = snapshot(node);
    const installer = start(node, ['--repair-mode', 'fix', '--kubeconfig-name', 'x.conf']);
    expect(await installer.exited).toBe(2);
    expect(installer.stderr()).toContain('--repair-mode "fix": must be one of delete, apply, off');
    expect(installer.stderr()).toContain('--kubeconfig-name "x.conf"');
    expect(snapshot(node)).toEqual(before);
  });

  it('exits 1 and leaves nothing behind when the plugin binary is missing', async () => {
    const node = makeNode({ '10-flannel.conflist': fixture('10-flannel.conflist') });
    const before = snapshot(node);
    const installer = startInstaller(node, ['--plugin-binary', join(node.root, 'nope'), '--repair-mode', 'off'], {
      KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port),
    });
    expect(await installer.exited).toBe(1);
    expect(installer.stderr()).toContain(`the plugin binary ${join(node.root, 'nope')} does not exist`);
    expect(snapshot(node)).toEqual(before);
  });
});

describe('binary copy', () => {
  it('is atomic: a concurrent reader only ever sees a complete old or new binary', async () => {
    const node = makeNode({});
    const sources = [randomBytes(24 * 1024 * 1024), randomBytes(16 * 1024 * 1024)].map((bytes, i) => {
      const path = join(node.root, `source-${i}`);
      writeFileSync(path, bytes);
      return { path, hash: sha256(bytes) };
    });
    const target = join(node.binDir, 'outrigger-cni');
    await copyFileAtomic(sources[0]!.path, node.binDir, 'outrigger-cni', 0o755);
    // A separate process reads the target in a loop (bounded in time) and prints one line per read:
    // the sha256 of what it read, or 'missing'. Each copy starts while the reader is reading and
    // the next one waits until the reader has seen the previous copy's result, so the reader sees
    // both binaries whatever the machine's speed (the CI run where Python started after the last
    // copy saw only one), and every read races a rename.
    const reader = spawn('/usr/bin/python3', ['-u', '-c', `
import hashlib, os, sys, time
end = time.time() + 60
while time.time() < end and not os.path.exists(sys.argv[2]):
    try:
        with open(sys.argv[1], 'rb') as f:
            h = hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        h = 'missing'
    print(h, flush=True)
`, target, join(node.root, 'stop')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen: Record<string, number> = {};
    let lastSeen = '';
    let pending = '';
    reader.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        seen[line] = (seen[line] ?? 0) + 1;
        lastSeen = line;
      }
    });
    const done = new Promise<void>((resolve) => reader.on('exit', () => resolve()));
    try {
      await waitFor('the reader reads the first binary', async () => lastSeen === sources[0]!.hash, 20_000);
      for (let i = 1; i <= 20; i++) {
        const expected = sources[i % 2]!;
        await copyFileAtomic(expected.path, node.binDir, 'outrigger-cni', 0o755);
        await waitFor(`the reader sees copy ${i}`, async () => lastSeen === expected.hash, 20_000);
      }
    } finally {
      writeFileSync(join(node.root, 'stop'), 'stop');
      await done;
    }
    // Reads happened throughout, and every one of them was a whole binary (never 'missing' or partial).
    expect(Object.values(seen).reduce((a, b) => a + b, 0)).toBeGreaterThan(20);
    expect(Object.keys(seen).sort()).toEqual(sources.map((s) => s.hash).sort());
    expect(statSync(target).mode & 0o777).toBe(0o755);
    expect(readdirSync(node.binDir).filter((n) => n.includes('outrigger-tmp'))).toEqual([]);
  });
});
