/**
 * Rewrites `istio-iptables` argv, spelled as spf13/pflag reads it, into one spelling that
 * `node:util` `parseArgs` reads without guessing: a string flag becomes `--long=value`, a boolean
 * `--long` or `--no-long`. One linear pass, no I/O. parseArgs itself differs from pflag on
 * `-c=net1` (it keeps "=net1"), on a value starting with "-" (`-c -abc`: "ambiguous") and on
 * `-n=false`; this step is where pflag's meaning is decided.
 *
 * pflag's rules (flag.go parseLongArg / parseShortArg, README "Command line flag syntax"):
 * - `--name=V` sets V, everything after the first "=", which may be empty (`-x ""` and `--x=` alike).
 * - `--name` of a string flag takes the next argument whatever it is (`-abc`, `--`, ""); with
 *   nothing after it, it is an error. Of a boolean flag it means true; `--name=V` parses V with
 *   Go's strconv.ParseBool (exactly 1 t T TRUE true True, 0 f F FALSE false False; not yes, on,
 *   tRue or " true"), and `--name false` is true followed by a stray argument (refused here).
 * - `-abc` is a cluster of shorthands read left to right. A letter followed by `=` and at least one
 *   character takes the rest after "=" and ends the cluster (`-c=net1`, `-n=false`). Otherwise a
 *   boolean letter is true and reading goes on (`-nf`); a string letter takes the rest of the
 *   cluster (`-ceth0`; so `-c=` is the value "=", as in pflag), else the next argument whatever
 *   it is. A boolean letter then "=" with nothing after (`-n=`) leaves "=" as an unknown letter.
 * - `--` ends the flags; `-` and "" are positional arguments. There is no `--no-name`.
 * Clusters are rare in istio-iptables command lines (Istio's injector writes `-p 15001`), but
 * pflag accepts them, so they get pflag's meaning or an error, never another meaning. Not copied:
 * pflag silently skips `-test.*` (Go test flags); here `-t` reads "est.…" as the TPROXY mark and
 * refuses it.
 *
 * Problems (a bad boolean, a missing value, an unknown shorthand) are returned, not thrown.
 * Long names this table does not know, positional arguments and everything after `--` pass
 * through unchanged for parseArgs (strict, no positionals) to refuse with its own message.
 */

import type { FieldProblem } from '../common/errors.js';

export interface SpelledFlag {
  readonly long: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
}

export interface FlagIndex {
  readonly byLong: ReadonlyMap<string, SpelledFlag>;
  readonly byShort: ReadonlyMap<string, SpelledFlag>;
}

/** Go's strconv.ParseBool, which pflag's boolean flags use: these twelve spellings and no other. */
const PflagTrue = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const PflagFalse = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parsePflagBoolean(text: string): boolean | null {
  if (PflagTrue.has(text)) return true;
  if (PflagFalse.has(text)) return false;
  return null;
}

export function indexFlags(flags: readonly SpelledFlag[]): FlagIndex {
  return {
    byLong: new Map(flags.map((f) => [f.long, f])),
    byShort: new Map(flags.flatMap((f) => (f.short ? [[f.short, f] as const] : []))),
  };
}

/** How problems name a flag: `--envoy-port (-p)`, or `--redirect-dns` when it has no shorthand. */
export function flagLabel(long: string, short?: string): string {
  return short ? `--${long} (-${short})` : `--${long}`;
}

export function normalisePflagArgs(argv: readonly string[], index: FlagIndex): { args: string[]; problems: FieldProblem[] } {
  const args: string[] = [];
  const problems: FieldProblem[] = [];

  const setValue = (flag: SpelledFlag, value: string): void => {
    if (flag.type === 'string') {
      args.push(`--${flag.long}=${value}`);
      return;
    }
    const parsed = parsePflagBoolean(value);
    if (parsed !== null) args.push(parsed ? `--${flag.long}` : `--no-${flag.long}`);
    else problems.push({ source: flagLabel(flag.long, flag.short), value, reason: 'must be true or false (or 1, t, T, TRUE, True, 0, f, F, FALSE, False)' });
  };
  const missingValue = (flag: SpelledFlag): void => {
    problems.push({ source: flagLabel(flag.long, flag.short), value: '', reason: 'needs a value, and nothing follows it' });
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    if (token === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (token.length < 2 || token[0] !== '-') {
      args.push(token);
      continue;
    }

    if (token[1] === '-') {
      const eq = token.indexOf('=', 2);
      const name = eq === -1 ? token.slice(2) : token.slice(2, eq);
      const flag = index.byLong.get(name);
      // parseArgs (allowNegative, for the `--no-long` this step writes) would take `--no-dry-run`; pflag has no such flag.
      if (!flag && name.startsWith('no-') && index.byLong.has(name.slice(3))) problems.push({ source: 'arguments', value: token, reason: `unknown flag: --${name}` });
      else if (!flag) args.push(token);
      else if (eq !== -1) setValue(flag, token.slice(eq + 1));
      else if (flag.type === 'boolean') args.push(`--${flag.long}`);
      else if (i + 1 < argv.length) setValue(flag, argv[++i] ?? '');
      else missingValue(flag);
      continue;
    }

    for (let at = 1; at < token.length; at++) {
      const letter = token[at] ?? '';
      const flag = index.byShort.get(letter);
      if (!flag) {
        problems.push({ source: 'arguments', value: token, reason: `unknown shorthand flag '${letter}' in ${token}` });
        break;
      }
      if (token[at + 1] === '=' && token.length > at + 2) {
        setValue(flag, token.slice(at + 2));
        break;
      }
      if (flag.type === 'boolean') {
        args.push(`--${flag.long}`);
        continue;
      }
      if (at + 1 < token.length) setValue(flag, token.slice(at + 1));
      else if (i + 1 < argv.length) setValue(flag, argv[++i] ?? '');
      else missingValue(flag);
      break;
    }
  }
  return { args, problems };
}
