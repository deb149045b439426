/**
 * Durations on the command line, in one grammar for every subcommand: Go's (`500ms`, `5s`,
 * `1m30s`, `1.5h`), as Istio's and Kubernetes' own flags take them. Bounds are the caller's.
 */

const UnitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const Whole = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const Part = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const BareNumber = /^\d+(?:\.\d+)?$/;

export interface DurationGrammar {
  /** Also take a bare number in this unit (the injector's flags were documented in seconds). */
  readonly bareNumberUnit?: keyof typeof UnitMs;
}

/** The duration in whole milliseconds, or null when `text` is not one. */
export function parseDurationMs(text: string, grammar: DurationGrammar = {}): number | null {
  const trimmed = text.trim();
  if (grammar.bareNumberUnit !== undefined && BareNumber.test(trimmed)) return Math.round(Number(trimmed) * UnitMs[grammar.bareNumberUnit]);
  if (!Whole.test(trimmed)) return null;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(Part)) total += Number(amount) * UnitMs[unit as keyof typeof UnitMs];
  return Math.round(total);
}
