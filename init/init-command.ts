/**
 * `outrigger init`: the init container's program. Parses istio-iptables-compatible flags, then
 * prints (--dry-run), cleans up (--cleanup-only), applies and/or validates capture. Errors are
 * translated to exit codes only here: 2 bad input (nothing touched), 126 validation failed
 * (as istio-validation), 127 missing host tool, 1 apply failed (previous rules intact).
 */

import { planCapture } from '../capture/plan-capture.js';
import { renderRestore } from '../capture/render-restore.js';
import { nftLayout, renderNftApply } from '../capture/render-nft.js';
import { createCommandRunner } from '../apply/create-command-runner.js';
import { applyCapture, cleanupCapture } from '../apply/apply-capture.js';
import { gatherHostFacts } from '../apply/gather-host-facts.js';
import { ErrorCodes, isOutriggerError, type ErrorCode } from '../common/errors.js';
import { createDeferredLogger } from '../common/deferred-log.js';
import { initUsage, parseInitFlags, type ParseInitResult } from './parse-init-flags.js';

const ExitCodes: Record<ErrorCode, number> = {
  [ErrorCodes.InvalidInput]: 2,
  [ErrorCodes.ValidationFailed]: 126,
  [ErrorCodes.MissingDependency]: 127,
  [ErrorCodes.ApplyFailed]: 1,
  [ErrorCodes.RollbackFailed]: 1,
  [ErrorCodes.ReadFailed]: 1,
  [ErrorCodes.Unavailable]: 1,
  [ErrorCodes.Internal]: 70,
};

export async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let parsed: ParseInitResult;
  try {
    parsed = parseInitFlags(argv, env);
  } catch (error) {
    if (isOutriggerError(error)) {
      process.stderr.write(`outrigger init: ${error.message}\n`);
      return ExitCodes[error.code];
    }
    throw error;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(initUsage());
    return 0;
  }

  const { capture, options } = parsed;
  // The applier returns outcomes as data; they are logged here, at the edge. pino is loaded
  // only if a line is actually logged (see deferred-log.ts).
  const log = createDeferredLogger({ name: 'outrigger-init', level: options.logLevel });
  const runner = createCommandRunner(options.networkNamespace ? { netnsPath: options.networkNamespace } : {});
  const inOwnNamespace = options.networkNamespace === undefined;
  try {
    if (options.cleanupOnly) {
      const report = await cleanupCapture({ config: capture, runner, backend: options.backend, inOwnNamespace });
      await log.info({ families: report.families, nftTables: report.nftTables, routingRemoved: report.routingRemoved.length }, 'capture cleanup done');
      return 0;
    }
    const facts = await gatherHostFacts(capture, { ipv6: options.ipv6, resolvConfPath: options.resolvConfPath, runner, inOwnNamespace });
    if (options.dryRun) {
      const plan = planCapture(capture, facts);
      if (capture.nativeNftables) {
        const script = renderNftApply(nftLayout(plan.rules, plan.families));
        process.stdout.write(options.output === 'json' ? `${JSON.stringify({ nftables: script })}\n` : script);
        return 0;
      }
      const ipv4 = renderRestore(plan.ipv4);
      const ipv6 = plan.ipv6 ? renderRestore(plan.ipv6) : null;
      process.stdout.write(options.output === 'json' ? `${JSON.stringify({ ipv4, ipv6 })}\n` : `# IPv4\n${ipv4}${ipv6 ? `# IPv6\n${ipv6}` : ''}`);
      return 0;
    }
    if (!options.skipRuleApply) {
      const report = await applyCapture({ config: capture, facts, runner, backend: options.backend, inOwnNamespace });
      const changed = report.families.some((f) => f.changed) || report.routingAdded.length > 0 || report.routingRemoved.length > 0 || report.otherBackendRemoved.length > 0;
      await log.info(
        { backend: report.backend, families: report.families, routingAdded: report.routingAdded.length, routingRemoved: report.routingRemoved.length, ...(report.otherBackendRemoved.length > 0 ? { otherBackendRemoved: report.otherBackendRemoved } : {}) },
        changed ? 'capture rules applied' : 'capture rules already in place; nothing changed',
      );
    }
    if (options.runValidation) {
      // Loaded only when asked for: it pulls in node:net and node:crypto.
      const { validateCapture } = await import('./validate-capture.js');
      await validateCapture(capture, { families: facts.ipv6 ? [4, 6] : [4], probePort: options.probePort, timeoutMs: options.probeTimeoutMs });
      await log.info('validation passed: traffic reaches the proxy');
    }
    return 0;
  } catch (error) {
    if (!isOutriggerError(error)) throw error;
    await log.error({ code: error.code, err: error }, error.message);
    process.stderr.write(`outrigger init: ${error.message}\n`);
    return ExitCodes[error.code];
  }
}
