/**
 * The installer's conflist edits on real network-plugin configs (test/fixtures/cni-configs):
 * insertion as the last plugin, byte-exact removal, idempotence, in-place update, .conf
 * conversion and its restoration, malformed input refused, and a property test over generated
 * conflists in varied layouts.
 */

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutriggerError } from '../../common/errors.js';
import {
  type ConfigEdit,
  containsOurPlugin,
  ConvertedFromKey,
  insertPlugin,
  OurPluginType,
  pickPrimaryConfig,
  removePlugin,
} from '../../cni-plugin/install/conflist-edit.js';

const fixture = (name: string) => ({ name, text: readFileSync(new URL(`../fixtures/cni-configs/${name}`, import.meta.url), 'utf8') });
const entry = {
  type: OurPluginType,
  logLevel: 'info',
  kubeconfig: '/etc/cni/net.d/ZZZ-outrigger-cni-kubeconfig',
  excludeNamespaces: ['kube-system', 'outrigger'],
  capabilities: { 'io.kubernetes.cri.pod-annotations': true },
};

function written(edit: ConfigEdit) {
  if (edit.kind !== 'write') throw new Error('expected a write');
  return edit;
}

describe.each(['10-flannel.conflist', '10-calico.conflist', '05-cilium.conflist'])('conflist %s', (name) => {
  const original = fixture(name);
  const before = JSON.parse(original.text) as { plugins: unknown[] } & Record<string, unknown>;

  it('adds outrigger-cni as the last plugin and keeps every other plugin and field', () => {
    const edit = written(insertPlugin(original, entry));
    expect(edit.write.name).toBe(name);
    expect(edit.remove).toBeUndefined();
    const after = JSON.parse(edit.write.text) as typeof before;
    expect(after.plugins).toEqual([...before.plugins, entry]);
    expect({ ...after, plugins: null }).toEqual({ ...before, plugins: null });
    expect(Object.keys(after)).toEqual(Object.keys(before));
    // Everything up to the end of the last original plugin is byte-for-byte the original.
    const lastEnd = original.text.lastIndexOf('}', original.text.lastIndexOf(']'));
    expect(edit.write.text.slice(0, lastEnd + 1)).toBe(original.text.slice(0, lastEnd + 1));
  });

  it('is idempotent: a second insert changes nothing', () => {
    const once = written(insertPlugin(original, entry)).write;
    expect(insertPlugin(once, entry)).toEqual({ kind: 'unchanged' });
    // Key order of our entry does not matter either.
    const reordered = Object.fromEntries(Object.entries(entry).reverse());
    expect(insertPlugin(once, reordered)).toEqual({ kind: 'unchanged' });
  });

  it('updates our entry in place when its config changes, never adding a second one', () => {
    const once = written(insertPlugin(original, entry)).write;
    const changed = { ...entry, logLevel: 'debug', excludeNamespaces: ['kube-system'] };
    const twice = written(insertPlugin(once, changed)).write;
    const plugins = (JSON.parse(twice.text) as typeof before).plugins;
    expect(plugins).toEqual([...before.plugins, changed]);
    expect(written(removePlugin(twice)).write.text).toBe(original.text);
  });

  it('removal gives back the original bytes', () => {
    const once = written(insertPlugin(original, entry)).write;
    expect(containsOurPlugin(once)).toBe(true);
    const removed = written(removePlugin(once));
    expect(removed.write).toEqual(original);
    expect(removed.remove).toBeUndefined();
    expect(removePlugin(original)).toEqual({ kind: 'unchanged' });
  });

  it('collapses duplicate entries into one', () => {
    const once = written(insertPlugin(original, entry)).write;
    const doubled = JSON.parse(once.text) as typeof before;
    doubled.plugins.push({ ...entry, logLevel: 'warn' });
    const fixed = written(insertPlugin({ name, text: JSON.stringify(doubled, null, 2) }, entry)).write;
    const plugins = (JSON.parse(fixed.text) as typeof before).plugins;
    expect(plugins.filter((p) => (p as { type: string }).type === OurPluginType)).toEqual([entry]);
    expect(plugins.slice(0, -1)).toEqual(before.plugins);
  });
});

describe.each([
  ['10-bridge.conf', '10-bridge.conflist'],
  ['05-cilium.conf', '05-cilium.conflist'],
])('single-plugin %s', (name, listName) => {
  const original = fixture(name);
  const conf = JSON.parse(original.text) as Record<string, unknown>;

  it('becomes a .conflist with the original plugin first and ours last; the .conf is removed', () => {
    const edit = written(insertPlugin(original, entry));
    expect(edit.write.name).toBe(listName);
    expect(edit.remove).toBe(name);
    const list = JSON.parse(edit.write.text) as Record<string, unknown>;
    expect(list).toEqual({ cniVersion: conf.cniVersion, name: conf.name, [ConvertedFromKey]: name, plugins: [conf, entry] });
    expect(edit.write.text).toContain(original.text.trimEnd());
    expect(insertPlugin(edit.write, entry)).toEqual({ kind: 'unchanged' });
  });

  it('removal writes the original .conf back byte for byte and removes the .conflist', () => {
    const converted = written(insertPlugin(original, entry)).write;
    const removed = written(removePlugin(converted));
    expect(removed.write).toEqual(original);
    expect(removed.remove).toBe(listName);
  });

  it('a wrapper someone else edited is not unwrapped: only our entry goes', () => {
    const converted = written(insertPlugin(original, entry)).write;
    const edited = { name: converted.name, text: converted.text.replace(`"name": ${JSON.stringify(conf.name)}`, '"name": "renamed"') };
    const removed = written(removePlugin(edited));
    expect(removed.write.name).toBe(listName);
    expect(removed.remove).toBeUndefined();
    expect((JSON.parse(removed.write.text) as { plugins: unknown[] }).plugins).toEqual([conf]);
  });
});

