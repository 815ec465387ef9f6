// Runs the whole suite in phases (unit, unit again under TZ=America/New_York, integration over
// both stores, end-to-end) and prints one closing line "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const out = 'test-output';
mkdirSync(out, { recursive: true });
const phases = [
  { name: 'unit', spec: 'dist/test/unit', env: {} },
  { name: 'unit (TZ=America/New_York)', spec: 'dist/test/unit', env: { TZ: 'America/New_York' } },
  { name: 'integration', spec: 'dist/test/integration', env: {} },
  { name: 'integration (TZ=America/New_York, sqlite)', spec: 'dist/test/integration', env: { TZ: 'America/New_York', PAG_TEST_STORES: 'sqlite' } },
  { name: 'end-to-end', spec: 'dist/test/e2e', env: {} },
];
let passed = 0, failed = 0, pending = 0;
for (const [i, phase] of phases.entries()) {
  const stats = join(out, `stats-${i}.json`);
  rmSync(stats, { force: true });
  console.log(`\n=== ${phase.name} ===`);
  const r = spawnSync(process.execPath, ['scripts/mocha-phase.js', stats, phase.spec], {
    stdio: 'inherit', env: { ...process.env, ...phase.env },
  });
  let s;
  try { s = JSON.parse(readFileSync(stats, 'utf8')); } catch { s = { passes: 0, failures: 1, pending: 0 }; console.error(`phase "${phase.name}" ended without results (exit ${r.status})`); }
  passed += s.passes; failed += s.failures; pending += s.pending;
}
console.log(`\n${passed} passed, ${failed} failed` + (pending ? `, ${pending} skipped` : ''));
process.exit(failed === 0 && passed > 0 ? 0 : 1);
