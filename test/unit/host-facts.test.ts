/** Parsing of the files host facts come from: resolv.conf and /proc/net/if_inet6. */

import { describe, expect, it } from 'vitest';
import { hasGlobalIpv6, parseResolvConf } from '../../capture/parse-resolv-conf.js';

describe('parseResolvConf', () => {
  it('splits nameservers by family in file order and ignores the rest', () => {
    const text = '# generated\nsearch default.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver fd00::a%eth0\noptions ndots:5\nnameserver bogus\nnameserver 1.1.1.1\n';
    expect(parseResolvConf(text)).toEqual({ v4: ['10.96.0.10', '1.1.1.1'], v6: ['fd00::a'] });
  });
});

describe('hasGlobalIpv6', () => {
  const lo = '00000000000000000000000000000001 01 80 10 80       lo';
  const linkLocal = 'fe80000000000000a8bbccfffedd0011 02 40 20 80     eth0';
  const global = '20010db8000100000000000000000002 02 40 00 80     eth0';
  const passthrough = '00000000000000000000000000000006 01 80 00 80       lo';
  it('ignores loopback, link-local and addresses on lo', () => {
    expect(hasGlobalIpv6([lo, linkLocal, passthrough].join('\n'))).toBe(false);
    expect(hasGlobalIpv6([lo, linkLocal, global].join('\n'))).toBe(true);
    expect(hasGlobalIpv6('')).toBe(false);
  });
});