describe('refusals', () => {
  it.each([
    ['10-x.conflist', '{ "name": "x", "plugins": [ { "type": "a" }, ', /10-x\.conflist is not usable: not valid JSON/],
    ['10-x.conflist', '{ "name": "x" }', /10-x\.conflist is not usable: a \.conflist needs a "plugins" array/],
    ['10-x.conflist', '{ "plugins": [ { "kind": "a" } ] }', /plugins\[0\] has no "type"/],
    ['10-x.conf', '{ "name": "x" }', /10-x\.conf is not usable: a single-plugin config \(\.conf\) needs a "type"/],
    ['10-x.json', '[1, 2]', /10-x\.json is not usable: not a JSON object/],
    ['10-x.conflist', '\ufeff{ "plugins": [] }', /not valid JSON/],
  ])('%s %j', (name, text, message) => {
    let error: unknown;
    try {
      insertPlugin({ name, text }, entry);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OutriggerError);
    expect((error as OutriggerError).message).toMatch(message);
    expect((error as OutriggerError).message).toMatch(/nothing was written/);
  });
});

describe('layouts', () => {
  it('keeps a one-line conflist on one line', () => {
    const text = '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"ptp","ipMasq":true}]}';
    const once = written(insertPlugin({ name: 'a.conflist', text }, entry)).write;
    expect(once.text).toBe(`{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"ptp","ipMasq":true},${JSON.stringify(entry)}]}`);
    expect(written(removePlugin(once)).write.text).toBe(text);
  });

  it('follows tab indentation', () => {
    const text = '{\n\t"name": "n",\n\t"plugins": [\n\t\t{\n\t\t\t"type": "ptp"\n\t\t}\n\t]\n}\n';
    const once = written(insertPlugin({ name: 'a.conflist', text }, entry)).write;
    expect(once.text).toContain('\n\t\t{\n\t\t\t"type": "outrigger-cni",');
    expect(written(removePlugin(once)).write.text).toBe(text);
  });

  it('fills an empty plugin list and empties it again', () => {
    const text = '{ "name": "n", "plugins": [] }';
    const once = written(insertPlugin({ name: 'a.conflist', text }, entry)).write;
    expect((JSON.parse(once.text) as { plugins: unknown[] }).plugins).toEqual([entry]);
    expect(written(removePlugin(once)).write.text).toBe(text);
  });

  it('property: insert then remove is the identity, and insert is idempotent, for generated conflists', () => {
    const plugin = fc.record({ type: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/).filter((t) => t !== OurPluginType) }, { requiredKeys: ['type'] })
      .chain((base) => fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== 'type' && k !== '__proto__'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }).map((extra) => ({ ...extra, ...base })));
    const conflist = fc.record({ cniVersion: fc.constantFrom('0.3.1', '0.4.0', '1.0.0'), name: fc.string({ maxLength: 10 }), plugins: fc.array(plugin, { minLength: 1, maxLength: 4 }) });
    fc.assert(
      fc.property(conflist, fc.constantFrom(0, 2, 4, '\t', ' '), fc.boolean(), (list, indent, trailingNewline) => {
        const text = JSON.stringify(list, null, indent) + (trailingNewline ? '\n' : '');
        const once = written(insertPlugin({ name: 'x.conflist', text }, entry)).write;
        const parsed = JSON.parse(once.text) as typeof list;
        expect(parsed.plugins).toEqual([...JSON.parse(text).plugins, entry]);
        expect(insertPlugin(once, entry)).toEqual({ kind: 'unchanged' });
        expect(written(removePlugin(once)).write.text).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('primary config', () => {
  it('is the first *.conf, *.conflist or *.json by byte order, as kubelet and containerd pick it', () => {
    expect(pickPrimaryConfig(['10-flannel.conflist', '05-cilium.conflist', 'ZZZ-outrigger-cni-kubeconfig', 'calico-kubeconfig'])).toBe('05-cilium.conflist');
    expect(pickPrimaryConfig(['10-bridge.conf', '10-bridge.conflist'])).toBe('10-bridge.conf');
    expect(pickPrimaryConfig(['b.json', 'B.conf', '.hidden.conf', 'a.conf.bak', 'a.txt'])).toBe('B.conf');
    expect(pickPrimaryConfig(['calico-kubeconfig', 'README'])).toBeUndefined();
  });
});
