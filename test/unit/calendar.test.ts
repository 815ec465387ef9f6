// Unit tests of the working-day calendar: worked deadline examples, fail-closed coverage, time-zone independence, loading.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../../src/domain/errors.js';
import { CONFIG_DIR } from '../../src/paths.js';
import { loadCalendar } from '../../src/calendar/load.js';
import {
  CalendarDataError,
  WorkingCalendar,
  endOfShanghaiDay,
  shanghaiDate,
  type CalendarData,
} from '../../src/calendar/working-days.js';

const CN_FILE = join(CONFIG_DIR, 'calendar', 'cn.json');
const cal = loadCalendar(CN_FILE);

/** Some instant on the given Shanghai date: `hh:mm` local Shanghai time, written out as a fixed +08:00 offset. */
const at = (date: string, time = '10:00') => new Date(`${date}T${time}:00+08:00`);
/** The expected dueAt: end of the Shanghai day, written as a hard-coded UTC instant (previous UTC day, 15:59:59.999). */
const endOf = (date: string) => endOfShanghaiDay(date).toISOString();
const due = (from: Date, n: number) => cal.addWorkingDays(from, n);

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an exception');
}

describe('calendar: Shanghai dates', () => {
  it('maps instants to the Shanghai date with fixed UTC+8', () => {
    expect(shanghaiDate(new Date('2025-09-25T15:59:59.999Z'))).to.equal('2025-09-25');
    expect(shanghaiDate(new Date('2025-09-25T16:00:00.000Z'))).to.equal('2025-09-26');
    expect(shanghaiDate(new Date('2024-12-31T16:00:00.000Z'))).to.equal('2025-01-01');
    expect(shanghaiDate(new Date('2024-02-28T16:00:00.000Z'))).to.equal('2024-02-29');
  });

  it('gives the last millisecond of a Shanghai day as a UTC instant', () => {
    expect(endOfShanghaiDay('2025-10-10').toISOString()).to.equal('2025-10-10T15:59:59.999Z');
    expect(endOfShanghaiDay('2024-02-29').toISOString()).to.equal('2024-02-29T15:59:59.999Z');
    expect(endOfShanghaiDay('2026-01-01').getTime() + 1).to.equal(Date.UTC(2026, 0, 1, 16)); // 00:00 on 2 January in Shanghai
  });

  it('rejects malformed and impossible dates and invalid instants', () => {
    for (const bad of ['2025-02-30', '2025-13-01', '2025-9-1', '20250901', '0050-01-01', '']) {
      expect(() => endOfShanghaiDay(bad), bad).to.throw(RangeError);
      expect(() => cal.covers(bad), bad).to.throw(RangeError);
    }
    expect(() => shanghaiDate(new Date(NaN))).to.throw(RangeError);
    expect(() => cal.addWorkingDays(new Date(NaN), 1)).to.throw(RangeError);
  });
});

