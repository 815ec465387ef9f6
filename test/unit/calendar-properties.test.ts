// Property tests of working-day arithmetic against a slow, independent model (Intl for Shanghai dates, string sets for days).
import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_DIR } from '../../src/paths.js';
import { loadCalendar } from '../../src/calendar/load.js';
import { WorkingCalendar, endOfShanghaiDay, shanghaiDate, type CalendarData, type DueDate } from '../../src/calendar/working-days.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const cal = loadCalendar(join(CONFIG_DIR, 'calendar', 'cn.json'));

// The model derives Shanghai dates through the ICU time-zone database rather than the module's fixed offset.
const shanghaiFormat = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });
const modelDate = (instant: Date) => shanghaiFormat.format(instant);
const nextDate = (d: string) => new Date(Date.parse(`${d}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
const isWeekend = (d: string) => [0, 6].includes(new Date(`${d}T00:00:00Z`).getUTCDay());

/** Straightforward reference: step one date at a time from the day after delivery. */
function model(data: CalendarData, from: Date, n: number): DueDate {
  const years = new Set(data.years);
  const holidays = new Set(data.holidays);
  const workdays = new Set(data.workdays);
  let d = modelDate(from);
  let uncovered: string | undefined;
  for (let left = n; left > 0; ) {
    d = nextDate(d);
    let working: boolean;
    if (years.has(Number(d.slice(0, 4)))) working = workdays.has(d) || (!holidays.has(d) && !isWeekend(d));
    else {
      uncovered ??= d;
      working = !isWeekend(d);
    }
    if (working) left--;
  }
  const dueAt = new Date(`${d}T23:59:59.999+08:00`);
  return uncovered === undefined ? { dueAt, provisional: false } : { dueAt, provisional: true, uncoveredDate: uncovered };
}

// The model reads the file itself: deriving its data from the calendar's own answers would be circular.
const cnData = JSON.parse(readFileSync(join(CONFIG_DIR, 'calendar', 'cn.json'), 'utf8')) as CalendarData;

// Instants from 00:00 on 1 January 2024 to 31 October 2026 in Shanghai: November and December 2026 hold 44 working
// days, so 40 working days later is still in 2026.
const coveredInstant = fc.integer({ min: Date.UTC(2023, 11, 31, 16), max: Date.UTC(2026, 9, 31) }).map((ms) => new Date(ms));
const anyInstant = fc.integer({ min: Date.UTC(2019, 0, 1), max: Date.UTC(2031, 0, 1) }).map((ms) => new Date(ms));
const days = fc.integer({ min: 1, max: 40 });

describe('calendar properties (fast-check)', () => {
  it('the due day is a covered working day, and the deadline is not provisional inside the calendar', () => {
    fc.assert(
      fc.property(coveredInstant, days, (t, n) => {
        const r = cal.addWorkingDays(t, n);
        expect(r.provisional).to.equal(false);
        expect(r).to.not.have.property('uncoveredDate');
        expect(cal.isWorkingDay(shanghaiDate(r.dueAt))).to.equal(true);
        expect(r.dueAt.getTime()).to.be.greaterThan(t.getTime());
      }),
      { numRuns: 500 },
    );
  });

  it('n + 1 working days end strictly later than n', () => {
    fc.assert(
      fc.property(anyInstant, fc.integer({ min: 0, max: 60 }), (t, n) => {
        expect(cal.addWorkingDays(t, n + 1).dueAt.getTime()).to.be.greaterThan(cal.addWorkingDays(t, n).dueAt.getTime());
      }),
      { numRuns: 500 },
    );
  });

  it('the due instant is the last millisecond of a Shanghai day', () => {
    fc.assert(
      fc.property(anyInstant, fc.integer({ min: 0, max: 60 }), (t, n) => {
        const { dueAt } = cal.addWorkingDays(t, n);
        expect((dueAt.getTime() + 1 + 8 * HOUR_MS) % DAY_MS).to.equal(0);
        expect(endOfShanghaiDay(shanghaiDate(dueAt)).getTime()).to.equal(dueAt.getTime());
        expect(modelDate(dueAt)).to.not.equal(modelDate(new Date(dueAt.getTime() + 1)));
      }),
      { numRuns: 500 },
    );
  });

  it('exactly n working days lie after the delivery day up to and including the due day', () => {
    fc.assert(
      fc.property(coveredInstant, days, (t, n) => {
        const r = cal.addWorkingDays(t, n);
        const end = shanghaiDate(r.dueAt);
        let count = 0;
        for (let d = nextDate(modelDate(t)); d <= end; d = nextDate(d)) if (cal.isWorkingDay(d)) count++;
        expect(count).to.equal(n);
        expect(cal.workingDaysBetween(t, r.dueAt)).to.equal(n);
        expect(cal.workingDaysBetween(r.dueAt, t)).to.equal(-n);
      }),
      { numRuns: 300 },
    );
  });

  it('the time of delivery within the Shanghai day does not matter', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.nat(DAY_MS - 1), fc.nat(DAY_MS - 1), days, (day, a, b, n) => {
        const midnight = Date.UTC(2023, 11, 31, 16) + day * DAY_MS; // 00:00 Shanghai
        expect(cal.addWorkingDays(new Date(midnight + a), n)).to.deep.equal(cal.addWorkingDays(new Date(midnight + b), n));
      }),
      { numRuns: 300 },
    );
  });

  it('extending a deadline by m equals a deadline of n + m from delivery', () => {
    fc.assert(
      fc.property(anyInstant, fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), (t, n, m) => {
        const first = cal.addWorkingDays(t, n);
        const extended = cal.addWorkingDays(first.dueAt, m);
        const direct = cal.addWorkingDays(t, n + m);
        expect(extended.dueAt.getTime()).to.equal(direct.dueAt.getTime());
        expect(first.provisional || extended.provisional).to.equal(direct.provisional);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the reference model everywhere, including uncovered years', () => {
    fc.assert(
      fc.property(anyInstant, fc.integer({ min: 0, max: 80 }), (t, n) => {
        expect(cal.addWorkingDays(t, n)).to.deep.equal(model(cnData, t, n));
      }),
      { numRuns: 1000 },
    );
  });

  it('is never silently non-provisional when a day after delivery lies in an uncovered year', () => {
    const outside = fc.oneof(
      fc.integer({ min: Date.UTC(2019, 0, 1), max: Date.UTC(2023, 11, 30, 15) }), // day after delivery in 2019-2023
      fc.integer({ min: Date.UTC(2026, 11, 30, 16), max: Date.UTC(2031, 0, 1) }), // from 31 Dec 2026 on
    );
    fc.assert(
      fc.property(outside, fc.integer({ min: 1, max: 60 }), (ms, n) => {
        const r = cal.addWorkingDays(new Date(ms), n);
        expect(r.provisional).to.equal(true);
        expect(r.uncoveredDate).to.be.a('string');
        expect(cal.covers(r.uncoveredDate!)).to.equal(false);
        expect(r.uncoveredDate! > modelDate(new Date(ms))).to.equal(true);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary calendars with gap years agree with the reference model', () => {
    const YEARS = [2023, 2024, 2025, 2026, 2027];
    const first = Date.UTC(2023, 0, 1) / DAY_MS;
    const span = Date.UTC(2028, 0, 1) / DAY_MS - first;
    const calendarData = fc
      .record({
        years: fc.subarray(YEARS),
        marks: fc.uniqueArray(fc.record({ offset: fc.nat(span - 1), holiday: fc.boolean() }), { selector: (m) => m.offset, maxLength: 300 }),
      })
      .map(({ years, marks }): CalendarData => {
        const holidays: string[] = [];
        const workdays: string[] = [];
        for (const { offset, holiday } of marks) {
          const d = new Date((first + offset) * DAY_MS).toISOString().slice(0, 10);
          if (!years.includes(Number(d.slice(0, 4)))) continue;
          if (holiday) holidays.push(d);
          else if (isWeekend(d)) workdays.push(d);
        }
        return { version: 'random', years, holidays, workdays };
      });
    const instant = fc.integer({ min: Date.UTC(2022, 10, 1), max: Date.UTC(2028, 1, 1) }).map((ms) => new Date(ms));
    fc.assert(
      fc.property(calendarData, instant, fc.integer({ min: 0, max: 120 }), (data, t, n) => {
        const c = new WorkingCalendar(data);
        expect(c.addWorkingDays(t, n)).to.deep.equal(model(data, t, n));
      }),
      { numRuns: 300 },
    );
  });

  it('workingDaysBetween is antisymmetric and additive inside the calendar', () => {
    fc.assert(
      fc.property(coveredInstant, coveredInstant, coveredInstant, (a, b, c) => {
        expect(cal.workingDaysBetween(a, b)).to.equal(-cal.workingDaysBetween(b, a));
        expect(cal.workingDaysBetween(a, b) + cal.workingDaysBetween(b, c)).to.equal(cal.workingDaysBetween(a, c));
      }),
      { numRuns: 300 },
    );
  });
});
