// Cross-checks config/calendar/cn.json against the State Council holiday notices and against the chinese-days package.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_DIR, ROOT } from '../../src/paths.js';

interface CalendarFile {
  version: string;
  source: string;
  years: number[];
  holidays: string[];
  workdays: string[];
}

/** One holiday of a notice: first and last day off, the stated total ("共N天"). */
type Range = [first: string, last: string, days: number];
/** One year's notice: its holiday ranges and its adjusted working days with their stated weekday (0 = Sunday, 6 = Saturday). */
interface Notice {
  holidays: Range[];
  workdays: [date: string, weekday: 0 | 6][];
}

// Written independently of chinese-days from the notices 国务院办公厅关于2024年/2025年/2026年部分节假日安排的通知.
// A holiday "与周末连休" (joined to an ordinary weekend) lists only its own official day. The 2026 notice was
// published in November 2025; its table here was written from that notice and also agrees with chinese-days
// (which the drift test below checks separately).
const NOTICES: Record<number, Notice> = {
  2024: {
    holidays: [
      ['2024-01-01', '2024-01-01', 1], // 元旦, 与周末连休
      ['2024-02-10', '2024-02-17', 8], // 春节
      ['2024-04-04', '2024-04-06', 3], // 清明节
      ['2024-05-01', '2024-05-05', 5], // 劳动节
      ['2024-06-10', '2024-06-10', 1], // 端午节, 与周末连休
      ['2024-09-15', '2024-09-17', 3], // 中秋节
      ['2024-10-01', '2024-10-07', 7], // 国庆节
    ],
    workdays: [
      ['2024-02-04', 0], ['2024-02-18', 0], ['2024-04-07', 0], ['2024-04-28', 0],
      ['2024-05-11', 6], ['2024-09-14', 6], ['2024-09-29', 0], ['2024-10-12', 6],
    ],
  },
  2025: {
    holidays: [
      ['2025-01-01', '2025-01-01', 1], // 元旦, 不调休
      ['2025-01-28', '2025-02-04', 8], // 春节 (除夕 to 正月初七)
      ['2025-04-04', '2025-04-06', 3], // 清明节
      ['2025-05-01', '2025-05-05', 5], // 劳动节
      ['2025-05-31', '2025-06-02', 3], // 端午节
      ['2025-10-01', '2025-10-08', 8], // 国庆节、中秋节
    ],
    workdays: [['2025-01-26', 0], ['2025-02-08', 6], ['2025-04-27', 0], ['2025-09-28', 0], ['2025-10-11', 6]],
  },
  2026: {
    holidays: [
      ['2026-01-01', '2026-01-03', 3], // 元旦
      ['2026-02-15', '2026-02-23', 9], // 春节 (腊月二十八 to 正月初七)
      ['2026-04-04', '2026-04-06', 3], // 清明节
      ['2026-05-01', '2026-05-05', 5], // 劳动节
      ['2026-06-19', '2026-06-21', 3], // 端午节
      ['2026-09-25', '2026-09-27', 3], // 中秋节
      ['2026-10-01', '2026-10-07', 7], // 国庆节
    ],
    workdays: [['2026-01-04', 0], ['2026-02-14', 6], ['2026-02-28', 6], ['2026-05-09', 6], ['2026-09-20', 0], ['2026-10-10', 6]],
  },
};

const DAY_MS = 86_400_000;
const dayOf = (d: string) => Date.parse(`${d}T00:00:00Z`) / DAY_MS;
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const weekdayOf = (d: string) => new Date(`${d}T00:00:00Z`).getUTCDay();
const inYear = (list: string[], y: number) => list.filter((d) => d.startsWith(`${y}-`));

function expand([first, last]: Range): string[] {
  const out: string[] = [];
  for (let d = dayOf(first); d <= dayOf(last); d++) out.push(dateOf(d));
  return out;
}

const file = JSON.parse(readFileSync(join(CONFIG_DIR, 'calendar', 'cn.json'), 'utf8')) as CalendarFile;
const chineseDays = JSON.parse(readFileSync(join(ROOT, 'node_modules', 'chinese-days', 'dist', 'chinese-days.json'), 'utf8')) as {
  holidays: Record<string, string>;
  workdays: Record<string, string>;
};

describe('calendar data: config/calendar/cn.json', () => {
  it('covers 2024, 2025 and 2026 with sorted, year-bounded lists', () => {
    expect(file.years).to.include.members([2024, 2025, 2026]);
    expect(file.version).to.match(/^cn-\d{4}\.\d+$/);
    for (const list of [file.holidays, file.workdays]) {
      expect(list).to.deep.equal([...list].sort());
      for (const d of list) expect(file.years, d).to.include(Number(d.slice(0, 4)));
    }
  });

  for (const [year, notice] of Object.entries(NOTICES)) {
    it(`agrees exactly with the State Council notice for ${year}`, () => {
      const y = Number(year);
      for (const range of notice.holidays) expect(expand(range), range[0]).to.have.length(range[2]);
      for (const [d, wd] of notice.workdays) expect(weekdayOf(d), d).to.equal(wd);
      expect(inYear(file.holidays, y)).to.deep.equal(notice.holidays.flatMap(expand));
      expect(inYear(file.workdays, y)).to.deep.equal(notice.workdays.map(([d]) => d));
    });
  }

  it('equals what the installed chinese-days package gives for every covered year', () => {
    for (const y of file.years) {
      expect(inYear(file.holidays, y), `holidays ${y}`).to.deep.equal(inYear(Object.keys(chineseDays.holidays), y).sort());
      expect(inYear(file.workdays, y), `workdays ${y}`).to.deep.equal(inYear(Object.keys(chineseDays.workdays), y).sort());
    }
  });

  it('is what scripts/calendar-import.mjs regenerates for the same years and version', function () {
    this.timeout(10_000);
    const dir = mkdtempSync(join(tmpdir(), 'pag-calendar-import-'));
    try {
      const out = join(dir, 'cn.json');
      const r = spawnSync(process.execPath, ['scripts/calendar-import.mjs', '--version', file.version, '--out', out, ...file.years.map(String)], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).to.equal(0);
      const regenerated = JSON.parse(readFileSync(out, 'utf8')) as CalendarFile;
      const { source: _s, ...data } = file;
      const { source: _r, ...again } = regenerated;
      expect(again).to.deep.equal(data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the import script refuses a year the package has no notice for', function () {
    this.timeout(10_000);
    const missing = Math.max(...Object.keys(chineseDays.holidays).map((d) => Number(d.slice(0, 4)))) + 1;
    const r = spawnSync(process.execPath, ['scripts/calendar-import.mjs', '--out', join(tmpdir(), 'pag-never-written.json'), String(missing)], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.match(/no holidays for/);
  });
});
