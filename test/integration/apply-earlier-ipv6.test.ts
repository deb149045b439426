/**
 * The applier and an earlier run's IPv6 rules, on the real kernel (nft): a plan without IPv6
 * removes them by default (init: new flags leave nothing old behind), and the CNI plugin's ADD,
 * which by the CNI spec never meets an earlier run, does not even read ip6tables. The runner is
 * the real one, wrapped only to record which binaries ran.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCapture } from '../../apply/apply-capture.js';
import type { CommandRunner } from '../../apply/command-runner.js';
import { createCommandRunner } from '../../apply/create-command-runner.js';
import { parseInitFlags } from '../../init/parse-init-flags.js';
import { createNamespace, destroyAllNamespaces, requireRealKernel } from '../helpers/netns.js';

beforeAll(() => requireRealKernel());
afterAll(() => destroyAllNamespaces());

function recording(runner: CommandRunner): { runner: CommandRunner; ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    runner: {
      has: (file) => runner.has(file),
      run: (file, args, options) => {
        ran.push(file);
        return runner.run(file, args, options);
      },
    },
  };
}

describe('an earlier run with IPv6, then a plan without it', () => {
  it('is left unread with mayHoldEarlierRun: false (CNI ADD), and removed by default (init)', async () => {
    const ns = createNamespace();
    const parsed = parseInitFlags(['-i', '*', '-b', '*', '--iptables-backend', 'nft'], {});
    if (parsed.kind !== 'run') throw new Error('unexpected --help');
    const real = createCommandRunner({ netnsPath: ns.path });
    const facts = (ipv6: boolean) => ({ ipv6, dnsServersV4: [], dnsServersV6: [] });
    const ours6 = async () => (await ns.save(6)).includes('ISTIO_OUTPUT');

    await applyCapture({ config: parsed.capture, facts: facts(true), runner: real, backend: 'nft', inOwnNamespace: false });
    expect(await ours6()).toBe(true);

    const cni = recording(real);
    const cniReport = await applyCapture({ config: parsed.capture, facts: facts(false), runner: cni.runner, backend: 'nft', inOwnNamespace: false, mayHoldEarlierRun: false });
    expect(cni.ran.filter((file) => file.startsWith('ip6'))).toEqual([]);
    expect(cniReport.families.map((f) => f.family)).toEqual([4]);
    expect(await ours6()).toBe(true);

    const init = recording(real);
    const initReport = await applyCapture({ config: parsed.capture, facts: facts(false), runner: init.runner, backend: 'nft', inOwnNamespace: false });
    expect(init.ran).toContain('ip6tables-nft-save');
    expect(initReport.families.map((f) => [f.family, f.changed])).toEqual([[4, false], [6, true]]);
    expect(await ours6()).toBe(false);

    // Nothing of ours left in IPv6, so a further IPv4-only run reads ip6tables and reports IPv4 only.
    const again = await applyCapture({ config: parsed.capture, facts: facts(false), runner: real, backend: 'nft', inOwnNamespace: false });
    expect(again.families.map((f) => [f.family, f.changed])).toEqual([[4, false]]);
    ns.destroy();
  });
});