describe('calendar: addWorkingDays worked examples', () => {
  it('2025 National Day: delivered Friday 26 September, 5 working days -> end of Friday 10 October', () => {
    // Sun 28 Sep is an adjusted working day, 1-8 Oct are holidays, Sat 11 Oct is an adjusted working day.
    for (const time of ['00:00', '08:00', '17:30', '23:59']) {
      expect(due(at('2025-09-26', time), 5)).to.deep.equal({ dueAt: new Date('2025-10-10T15:59:59.999Z'), provisional: false });
    }
    expect(due(new Date('2025-09-25T16:00:00.000Z'), 5).dueAt.toISOString()).to.equal('2025-10-10T15:59:59.999Z');
    expect(due(new Date('2025-09-26T15:59:59.999Z'), 5).dueAt.toISOString()).to.equal('2025-10-10T15:59:59.999Z');
    // One millisecond earlier is Thursday in Shanghai: Fri 26, Sun 28, Mon 29, Tue 30, Thu 9 Oct.
    expect(due(new Date('2025-09-25T15:59:59.999Z'), 5).dueAt.toISOString()).to.equal('2025-10-09T15:59:59.999Z');
    // Delivered on Saturday 27 (16:00Z Friday): Sun 28, Mon 29, Tue 30, Thu 9, Fri 10.
    expect(due(new Date('2025-09-26T16:00:00.000Z'), 5).dueAt.toISOString()).to.equal('2025-10-10T15:59:59.999Z');
  });

  it('extension: 3 more working days count from the end of the original due day', () => {
    const first = due(at('2025-09-26'), 5).dueAt;
    // Sat 11 Oct (adjusted working day), Mon 13, Tue 14.
    expect(due(first, 3).dueAt.toISOString()).to.equal('2025-10-14T15:59:59.999Z');
    expect(due(first, 3).dueAt.getTime()).to.equal(due(at('2025-09-26'), 8).dueAt.getTime());
    // Over the 2024 National Day: due Mon 30 Sep, extended over 1-7 Oct to Tue 8, Wed 9, Thu 10.
    expect(due(endOfShanghaiDay('2024-09-30'), 3).dueAt.toISOString()).to.equal(endOf('2024-10-10'));
  });

  it('the delivery day never counts, even on a working day at 08:00', () => {
    expect(due(at('2025-03-03', '08:00'), 1).dueAt.toISOString()).to.equal(endOf('2025-03-04'));
    expect(due(at('2025-03-07', '08:00'), 1).dueAt.toISOString()).to.equal(endOf('2025-03-10'));
    expect(due(at('2025-03-03', '08:00'), 0).dueAt.toISOString()).to.equal(endOf('2025-03-03'));
  });

  it('2024 Spring Festival (10-17 Feb off; Sun 4 and Sun 18 Feb worked; New Year\'s Eve 9 Feb was a working day)', () => {
    expect(due(at('2024-02-08'), 1).dueAt.toISOString()).to.equal(endOf('2024-02-09'));
    expect(due(at('2024-02-08'), 2).dueAt.toISOString()).to.equal(endOf('2024-02-18'));
    expect(due(at('2024-02-08'), 3).dueAt.toISOString()).to.equal(endOf('2024-02-19'));
    expect(due(at('2024-02-02'), 1).dueAt.toISOString()).to.equal(endOf('2024-02-04'));
  });

  it('2024 National Day (1-7 Oct off; Sun 29 Sep and Sat 12 Oct worked)', () => {
    expect(due(at('2024-09-27'), 1).dueAt.toISOString()).to.equal(endOf('2024-09-29'));
    expect(due(at('2024-09-27'), 2).dueAt.toISOString()).to.equal(endOf('2024-09-30'));
    expect(due(at('2024-09-27'), 3).dueAt.toISOString()).to.equal(endOf('2024-10-08'));
    expect(due(at('2024-09-27'), 7).dueAt.toISOString()).to.equal(endOf('2024-10-12'));
  });

  it('2024 other holidays: Qingming, Labour Day, Dragon Boat, Mid-Autumn', () => {
    expect(due(at('2024-04-03'), 1).dueAt.toISOString()).to.equal(endOf('2024-04-07')); // 4-6 Apr off, Sun 7 worked
    expect(due(at('2024-04-30'), 1).dueAt.toISOString()).to.equal(endOf('2024-05-06')); // 1-5 May off
    expect(due(at('2024-05-10'), 1).dueAt.toISOString()).to.equal(endOf('2024-05-11')); // Sat 11 May worked
    expect(due(at('2024-06-07'), 1).dueAt.toISOString()).to.equal(endOf('2024-06-11')); // Mon 10 Jun off
    expect(due(at('2024-09-13'), 1).dueAt.toISOString()).to.equal(endOf('2024-09-14')); // Sat 14 Sep worked
    expect(due(at('2024-09-13'), 2).dueAt.toISOString()).to.equal(endOf('2024-09-18')); // 15-17 Sep off
  });

  it('2025 Spring Festival, Labour Day and Dragon Boat', () => {
    expect(due(at('2025-01-24'), 1).dueAt.toISOString()).to.equal(endOf('2025-01-26')); // Sun 26 Jan worked
    expect(due(at('2025-01-24'), 3).dueAt.toISOString()).to.equal(endOf('2025-02-05')); // 28 Jan - 4 Feb off
    expect(due(at('2025-02-07'), 1).dueAt.toISOString()).to.equal(endOf('2025-02-08')); // Sat 8 Feb worked
    expect(due(at('2025-04-30'), 1).dueAt.toISOString()).to.equal(endOf('2025-05-06')); // 1-5 May off
    expect(due(at('2025-05-30'), 1).dueAt.toISOString()).to.equal(endOf('2025-06-03')); // 31 May - 2 Jun off
  });

  it('2026 Spring Festival (15-23 Feb off; Sat 14 and Sat 28 Feb worked)', () => {
    expect(due(at('2026-02-13'), 1).dueAt.toISOString()).to.equal(endOf('2026-02-14'));
    expect(due(at('2026-02-13'), 2).dueAt.toISOString()).to.equal(endOf('2026-02-24'));
    expect(due(at('2026-02-13'), 5).dueAt.toISOString()).to.equal(endOf('2026-02-27'));
    expect(due(at('2026-02-13'), 6).dueAt.toISOString()).to.equal(endOf('2026-02-28'));
  });

  it('2026 Mid-Autumn and National Day (25-27 Sep and 1-7 Oct off; Sun 20 Sep and Sat 10 Oct worked)', () => {
    expect(due(at('2026-09-18'), 1).dueAt.toISOString()).to.equal(endOf('2026-09-20'));
    expect(due(at('2026-09-24'), 1).dueAt.toISOString()).to.equal(endOf('2026-09-28'));
    expect(due(at('2026-09-30'), 1).dueAt.toISOString()).to.equal(endOf('2026-10-08'));
    expect(due(at('2026-09-30'), 3).dueAt.toISOString()).to.equal(endOf('2026-10-10'));
    expect(due(at('2026-09-30'), 4).dueAt.toISOString()).to.equal(endOf('2026-10-12'));
  });

  it('2026 New Year (1-3 Jan off; Sun 4 Jan worked)', () => {
    expect(due(at('2025-12-31'), 1).dueAt.toISOString()).to.equal(endOf('2026-01-04'));
    expect(due(at('2025-12-31'), 2).dueAt.toISOString()).to.equal(endOf('2026-01-05'));
  });

  it('rejects negative and fractional day counts', () => {
    expect(() => due(at('2025-03-03'), -1)).to.throw(RangeError);
    expect(() => due(at('2025-03-03'), 1.5)).to.throw(RangeError);
    expect(() => due(at('2025-03-03'), NaN)).to.throw(RangeError);
  });
});

