// The calendar table: seeded from the versioned calendar file, edited by administrators, versioned on every change.
import { GatewayError } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import { appendEvents } from '../store/case-repo.js';
import type { Db, Sql } from '../store/sql.js';
import { CalendarDataError, WorkingCalendar, type CalendarData } from './working-days.js';

/** A day's kind as an administrator sets it; `normal` removes an override (weekday works, weekend rests). */
export type DayKind = 'holiday' | 'workday' | 'normal';

async function read(sql: Sql | Db): Promise<CalendarData> {
  const version = (await sql.get<{ value: string }>("SELECT value FROM settings WHERE key = 'calendar_version'"))?.value ?? 'empty';
  const years = (await sql.all<{ year: number }>('SELECT year FROM calendar_years ORDER BY year')).map((r) => Number(r.year));
  const days = await sql.all<{ day: string; kind: string }>('SELECT day, kind FROM calendar_days ORDER BY day');
  return { version, years, holidays: days.filter((d) => d.kind === 'holiday').map((d) => d.day), workdays: days.filter((d) => d.kind === 'workday').map((d) => d.day) };
}

/**
 * Puts the file's years into the table once. Years already in the table are left as administrators keep them;
 * a newer file adds only the years the table does not have yet.
 */
export async function seedCalendar(db: Db, file: CalendarData): Promise<void> {
  await db.tx(async (sql) => {
    if (sql.dialect === 'postgres') await sql.run('SELECT pg_advisory_xact_lock(7720003)');
    const have = new Set((await sql.all<{ year: number }>('SELECT year FROM calendar_years')).map((r) => Number(r.year)));
    const missing = file.years.filter((y) => !have.has(y));
    if (missing.length === 0) return;
    for (const y of missing) {
      await sql.run('INSERT INTO calendar_years (year) VALUES ($1)', [y]);
      for (const [kind, list] of [['holiday', file.holidays], ['workday', file.workdays]] as const) {
        for (const day of list.filter((d) => d.startsWith(`${y}-`))) {
          await sql.run('INSERT INTO calendar_days (day, kind, source) VALUES ($1, $2, $3)', [day, kind, `file:${file.version}`]);
        }
      }
    }
    const version = have.size === 0 ? file.version : `${(await read(sql)).version}+${file.version}`;
    await sql.run("INSERT INTO settings (key, value) VALUES ('calendar_version', $1) ON CONFLICT (key) DO UPDATE SET value = $1", [version]);
  });
}

export async function loadCalendarFromDb(db: Db): Promise<WorkingCalendar> {
  return new WorkingCalendar(await read(db));
}

export async function calendarVersion(db: Db): Promise<string> {
  return (await db.get<{ value: string }>("SELECT value FROM settings WHERE key = 'calendar_version'"))?.value ?? 'empty';
}

function nextVersion(v: string): string {
  const m = /^(.*)\.edit(\d+)$/.exec(v);
  return m ? `${m[1]}.edit${Number(m[2]) + 1}` : `${v}.edit1`;
}

/** Checks a change by building the calendar it would give; refuses it with the reason if that calendar is invalid. */
function checked(data: CalendarData): WorkingCalendar {
  try {
    return new WorkingCalendar(data);
  } catch (e) {
    if (e instanceof CalendarDataError) throw new GatewayError('VALIDATION_FAILED', { summary: e.reason }, { errors: [{ path: e.path, code: 'calendar', message: e.reason }] });
    throw e;
  }
}

/** Sets one day's kind in a covered year (a holiday moved by a new notice, an adjusted working weekend). */
export async function setDay(db: Db, day: string, kind: DayKind, actor: Actor, now: number): Promise<WorkingCalendar> {
  return db.tx(async (sql) => {
    const cur = await read(sql);
    const next: CalendarData = {
      version: nextVersion(cur.version),
      years: cur.years,
      holidays: cur.holidays.filter((d) => d !== day).concat(kind === 'holiday' ? [day] : []),
      workdays: cur.workdays.filter((d) => d !== day).concat(kind === 'workday' ? [day] : []),
    };
    if (!cur.years.includes(Number(day.slice(0, 4)))) throw new GatewayError('CALENDAR_NOT_COVERED', { date: day });
    const cal = checked(next);
    await sql.run('DELETE FROM calendar_days WHERE day = $1', [day]);
    if (kind !== 'normal') await sql.run('INSERT INTO calendar_days (day, kind, source, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5)', [day, kind, 'admin', actor.id, now]);
    await sql.run("UPDATE settings SET value = $1 WHERE key = 'calendar_version'", [next.version]);
    await appendEvents(sql, null, now, actor, [{ action: 'calendar.day_set', data: { day, kind, version: next.version } }]);
    return cal;
  });
}

/** Adds (or replaces) a whole year from its State Council notice: every holiday and adjusted working day of that year. */
export async function setYear(db: Db, year: number, holidays: string[], workdays: string[], actor: Actor, now: number): Promise<WorkingCalendar> {
  return db.tx(async (sql) => {
    const cur = await read(sql);
    const other = (d: string) => !d.startsWith(`${year}-`);
    const next: CalendarData = {
      version: nextVersion(cur.version),
      years: [...new Set([...cur.years, year])],
      holidays: cur.holidays.filter(other).concat(holidays),
      workdays: cur.workdays.filter(other).concat(workdays),
    };
    const stray = [...holidays, ...workdays].find((d) => !d.startsWith(`${year}-`));
    if (stray) throw new GatewayError('VALIDATION_FAILED', { summary: `${stray} is not in ${year}` });
    const cal = checked(next);
    await sql.run('DELETE FROM calendar_days WHERE day >= $1 AND day <= $2', [`${year}-01-01`, `${year}-12-31`]);
    await sql.run('INSERT INTO calendar_years (year) VALUES ($1) ON CONFLICT (year) DO NOTHING', [year]);
    for (const [kind, list] of [['holiday', holidays], ['workday', workdays]] as const) {
      for (const day of list) await sql.run('INSERT INTO calendar_days (day, kind, source, changed_by, changed_at) VALUES ($1, $2, $3, $4, $5)', [day, kind, 'admin', actor.id, now]);
    }
    await sql.run("UPDATE settings SET value = $1 WHERE key = 'calendar_version'", [next.version]);
    await appendEvents(sql, null, now, actor, [{ action: 'calendar.year_set', data: { year, holidays: holidays.length, workdays: workdays.length, version: next.version } }]);
    return cal;
  });
}

/** The calendar as administrators see it. */
export async function calendarView(db: Db): Promise<CalendarData & { edits: { day: string; kind: string; changedBy: string | null; changedAt: string | null }[] }> {
  const data = await read(db);
  const edits = await db.all<{ day: string; kind: string; changed_by: string | null; changed_at: number | null }>(
    "SELECT day, kind, changed_by, changed_at FROM calendar_days WHERE source = 'admin' ORDER BY day",
  );
  return { ...data, edits: edits.map((e) => ({ day: e.day, kind: e.kind, changedBy: e.changed_by, changedAt: e.changed_at ? new Date(Number(e.changed_at)).toISOString() : null })) };
}
