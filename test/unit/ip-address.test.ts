/** Address and CIDR parsing used for validation and canonical rule text. */

import { describe, expect, it } from 'vitest';
import { cidrContains, formatAddress, parseCidr, parseIpv6 } from '../../capture/ip-address.js';
import type { Cidr } from '../../capture/capture-config.js';

const cidr = (text: string): Cidr => {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('ip-address', () => {
  it.each([
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8::', '2001:db8::'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
    ['::127.0.0.53', '::7f00:35'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
  ])('formats %s canonically as %s', (input, expected) => {
    const parsed = parseIpv6(input);
    expect(parsed).not.toBeNull();
    expect(formatAddress(parsed!)).toBe(expected);
  });

  it.each(['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':::', '1.2.3.4', 'g::1', '1:2:3:4:5:6:7::8'])('rejects %s', (input) => {
    expect(parseIpv6(input)).toBeNull();
  });

  it('parses CIDRs and keeps host bits as written', () => {
    expect(cidr('10.1.2.3/8')).toEqual({ family: 4, text: '10.1.2.3/8', isLoopback: false });
    expect(cidr('127.1.2.3/32').isLoopback).toBe(true);
    expect(cidr('2001:DB8::/32').text).toBe('2001:db8::/32');
    expect(parseCidr('10.0.0.0')).toMatch(/CIDR form/);
    expect(parseCidr('10.0.0.0/33')).toMatch(/0-32/);
    expect(parseCidr('300.0.0.0/8')).toMatch(/not a valid/);
  });

  it('tests containment with masking', () => {
    expect(cidrContains(cidr('127.0.0.0/8'), cidr('127.0.0.1/32'))).toBe(true);
    expect(cidrContains(cidr('127.0.0.0/8'), cidr('128.0.0.1/32'))).toBe(false);
    expect(cidrContains(cidr('127.0.0.0/8'), cidr('127.0.0.0/7'))).toBe(false);
    expect(cidrContains(cidr('2001:db8::/32'), cidr('2001:db8:1::/48'))).toBe(true);
    expect(cidrContains(cidr('10.0.0.0/8'), cidr('2001:db8::/32'))).toBe(false);
  });
});
