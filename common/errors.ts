/**
 * Outrigger's one error type. Every failure carries a stable `code` (for exit codes, CNI error
 * JSON and admission responses, translated only at those edges), a human message, an optional
 * list of field problems (so one error can name every bad input at once) and a `cause`.
 */

export const ErrorCodes = {
  /** User input (flag, env var, annotation, CNI config) is invalid. Nothing was applied. */
  InvalidInput: 'INVALID_INPUT',
  /** A required host tool (iptables, ip, nsenter) is missing or unusable. */
  MissingDependency: 'MISSING_DEPENDENCY',
  /** iptables-restore (or ip) refused what we asked; previous state was restored. */
  ApplyFailed: 'APPLY_FAILED',
  /** Rolling back after a failed apply also failed: the namespace needs attention. */
  RollbackFailed: 'ROLLBACK_FAILED',
  /** --run-validation could not prove that traffic reaches the proxy. */
  ValidationFailed: 'VALIDATION_FAILED',
  /** A file (resolv.conf, config) could not be read or parsed. */
  ReadFailed: 'READ_FAILED',
  /** Something we depend on is temporarily unavailable (API server); retrying may help. */
  Unavailable: 'UNAVAILABLE',
  /** A bug: an invariant did not hold. */
  Internal: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** One bad input: where it came from (`--proxy-uid`, `annotation traffic.sidecar.istio.io/...`) and why. */
export interface FieldProblem {
  readonly source: string;
  readonly value: string;
  readonly reason: string;
}

export class OutriggerError extends Error {
  readonly code: ErrorCode;
  readonly problems: readonly FieldProblem[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; problems?: readonly FieldProblem[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OutriggerError';
    this.code = code;
    this.problems = options.problems ?? [];
  }
}

/** Renders field problems as one line each: `--proxy-uid "abc": not a valid user id`. */
export function describeProblems(problems: readonly FieldProblem[]): string {
  return problems.map((p) => `${p.source} ${JSON.stringify(p.value)}: ${p.reason}`).join('\n');
}

/** An InvalidInput error listing every problem, with a summary first line. */
export function invalidInput(problems: readonly FieldProblem[], what = 'configuration'): OutriggerError {
  const noun = problems.length === 1 ? 'value' : 'values';
  return new OutriggerError(
    ErrorCodes.InvalidInput,
    `invalid ${what}: ${problems.length} bad ${noun}\n${describeProblems(problems)}`,
    { problems },
  );
}

export function isOutriggerError(error: unknown): error is OutriggerError {
  return error instanceof OutriggerError;
}
