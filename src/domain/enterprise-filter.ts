// Filters of the enterprise list (GET /api/enterprises) and the reviewer's area: pure parsing and scoping, no SQL.
import { fail } from './errors.js';
import { STATUS_AFTER } from './province-change.js';
import { areaPrefix } from './province-subscription.js';
import { USCC_ALPHABET } from './uscc.js';

/** The statuses an enterprise can be in: what its newest applied change leaves behind. */
export const ENTERPRISE_STATUSES: readonly string[] = [...new Set(Object.values(STATUS_AFTER))];

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;
const FIELDS = ['division', 'status', 'q', 'limit', 'after'] as const;
const MAX_Q = 100;

/** A parsed filter: `divisionPrefix` is the prefix of division codes an area covers (see areaPrefix). */
export interface EnterpriseFilter {
  divisionPrefix: string | null;
  status: string | null;
  q: string | null;
  limit: number;
  /** Keyset cursor: only enterprises whose credit code sorts after this one. */
  after: string | null;
}

const CODE = new RegExp(`^(?:[${USCC_ALPHABET}]{18}|[0-9]{15})$`);

/**
 * The credit code as stored (ASCII letters upper-cased), or null when it cannot be one: 18 characters of the credit-code
 * alphabet, or an old 15-digit registration number. Check characters are not judged, since the province's legacy codes
 * with a wrong one are stored too.
 */
export function creditCodeKey(s: string): string | null {
  const up = s.replace(/[a-z]/g, (c) => c.toUpperCase());
  return CODE.test(up) ? up : null;
}

const refuse = (field: string, reason: string): never => fail('INVALID_ENTERPRISE_FILTER', { field, reason });

/** Reads the query string of the enterprise list; every refusal is INVALID_ENTERPRISE_FILTER naming the field. */
export function parseEnterpriseFilter(query: Record<string, unknown>): EnterpriseFilter {
  // A misspelt filter would silently widen the list; refuse it instead.
  const unknown = Object.keys(query).find((k) => !(FIELDS as readonly string[]).includes(k));
  if (unknown !== undefined) refuse(unknown.slice(0, 40), `not a filter (${FIELDS.join(', ')})`);
  const str = (field: (typeof FIELDS)[number]): string | null => {
    const v = query[field];
    if (v === undefined || v === '') return null;
    if (typeof v !== 'string') return refuse(field, 'give it once, as text');
    return v;
  };
  const division = str('division');
  if (division !== null && !/^[0-9]{6}$/.test(division)) refuse('division', 'a 6-digit division code (a district, or a city or province ending in 00)');
  const status = str('status');
  if (status !== null && !ENTERPRISE_STATUSES.includes(status)) refuse('status', `one of ${ENTERPRISE_STATUSES.join(', ')}`);
  const q = str('q');
  if (q !== null && [...q].length > MAX_Q) refuse('q', `at most ${MAX_Q} characters`);
  const limitS = str('limit');
  if (limitS !== null && (!/^[0-9]{1,3}$/.test(limitS) || Number(limitS) < 1 || Number(limitS) > MAX_LIMIT)) refuse('limit', `a whole number from 1 to ${MAX_LIMIT}`);
  const afterS = str('after');
  const after = afterS === null ? null : creditCodeKey(afterS);
  if (afterS !== null && after === null) refuse('after', 'the credit code of the last enterprise of the previous page (the answer\'s next)');
  return { divisionPrefix: division === null ? null : areaPrefix(division), status, q, limit: limitS === null ? DEFAULT_LIMIT : Number(limitS), after };
}

/**
 * The prefix of division codes both a viewer's scope and an asked area cover, or `'none'` when they do not overlap. Areas
 * nest (province, city, district), so two overlap only when one prefix starts the other, and the longer one is the overlap.
 * `scope` null means the viewer sees everything.
 */
export function narrowArea(scope: string | null, asked: string | null): string | null | 'none' {
  if (scope === null) return asked;
  if (asked === null) return scope;
  if (asked.startsWith(scope)) return asked;
  if (scope.startsWith(asked)) return scope;
  return 'none';
}

/**
 * The prefix of division codes a viewer may see: everything (null) for the bureau, supervisors and administrators; a
 * reviewer their department's area (a district itself, a city its districts); nothing when their department is unknown.
 */
export function viewerScope(role: string, departmentDivision: string | undefined): string | null | 'none' {
  if (role !== 'reviewer') return null;
  return departmentDivision !== undefined && /^[0-9]{6}$/.test(departmentDivision) ? areaPrefix(departmentDivision) : 'none';
}
