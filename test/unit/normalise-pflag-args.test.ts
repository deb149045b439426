/** The pflag-to-parseArgs rewrite on its own: the exact tokens parseArgs receives. */

import { describe, expect, it } from 'vitest';
import { indexFlags, normalisePflagArgs } from '../../init/normalise-pflag-args.js';

const index = indexFlags([
  { long: 'exclude', short: 'c', type: 'string' },
  { long: 'port', type: 'string' },
  { long: 'dry-run', short: 'n', type: 'boolean' },
  { long: 'restore', short: 'f', type: 'boolean' },
]);

const tokens = (argv: string[]) => normalisePflagArgs(argv, index);

describe('normalisePflagArgs', () => {
  it('writes every flag as --long=value, --long or --no-long', () => {
    expect(tokens(['-c=a', '-cb', '-c', '-x', '--exclude', '--', '--exclude=', '--port', '']).args)
      .toEqual(['--exclude=a', '--exclude=b', '--exclude=-x', '--exclude=--', '--exclude=', '--port=']);
    expect(tokens(['-nf=0', '--restore=TRUE', '--dry-run']).args).toEqual(['--dry-run', '--no-restore', '--restore', '--dry-run']);
  });

  it('passes unknown long names, positionals and everything after -- through for parseArgs to refuse', () => {
    const argv = ['--other=1', '---x', '--=x', 'stray', '-', '', '--', '-c=a', '-n'];
    expect(tokens(argv)).toEqual({ args: argv, problems: [] });
  });

  it('returns problems without throwing, and drops the tokens they came from', () => {
    expect(tokens(['-n=perhaps', '-cZ', '-Zc', 'x', '--port'])).toEqual({
      args: ['--exclude=Z', 'x'],
      problems: [
        { source: '--dry-run (-n)', value: 'perhaps', reason: 'must be true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)' },
        { source: 'arguments', value: '-Zc', reason: "unknown shorthand flag 'Z' in -Zc" },
        { source: '--port', value: '', reason: 'needs a value, and nothing follows it' },
      ],
    });
  });
});