describe('calendar: fail closed outside the covered years', () => {
  it('covers exactly the listed years', () => {
    expect(cal.years).to.include.members([2024, 2025, 2026]);
    expect(cal.covers('2024-01-01')).to.equal(true);
    expect(cal.covers('2026-12-31')).to.equal(true);
    expect(cal.covers('2023-12-31')).to.equal(false);
    expect(cal.covers('2027-01-01')).to.equal(false);
  });

  it('isWorkingDay answers for covered dates and throws CALENDAR_NOT_COVERED otherwise', () => {
    expect(cal.isWorkingDay('2025-09-28')).to.equal(true); // adjusted Sunday
    expect(cal.isWorkingDay('2025-09-27')).to.equal(false); // plain Saturday
    expect(cal.isWorkingDay('2025-10-08')).to.equal(false); // holiday on a Wednesday
    expect(cal.isWorkingDay('2025-10-09')).to.equal(true);
    const e = caught(() => cal.isWorkingDay('2027-01-04'));
    expect(e).to.be.instanceOf(GatewayError);
    expect((e as GatewayError).code).to.equal('CALENDAR_NOT_COVERED');
    expect((e as GatewayError).details).to.deep.equal({ date: '2027-01-04' });
  });

  it('a deadline running into an uncovered year is provisional, counted Monday-Friday there', () => {
    // Thu 31 Dec 2026 + 1: Fri 1 Jan 2027 is uncovered and counted as a weekday.
    expect(due(at('2026-12-31'), 1)).to.deep.equal({
      dueAt: new Date(endOf('2027-01-01')),
      provisional: true,
      uncoveredDate: '2027-01-01',
    });
    // Wed 30 Dec 2026 + 1 stays inside 2026.
    expect(due(at('2026-12-30'), 1)).to.deep.equal({ dueAt: new Date(endOf('2026-12-31')), provisional: false });
    // Fri 29 Dec 2023: Sat 30 and Sun 31 (uncovered weekend) skipped, Mon 1 Jan 2024 a holiday, Tue 2 Jan counts.
    expect(due(at('2023-12-29'), 1)).to.deep.equal({
      dueAt: new Date(endOf('2024-01-02')),
      provisional: true,
      uncoveredDate: '2023-12-30',
    });
    // Entirely uncovered: Mon 4 Jan 2027 + 5 -> Mon 11 Jan.
    expect(due(at('2027-01-04'), 5)).to.deep.equal({
      dueAt: new Date(endOf('2027-01-11')),
      provisional: true,
      uncoveredDate: '2027-01-05',
    });
  });

  it('an uncovered delivery day alone does not make a deadline provisional (it is never examined)', () => {
    expect(due(at('2023-12-31'), 1)).to.deep.equal({ dueAt: new Date(endOf('2024-01-02')), provisional: false });
  });

  it('a gap year inside the range is uncovered; covered years after it keep their holidays', () => {
    const gap = new WorkingCalendar({ version: 't', years: [2024, 2026], holidays: ['2026-01-01', '2026-01-02'], workdays: ['2026-01-04'] });
    expect(gap.covers('2025-06-01')).to.equal(false);
    expect(() => gap.isWorkingDay('2025-06-02')).to.throw(GatewayError);
    // Tue 30 and Wed 31 Dec 2025 (uncovered) count Mon-Fri, then 1-2 Jan 2026 off, Sat 3 off, Sun 4 Jan worked.
    expect(gap.addWorkingDays(at('2025-12-29'), 3)).to.deep.equal({
      dueAt: new Date(endOf('2026-01-04')),
      provisional: true,
      uncoveredDate: '2025-12-30',
    });
  });

  it('an empty calendar covers nothing and still answers provisionally', () => {
    const none = new WorkingCalendar({ version: 'none', years: [], holidays: [], workdays: [] });
    expect(none.covers('2025-01-01')).to.equal(false);
    const r = none.addWorkingDays(at('2025-09-26'), 5);
    expect(r).to.deep.equal({ dueAt: new Date(endOf('2025-10-03')), provisional: true, uncoveredDate: '2025-09-27' });
  });
});

