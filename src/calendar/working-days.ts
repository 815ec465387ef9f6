// Working-day arithmetic over a versioned holiday calendar, in Asia/Shanghai dates: pure, no I/O, independent of the process TZ.
import { GatewayError } from '../domain/errors.js';

/** Calendar data as stored in config/calendar/*.json (the file's `source` field is not needed here). */
export interface CalendarData {
  version: string;
  years: number[];
  holidays: string[];
  workdays: string[];
}

/** A deadline: the end of its last working day; `provisional` when a day it depends on lies outside the calendar. */
export interface DueDate {
  dueAt: Date;
  provisional: boolean;
  /** The first examined date that the calendar does not cover; present only when provisional. */
  uncoveredDate?: string;
}

/** A defect in calendar data; `path` is the JSON pointer of the offending field. */
export class CalendarDataError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`calendar data ${path}: ${reason}`);
    this.name = 'CalendarDataError';
  }
}

const DAY_MS = 86_400_000;
// Asia/Shanghai has been UTC+8 without DST since 1991 (calendar years start at 1991 for that reason). A fixed offset
// on epoch milliseconds is exact there, costs one addition on the hot path (Intl.DateTimeFormat is orders of
// magnitude slower and depends on the runtime's ICU time-zone data), and never reads the process TZ, so the result
// is the same on a server set to America/New_York.
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

// Day kinds in the index; 0 doubles as "outside the index" so uncovered is the default.
const UNCOVERED = 0;
const WORKING = 1;
const RESTING = 2;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a YYYY-MM-DD date; RangeError if malformed or not a real date. */
function parseDay(date: string): number {
  const m = typeof date === 'string' ? DATE_RE.exec(date) : null;
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]) - 1;
    const d = Number(m[3]);
    const ms = Date.UTC(y, mo, d);
    // The round trip rejects 2025-02-30 and years 0000-0099, which Date.UTC would silently shift.
    const back = new Date(ms);
    if (back.getUTCFullYear() === y && back.getUTCMonth() === mo && back.getUTCDate() === d) return ms / DAY_MS;
  }
  throw new RangeError(`not a calendar date (YYYY-MM-DD): ${JSON.stringify(date)}`);
}

function formatDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** Days since 1970-01-01 of the Shanghai calendar date of an instant. */
function shanghaiDay(instant: Date): number {
  const ms = instant instanceof Date ? instant.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new RangeError('not a valid Date');
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
}

function endOfDay(day: number): Date {
  return new Date((day + 1) * DAY_MS - SHANGHAI_OFFSET_MS - 1);
}

// 1970-01-01 was a Thursday (4); the double modulo keeps days before 1970 non-negative.
function isWeekend(day: number): boolean {
  const dow = (((day + 4) % 7) + 7) % 7;
  return dow === 0 || dow === 6;
}

/** The Asia/Shanghai calendar date (YYYY-MM-DD) of an instant. */
export function shanghaiDate(instant: Date): string {
  return formatDay(shanghaiDay(instant));
}

/** The last millisecond of a date in Asia/Shanghai: 24:00 Shanghai minus 1 ms. */
export function endOfShanghaiDay(date: string): Date {
  return endOfDay(parseDay(date));
}

/** The working-day calendar: which Shanghai dates are working days, and deadline arithmetic over them. */
export class WorkingCalendar {
  readonly version: string;
  /** Years fully covered, ascending. */
  readonly years: readonly number[];
  // One byte per day from 1 January of the first year to 31 December of the last, so each step of the deadline
  // loop is an array read; gap years stay UNCOVERED.
  private readonly first: number;
  private readonly kinds: Uint8Array;
  // Prefix sums over `kinds` (entry i counts days before index i) make workingDaysBetween O(1).
  private readonly workingBefore: Int32Array;
  private readonly uncoveredBefore: Int32Array;

