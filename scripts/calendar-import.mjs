// Regenerates config/calendar/cn.json from the chinese-days package's compilation of the State Council holiday notices.
//
// Usage: node scripts/calendar-import.mjs [--version cn-2026.1] [--out config/calendar/cn.json] [YEAR | FROM-TO ...]
// Years default to 2024-2026. The version defaults to "cn-<last year>.1"; raise the revision after any data change
// within the same years so that deadlines can be traced to the calendar they were computed with.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function usage(message) {
  console.error(`calendar-import: ${message}`);
  console.error('usage: node scripts/calendar-import.mjs [--version V] [--out FILE] [YEAR | FROM-TO ...]');
  process.exit(2);
}

function parseArgs(argv) {
  const years = new Set();
  let version = null;
  let out = join(ROOT, 'config', 'calendar', 'cn.json');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version') version = argv[++i] ?? usage('--version needs a value');
    else if (a === '--out') out = resolve(argv[++i] ?? usage('--out needs a value'));
    else if (/^\d{4}$/.test(a)) years.add(Number(a));
    else if (/^\d{4}-\d{4}$/.test(a)) {
      const [from, to] = a.split('-').map(Number);
      if (from > to) usage(`empty year range ${a}`);
      for (let y = from; y <= to; y++) years.add(y);
    } else usage(`unknown argument ${a}`);
  }
  if (years.size === 0) for (const y of [2024, 2025, 2026]) years.add(y);
  const sorted = [...years].sort((a, b) => a - b);
  // Before 1991 Shanghai observed DST; the gateway's fixed UTC+8 arithmetic is only exact from 1991 on.
  if (sorted[0] < 1991) usage('years before 1991 are not supported');
  return { years: sorted, version: version ?? `cn-${sorted.at(-1)}.1`, out };
}

const weekday = (date) => new Date(`${date}T00:00:00Z`).getUTCDay();

function main() {
  const { years, version, out } = parseArgs(process.argv.slice(2));
  const pkg = JSON.parse(readFileSync(require.resolve('chinese-days/package.json'), 'utf8'));
  // The package's JSON maps "YYYY-MM-DD" -> "English name,中文名,days" for holidays, workdays and inLieuDays;
  // inLieuDays are a subset of holidays (the weekdays given in exchange) and need no separate treatment.
  const data = JSON.parse(readFileSync(join(dirname(require.resolve('chinese-days/package.json')), 'dist', 'chinese-days.json'), 'utf8'));
  const pick = (map, y) => Object.keys(map).filter((d) => d.startsWith(`${y}-`)).sort();

  const holidays = [];
  const workdays = [];
  for (const y of years) {
    const h = pick(data.holidays, y);
    // No holiday at all means the year's notice has not been published or compiled yet: refuse rather than
    // emit a year that the gateway would then treat as covered by plain Monday-Friday.
    if (h.length === 0) usage(`chinese-days@${pkg.version} has no holidays for ${y}; its notice is not compiled yet`);
    const w = pick(data.workdays, y);
    for (const d of w) {
      if (h.includes(d)) usage(`${d} is both a holiday and an adjusted working day`);
      const wd = weekday(d);
      if (wd !== 0 && wd !== 6) usage(`adjusted working day ${d} is not a Saturday or Sunday`);
    }
    holidays.push(...h);
    workdays.push(...w);
  }

  const file = {
    version,
    source: `chinese-days@${pkg.version} (https://github.com/vsme/chinese-days), compiled from the State Council General Office notices on public holiday arrangements (国务院办公厅关于部分节假日安排的通知) for ${years.join(', ')}`,
    years,
    holidays,
    workdays,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(file, null, 2) + '\n');
  console.log(`wrote ${out}: ${version}, years ${years.join(', ')}, ${holidays.length} holidays, ${workdays.length} adjusted working days`);
}

main();