describe('calendar: workingDaysBetween', () => {
  it('counts working days after the from-date up to and including the to-date', () => {
    const delivered = at('2025-09-26');
    const dueAt = due(delivered, 5).dueAt;
    expect(cal.workingDaysBetween(delivered, dueAt)).to.equal(5);
    expect(cal.workingDaysBetween(at('2025-09-30', '09:00'), dueAt)).to.equal(2); // Thu 9, Fri 10
    expect(cal.workingDaysBetween(at('2025-10-05'), dueAt)).to.equal(2);
    expect(cal.workingDaysBetween(at('2025-10-10', '00:01'), dueAt)).to.equal(0); // due today
    expect(cal.workingDaysBetween(at('2025-10-11'), dueAt)).to.equal(-1); // Sat 11 Oct is a working day
    expect(cal.workingDaysBetween(at('2025-10-13'), dueAt)).to.equal(-2);
    expect(cal.workingDaysBetween(at('2025-10-12'), at('2025-10-10'))).to.equal(-1); // only Sat 11 Oct is counted
    expect(Object.is(cal.workingDaysBetween(at('2025-10-05'), at('2025-10-04')), 0)).to.equal(true); // not -0
  });

  it('throws CALENDAR_NOT_COVERED naming the first uncovered date in the span', () => {
    const e = caught(() => cal.workingDaysBetween(at('2026-12-30'), at('2027-01-05')));
    expect((e as GatewayError).code).to.equal('CALENDAR_NOT_COVERED');
    expect((e as GatewayError).details).to.deep.equal({ date: '2027-01-01' });
    const e2 = caught(() => cal.workingDaysBetween(at('2024-01-03'), at('2023-12-20')));
    expect((e2 as GatewayError).details).to.deep.equal({ date: '2023-12-21' });
    expect(cal.workingDaysBetween(at('2023-12-31'), at('2024-01-02'))).to.equal(1);
  });
});

