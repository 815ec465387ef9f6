// Enterprises known from the provincial pull: the filtered, keyset-paged list and one enterprise with its applied changes.
import { narrowArea, type EnterpriseFilter } from '../domain/enterprise-filter.js';
import { STATUS_AFTER, type ChangeKind } from '../domain/province-change.js';
import { Conditions, type Sql } from '../store/sql.js';

/** An enterprise as the API shows it: its newest applied change, and when the gateway first saw it. */
export interface EnterpriseView {
  creditCode: string;
  name: string;
  divisionCode: string;
  status: string;
  version: number;
  lastKind: string;
  occurredAt: string;
  warning: string | null;
  firstSeenAt: string;
}

/** One applied change of an enterprise's history. */
export interface ChangeView {
  changeId: string;
  seq: number;
  kind: string;
  status: string;
  version: number;
  name: string;
  divisionCode: string;
  occurredAt: string;
  warning: string | null;
  receivedAt: string;
}

/** At most this many changes of one enterprise are shown, newest first. */
export const HISTORY_LIMIT = 100;

const iso = (ms: unknown) => new Date(Number(ms)).toISOString();
// first_seen_at by a subquery, not a join: joined, PostgreSQL walked every enterprise in credit-code order to merge
// them with the few rows of a small area.
const SELECT = `SELECT s.credit_code, s.name, s.division_code, s.status, s.version, s.last_kind, s.occurred_at, s.warning,
    (SELECT e.first_seen_at FROM enterprises e WHERE e.credit_code = s.credit_code) AS first_seen_at
  FROM enterprise_status s`;

function view(r: Record<string, unknown>): EnterpriseView {
  return {
    creditCode: String(r.credit_code), name: String(r.name), divisionCode: String(r.division_code), status: String(r.status), version: Number(r.version),
    lastKind: String(r.last_kind), occurredAt: iso(r.occurred_at), warning: (r.warning as string | null) ?? null, firstSeenAt: iso(r.first_seen_at),
  };
}

/** Division codes are six digits, so an area's prefix is a range of them, which an index can serve in both dialects (LIKE cannot). */
function inPrefix(c: Conditions, prefix: string): void {
  c.add('s.division_code >= ?', prefix.padEnd(6, '0')).add('s.division_code <= ?', prefix.padEnd(6, '9'));
}

/** The enterprises a viewer of `scope` (see viewerScope) may see that match the filter, in credit-code order, one page of them. */
export async function listEnterprises(db: Sql, f: EnterpriseFilter, scope: string | null | 'none'): Promise<{ enterprises: EnterpriseView[]; next: string | null }> {
  const area = scope === 'none' ? 'none' : narrowArea(scope, f.divisionPrefix);
  if (area === 'none') return { enterprises: [], next: null };
  const c = new Conditions();
  if (area !== null) inPrefix(c, area);
  if (f.status !== null) c.add('s.status = ?', f.status);
  // instr/strpos rather than LIKE: the same case-sensitive match in both dialects, with no wildcard to escape.
  if (f.q !== null) c.add(db.dialect === 'postgres' ? 'strpos(s.name, ?) > 0' : 'instr(s.name, ?) > 0', f.q);
  if (f.after !== null) c.add('s.credit_code > ?', f.after);
  // One more than the page: whether another page follows, without counting.
  const rows = await db.all(`${SELECT} ${c.where} ORDER BY s.credit_code ${c.limit(f.limit + 1, f.limit + 1)}`, c.params);
  const page = rows.slice(0, f.limit).map(view);
  return { enterprises: page, next: rows.length > f.limit ? page[page.length - 1]!.creditCode : null };
}

/** One enterprise with its applied changes, newest first; null when unknown or outside the viewer's scope (alike). */
export async function getEnterprise(db: Sql, creditCode: string, scope: string | null | 'none'): Promise<(EnterpriseView & { history: ChangeView[]; historyTruncated: boolean }) | null> {
  if (scope === 'none') return null;
  const row = await db.get(`${SELECT} WHERE s.credit_code = $1`, [creditCode]);
  if (!row || (scope !== null && !String(row.division_code).startsWith(scope))) return null;
  const changes = await db.all(
    `SELECT id, seq, kind, version, name, division_code, occurred_at, warning, received_at FROM province_changes
      WHERE credit_code = $1 AND outcome = 'applied' ORDER BY version DESC LIMIT $2`,
    [creditCode, HISTORY_LIMIT + 1],
  );
  const history = changes.slice(0, HISTORY_LIMIT).map((r) => ({
    changeId: String(r.id), seq: Number(r.seq), kind: String(r.kind), status: STATUS_AFTER[r.kind as ChangeKind] ?? String(r.kind), version: Number(r.version),
    name: String(r.name), divisionCode: String(r.division_code), occurredAt: iso(r.occurred_at), warning: (r.warning as string | null) ?? null, receivedAt: iso(r.received_at),
  }));
  return { ...view(row), history, historyTruncated: changes.length > HISTORY_LIMIT };
}
