/*
 * Prints the one summary line CI reads, from the runners' own result files:
 *   tests: N passed, N failed, N skipped
 * A runner that left no result file counts as one failure, so a crash can
 * never look like success. Exit status 1 when anything failed.
 */
const fs = require('fs');
const path = require('path');

const [dir, checksPassed = '0', checksFailed = '0'] = process.argv.slice(2);
let passed = Number(checksPassed);
let failed = Number(checksFailed);
let skipped = 0;

function read(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
  } catch (e) {
    console.error(`[test] no readable ${name}: ${e.message}`);
    return undefined;
  }
}

const jest = read('jest.json');
if (jest) {
  passed += jest.numPassedTests;
  failed += jest.numFailedTests;
  skipped += jest.numPendingTests + (jest.numTodoTests ?? 0);
  // Suites that failed to run (syntax errors, failing hooks) have no tests.
  const broken = (jest.testResults ?? []).filter(
    r => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
  );
  failed += broken.length;
  for (const r of broken)
    console.error(`[test] suite failed to run: ${r.name}`);
} else {
  failed += 1;
}

const e2e = read('e2e.json');
if (e2e) {
  passed += (e2e.stats?.expected ?? 0) + (e2e.stats?.flaky ?? 0);
  failed += e2e.stats?.unexpected ?? 0;
  skipped += e2e.stats?.skipped ?? 0;
  failed += (e2e.errors ?? []).length;
} else {
  failed += 1;
}

console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
