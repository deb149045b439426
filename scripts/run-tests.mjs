// Runs the type check and the whole test suite (unit + integration projects) with vitest, then prints one plain
// closing line `tests: N passed, N failed, N skipped`. A skipped or todo test fails the run:
// tests that cannot run must fail with a reason, never skip silently.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const report = 'test-results/vitest.json';
mkdirSync('test-results', { recursive: true });
rmSync(report, { force: true });
const extra = process.argv.slice(2);
// The type check first (strict, unused locals and parameters: vitest strips types without
// checking them), then the build the integration tests run.
for (const step of ['typecheck', 'build']) {
  const run = spawnSync('npm', ['run', '--silent', step], { stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`run-tests: npm run ${step} failed`);
    console.log('tests: 0 passed, 1 failed');
    process.exit(1);
  }
}
const vitest = spawnSync('npx', ['--no', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${report}`, ...extra], { stdio: 'inherit' });

let results;
try {
  results = JSON.parse(readFileSync(report, 'utf8'));
} catch {
  console.error('run-tests: vitest wrote no report');
  console.log('tests: 0 passed, 1 failed');
  process.exit(vitest.status || 1);
}
const passed = results.numPassedTests ?? 0;
// Failed tests, plus test files that failed before running any test (import or hook errors);
// numFailedTestSuites would also count every describe block around a failed test.
const brokenFiles = (results.testResults ?? []).filter((f) => f.status === 'failed' && (f.assertionResults ?? []).every((a) => a.status !== 'failed')).length;
const failed = (results.numFailedTests ?? 0) + brokenFiles;
const skipped = (results.numPendingTests ?? 0) + (results.numTodoTests ?? 0);
if (skipped > 0) console.error(`run-tests: ${skipped} test(s) were skipped; outrigger's suite does not allow skipping`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(vitest.status !== 0 || failed > 0 || skipped > 0 || passed === 0 ? 1 : 0);