describe('calendar: independent of the process time zone', () => {
  const zones = ['UTC', 'America/New_York', 'Asia/Shanghai', 'Pacific/Kiritimati', 'Pacific/Pago_Pago', 'Europe/London'];
  const original = process.env.TZ;
  afterEach(() => {
    if (original === undefined) delete process.env.TZ;
    else process.env.TZ = original;
  });

  it('gives the same hard-coded UTC instants under several TZ settings', () => {
    const offsets = new Set<number>();
    for (const tz of zones) {
      // Node re-reads TZ when it is assigned, so local-time Date methods change within the process.
      process.env.TZ = tz;
      offsets.add(new Date(Date.UTC(2025, 0, 15)).getTimezoneOffset());
      expect(due(new Date('2025-09-25T16:00:00.000Z'), 5).dueAt.toISOString(), tz).to.equal('2025-10-10T15:59:59.999Z');
      expect(due(new Date('2025-09-26T15:59:59.999Z'), 5).dueAt.toISOString(), tz).to.equal('2025-10-10T15:59:59.999Z');
      expect(due(new Date('2025-09-25T15:59:59.999Z'), 5).dueAt.toISOString(), tz).to.equal('2025-10-09T15:59:59.999Z');
      expect(due(new Date('2026-02-13T02:00:00.000Z'), 2).dueAt.toISOString(), tz).to.equal('2026-02-24T15:59:59.999Z');
      expect(due(new Date('2025-10-10T15:59:59.999Z'), 3).dueAt.toISOString(), tz).to.equal('2025-10-14T15:59:59.999Z');
      expect(shanghaiDate(new Date('2025-03-08T20:00:00.000Z')), tz).to.equal('2025-03-09');
      expect(endOfShanghaiDay('2025-03-09').toISOString(), tz).to.equal('2025-03-09T15:59:59.999Z');
      expect(cal.workingDaysBetween(new Date('2025-09-26T02:00:00Z'), new Date('2025-10-10T15:59:59.999Z')), tz).to.equal(5);
    }
    // Guards against a runtime that ignores TZ changes, which would make this test vacuous.
    expect(offsets.size).to.be.greaterThan(3);
  });

  it('gives the same results across a New York DST change (8-9 March 2025)', () => {
    process.env.TZ = 'America/New_York';
    // 2025-03-09T07:00Z is 03:00 EDT right after the switch and 15:00 on Sunday 9 March in Shanghai.
    expect(shanghaiDate(new Date('2025-03-09T07:00:00Z'))).to.equal('2025-03-09');
    expect(due(new Date('2025-03-09T07:00:00Z'), 1).dueAt.toISOString()).to.equal('2025-03-10T15:59:59.999Z');
    expect(due(new Date('2025-03-08T15:30:00Z'), 1).dueAt.toISOString()).to.equal('2025-03-10T15:59:59.999Z');
  });
});

