// Reads a working-day calendar file, checks it against schemas/calendar.schema.json and builds the WorkingCalendar.
import { readFileSync } from 'node:fs';
import { GatewayError } from '../domain/errors.js';
import { describeErrors, validator } from '../config/schemas.js';
import { CalendarDataError, WorkingCalendar, type CalendarData } from './working-days.js';

/** The holiday lists of a calendar file already checked by loadCalendar. */
export function readCalendarFile(path: string): { years: number[]; holidays: string[]; workdays: string[] } {
  const d = JSON.parse(readFileSync(path, 'utf8')) as CalendarData;
  return { years: d.years, holidays: d.holidays, workdays: d.workdays };
}

/** Loads and validates a calendar file; throws CONFIG_INVALID naming the file, the JSON pointer and the reason. */
export function loadCalendar(path: string): WorkingCalendar {
  const invalid = (at: string, reason: string) => new GatewayError('CONFIG_INVALID', { file: path, path: at, reason });
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw invalid('/', `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw invalid('/', `is not JSON: ${(e as Error).message}`);
  }
  // The shared registry (every schema under schemas/, ajv-formats, strict mode) holds calendar.schema.json by its $id.
  const validate = validator<CalendarData & { source: string }>('calendar.schema.json');
  if (!validate(data)) {
    const p = describeErrors(validate.errors)[0]!;
    throw invalid(p.path, p.message);
  }
  try {
    return new WorkingCalendar(data);
  } catch (e) {
    // Cross-field rules the schema cannot express (dates inside the listed years, weekend workdays, no overlap).
    if (e instanceof CalendarDataError) throw invalid(e.path, e.reason);
    throw e;
  }
}
