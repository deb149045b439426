/**
 * CNI error results: the spec's error codes and the JSON a plugin prints on stdout when it fails
 * (`{cniVersion, code, msg, details}`, exit status 1). Outrigger's own errors are translated to
 * CNI codes here and nowhere else, at the protocol edge.
 *
 * Codes 1-99 are reserved by the spec; plugin-specific failures use 100 and up.
 */

import { describeProblems, type ErrorCode, ErrorCodes, isOutriggerError } from '../../common/errors.js';

export const CniErrorCodes = {
  /** The network config's cniVersion is not one this plugin speaks (or the command needs a newer one). */
  incompatibleVersion: 1,
  unsupportedField: 2,
  /** The container (its network namespace) is unknown or does not exist. */
  unknownContainer: 3,
  /** A required CNI_* environment variable is missing or invalid. */
  invalidEnvironment: 4,
  ioFailure: 5,
  /** stdin is not valid JSON. */
  decodingFailure: 6,
  /** A field of the network config is missing or invalid. */
  invalidNetworkConfig: 7,
  /** A transient failure (API server unreachable); the runtime may retry. */
  tryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADD requests (CNI 1.1.0). */
  pluginNotAvailable: 50,
  /** Outrigger: applying the capture rules failed; the namespace holds its previous rules. */
  applyFailed: 100,
  /** Outrigger: rolling back a failed apply failed too; the namespace needs attention. */
  rollbackFailed: 101,
  /** Outrigger: a host tool (iptables-restore, nsenter, ip) is missing. */
  missingDependency: 102,
  /** Outrigger CHECK: the capture rules are not (or no longer) what the plan says. */
  captureNotApplied: 103,
  /** A bug. */
  internal: 999,
} as const;

export type CniErrorCode = (typeof CniErrorCodes)[keyof typeof CniErrorCodes];

export class CniError extends Error {
  readonly code: CniErrorCode;
  readonly details: string;

  constructor(code: CniErrorCode, msg: string, details = '', options: { cause?: unknown } = {}) {
    super(msg, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }
}

const FromOutrigger: Record<ErrorCode, CniErrorCode> = {
  [ErrorCodes.InvalidInput]: CniErrorCodes.invalidNetworkConfig,
  [ErrorCodes.MissingDependency]: CniErrorCodes.missingDependency,
  [ErrorCodes.ApplyFailed]: CniErrorCodes.applyFailed,
  [ErrorCodes.RollbackFailed]: CniErrorCodes.rollbackFailed,
  [ErrorCodes.ValidationFailed]: CniErrorCodes.captureNotApplied,
  [ErrorCodes.ReadFailed]: CniErrorCodes.ioFailure,
  [ErrorCodes.Unavailable]: CniErrorCodes.tryAgainLater,
  [ErrorCodes.Internal]: CniErrorCodes.internal,
};

/** Any thrown value as a CniError: the message's first line is `msg`, field problems go to `details`. */
export function toCniError(error: unknown): CniError {
  if (error instanceof CniError) return error;
  if (isOutriggerError(error)) {
    const [first = error.message, ...rest] = error.message.split('\n');
    const details = error.problems.length > 0 ? describeProblems(error.problems) : rest.join('\n');
    return new CniError(FromOutrigger[error.code], first, details, { cause: error });
  }
  // A bug. The runtime shows msg and details to users: no JavaScript stack there (the plugin's
  // log has it at debug level), only what the error says about itself.
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const details = `${error instanceof Error ? error.name : typeof error}${typeof code === 'string' ? ` ${code}` : ''}; this is a bug in outrigger-cni`;
  return new CniError(CniErrorCodes.internal, `internal error: ${message}`, details, { cause: error });
}

/** The error result JSON (one line), in the caller's cniVersion. */
export function renderCniError(error: CniError, cniVersion: string): string {
  return `${JSON.stringify({ cniVersion, code: error.code, msg: error.message, ...(error.details ? { details: error.details } : {}) })}\n`;
}