describe('calendar: data checks and loading', () => {
  const base: CalendarData = { version: 't', years: [2025], holidays: ['2025-10-01'], workdays: ['2025-09-28'] };
  const problem = (data: unknown): CalendarDataError => {
    const e = caught(() => new WorkingCalendar(data as CalendarData));
    expect(e).to.be.instanceOf(CalendarDataError);
    return e as CalendarDataError;
  };

  it('rejects inconsistent calendar data with the offending JSON pointer', () => {
    expect(problem({ ...base, version: '' }).path).to.equal('/version');
    expect(problem({ ...base, years: [2025, 2025] }).path).to.equal('/years/1');
    expect(problem({ ...base, years: [1990] }).path).to.equal('/years/0');
    expect(problem({ ...base, years: [2025.5] }).path).to.equal('/years/0');
    expect(problem({ ...base, holidays: ['2025-10-01', '2026-01-01'] }).path).to.equal('/holidays/1');
    expect(problem({ ...base, holidays: ['2025-10-01', '2025-10-01'] }).path).to.equal('/holidays/1');
    expect(problem({ ...base, holidays: ['2025-02-30'] }).path).to.equal('/holidays/0');
    expect(problem({ ...base, workdays: ['2025-09-29'] }).reason).to.match(/not a Saturday or Sunday/);
    expect(problem({ ...base, holidays: ['2025-09-28'] }).path).to.equal('/workdays/0');
    expect(problem({ ...base, workdays: undefined }).path).to.equal('/workdays');
  });

  it('loads config/calendar/cn.json with its version', () => {
    expect(cal.version).to.match(/^cn-\d{4}\.\d+$/);
    expect(cal).to.be.instanceOf(WorkingCalendar);
  });

  describe('loadCalendar errors', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'pag-calendar-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const loadText = (text: string): GatewayError => {
      const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, text);
      const e = caught(() => loadCalendar(file));
      expect(e).to.be.instanceOf(GatewayError);
      expect((e as GatewayError).code).to.equal('CONFIG_INVALID');
      expect((e as GatewayError).details.file).to.equal(file);
      return e as GatewayError;
    };
    const good = { version: 'cn-test.1', source: 'test', years: [2025], holidays: ['2025-10-01'], workdays: ['2025-09-28'] };

    it('accepts a valid file', () => {
      const file = join(dir, 'good.json');
      writeFileSync(file, JSON.stringify(good));
      expect(loadCalendar(file).version).to.equal('cn-test.1');
    });

    it('reports unreadable files, non-JSON, schema violations and cross-field defects', () => {
      const missing = caught(() => loadCalendar(join(dir, 'missing.json'))) as GatewayError;
      expect(missing.code).to.equal('CONFIG_INVALID');
      expect(missing.details.path).to.equal('/');
      expect(loadText('{ not json').details.path).to.equal('/');
      const { version: _v, ...noVersion } = good;
      expect(loadText(JSON.stringify(noVersion)).details.path).to.equal('/version');
      expect(loadText(JSON.stringify({ ...good, extra: 1 })).details.path).to.equal('/extra');
      expect(loadText(JSON.stringify({ ...good, holidays: ['2025-10-32'] })).details.path).to.equal('/holidays/0');
      expect(loadText(JSON.stringify({ ...good, years: [1985] })).details.path).to.equal('/years/0');
      const weekday = loadText(JSON.stringify({ ...good, workdays: ['2025-09-29'] }));
      expect(weekday.details.path).to.equal('/workdays/0');
      expect(weekday.message).to.match(/not a Saturday or Sunday/);
      expect(loadText(JSON.stringify({ ...good, holidays: ['2026-01-01'] })).details.path).to.equal('/holidays/0');
    });
  });
});

describe('calendar: speed', () => {
  it('computes 100 000 deadlines of 20 working days well within a second', () => {
    const start = Date.UTC(2024, 0, 1);
    const t0 = process.hrtime.bigint();
    let sink = 0;
    for (let i = 0; i < 100_000; i++) sink ^= cal.addWorkingDays(new Date(start + i * 600_000), 20).dueAt.getTime() & 1;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(sink).to.be.oneOf([0, 1]);
    expect(ms).to.be.lessThan(1000);
  });
});
