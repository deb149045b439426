// The one duration grammar of every subcommand (common/duration.ts): Go's units and sums, the
// injector's bare seconds only where asked for, and nothing else.
import { describe, expect, it } from 'vitest';
import { parseDurationMs } from '../../common/duration.js';

describe('parseDurationMs', () => {
  it.each([
    ['500ms', 500], ['5s', 5000], ['2m', 120_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1500], ['0.25h', 900_000], [' 30s ', 30_000], ['1h2m3s4ms', 3_723_004],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '5', 's', '-5s', '5 s', '5sec', '1d', '5s5', 'ms', '.5s', '5s,'])('refuses %j', (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });

  it('takes a bare number only in the unit the caller names', () => {
    expect(parseDurationMs('10')).toBeNull();
    expect(parseDurationMs('10', { bareNumberUnit: 's' })).toBe(10_000);
    expect(parseDurationMs('0.5', { bareNumberUnit: 's' })).toBe(500);
    expect(parseDurationMs('250', { bareNumberUnit: 'ms' })).toBe(250);
    expect(parseDurationMs('10s', { bareNumberUnit: 's' })).toBe(10_000);
    expect(parseDurationMs('-1', { bareNumberUnit: 's' })).toBeNull();
  });
});