  constructor(data: CalendarData) {
    if (typeof data?.version !== 'string' || data.version === '') throw new CalendarDataError('/version', 'must be a non-empty string');
    this.version = data.version;

    if (!Array.isArray(data.years)) throw new CalendarDataError('/years', 'must be an array');
    const seen = new Set<number>();
    data.years.forEach((y, i) => {
      if (!Number.isInteger(y) || y < 1991 || y > 9999) throw new CalendarDataError(`/years/${i}`, 'must be a year from 1991 to 9999');
      if (seen.has(y)) throw new CalendarDataError(`/years/${i}`, `duplicate year ${y}`);
      seen.add(y);
    });
    const years = [...seen].sort((a, b) => a - b);
    this.years = Object.freeze(years);

    this.first = years.length ? parseDay(`${years[0]}-01-01`) : 0;
    const last = years.length ? parseDay(`${years[years.length - 1]}-12-31`) : -1;
    const kinds = new Uint8Array(last - this.first + 1);
    for (const y of years) {
      const end = parseDay(`${y}-12-31`);
      for (let d = parseDay(`${y}-01-01`); d <= end; d++) kinds[d - this.first] = isWeekend(d) ? RESTING : WORKING;
    }
    const kindAt = (d: number) => (d >= this.first && d <= last ? kinds[d - this.first]! : UNCOVERED);

    const listed = (key: 'holidays' | 'workdays'): number[] => {
      const list: unknown = data[key];
      if (!Array.isArray(list)) throw new CalendarDataError(`/${key}`, 'must be an array');
      const days = new Set<number>();
      return list.map((s: unknown, i) => {
        let d: number;
        try {
          d = parseDay(s as string);
        } catch (e) {
          throw new CalendarDataError(`/${key}/${i}`, (e as Error).message);
        }
        // A date outside the covered years would be ignored by the lookups, hiding a mistake in `years`.
        if (kindAt(d) === UNCOVERED) throw new CalendarDataError(`/${key}/${i}`, `${String(s)} is outside the covered years`);
        if (days.has(d)) throw new CalendarDataError(`/${key}/${i}`, `duplicate date ${String(s)}`);
        days.add(d);
        return d;
      });
    };
    const holidays = listed('holidays');
    const workdays = listed('workdays');
    const holidaySet = new Set(holidays);
    workdays.forEach((d, i) => {
      // Adjusted working days are by definition weekend days made into working days; anything else is a data error.
      if (!isWeekend(d)) throw new CalendarDataError(`/workdays/${i}`, `${formatDay(d)} is not a Saturday or Sunday`);
      if (holidaySet.has(d)) throw new CalendarDataError(`/workdays/${i}`, `${formatDay(d)} is also listed as a holiday`);
    });
    for (const d of holidays) kinds[d - this.first] = RESTING;
    for (const d of workdays) kinds[d - this.first] = WORKING;
    this.kinds = kinds;

    this.workingBefore = new Int32Array(kinds.length + 1);
    this.uncoveredBefore = new Int32Array(kinds.length + 1);
    for (let i = 0; i < kinds.length; i++) {
      this.workingBefore[i + 1] = this.workingBefore[i]! + (kinds[i] === WORKING ? 1 : 0);
      this.uncoveredBefore[i + 1] = this.uncoveredBefore[i]! + (kinds[i] === UNCOVERED ? 1 : 0);
    }
  }

  private kindOf(day: number): number {
    const i = day - this.first;
    return i >= 0 && i < this.kinds.length ? this.kinds[i]! : UNCOVERED;
  }

  /** Whether the calendar covers a YYYY-MM-DD date (its year is listed). */
  covers(date: string): boolean {
    return this.kindOf(parseDay(date)) !== UNCOVERED;
  }

  /** Whether a YYYY-MM-DD date is a working day; throws CALENDAR_NOT_COVERED outside the covered years. */
  isWorkingDay(date: string): boolean {
    const kind = this.kindOf(parseDay(date));
    if (kind === UNCOVERED) throw new GatewayError('CALENDAR_NOT_COVERED', { date });
    return kind === WORKING;
  }

  /**
   * The end (23:59:59.999 Asia/Shanghai) of the nth working day after the Shanghai date of `fromInstant`; that date
   * itself never counts, whatever the time. Passing a previous dueAt therefore extends from the end of its due day.
   * n = 0 gives the end of the delivery day. Days outside the covered years are counted Monday to Friday and make the
   * result provisional, naming the first of them; covered days keep their calendar meaning even after a gap.
   */
  addWorkingDays(fromInstant: Date, n: number): DueDate {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`working days must be a non-negative integer, not ${n}`);
    const kinds = this.kinds;
    const first = this.first;
    const size = kinds.length;
    let day = shanghaiDay(fromInstant);
    let left = n;
    let uncovered: number | null = null;
    while (left > 0) {
      day++;
      const i = day - first;
      const kind = i >= 0 && i < size ? kinds[i] : UNCOVERED;
      if (kind === WORKING) left--;
      else if (kind === UNCOVERED) {
        if (uncovered === null) uncovered = day;
        if (!isWeekend(day)) left--;
      }
    }
    const dueAt = endOfDay(day);
    return uncovered === null ? { dueAt, provisional: false } : { dueAt, provisional: true, uncoveredDate: formatDay(uncovered) };
  }

  /**
   * Working days remaining for a countdown: the number of working days after the Shanghai date of `from` up to and
   * including the Shanghai date of `to`. 0 when both fall on the same date ("due today"); negative, by the same count
   * with the arguments swapped, when `to` is on an earlier date. So workingDaysBetween(t, addWorkingDays(t, n).dueAt)
   * is n. Whether a deadline has passed is a comparison of instants, not of this count. Throws CALENDAR_NOT_COVERED
   * naming the first uncovered date in the counted span, since a countdown must not guess.
   */
  workingDaysBetween(from: Date, to: Date): number {
    const a = shanghaiDay(from);
    const b = shanghaiDay(to);
    if (a === b) return 0;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    // Counted span: days lo+1 .. hi, as index range [i0, i1).
    const i0 = lo + 1 - this.first;
    const i1 = hi + 1 - this.first;
    if (i0 < 0 || i1 > this.kinds.length || this.uncoveredBefore[i1]! - this.uncoveredBefore[i0]! > 0) {
      let d = lo + 1;
      while (this.kindOf(d) !== UNCOVERED) d++;
      throw new GatewayError('CALENDAR_NOT_COVERED', { date: formatDay(d) });
    }
    const count = this.workingBefore[i1]! - this.workingBefore[i0]!;
    // `0 - 0` would be -0, which deep equality tells apart from 0.
    return a < b || count === 0 ? count : -count;
  }
}
