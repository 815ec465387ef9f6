// Complaints as stored: filed, answered, resolved or reopened under the case's lock, each step an event on the case's timeline.
import { randomUUID } from 'node:crypto';
import type { Hub } from '../bus/hub.js';
import type { Clock } from '../clock.js';
import type { GatewayConfig } from '../config/load.js';
import * as cp from '../domain/complaint.js';
import { fail } from '../domain/errors.js';
import type { Actor, Case } from '../domain/types.js';
import type { AddWorkingDays } from '../domain/workflow.js';
import { lockedCase, writeChanges } from '../store/case-repo.js';
import { Conditions, type Db, type Sql } from '../store/sql.js';

/** Working days a department has to answer a complaint, unless the configuration says otherwise. */
export const DEFAULT_COMPLAINT_DAYS = 5;

interface ComplaintRow {
  id: string;
  case_id: string;
  department_id: string;
  text: string;
  contact: string;
  state: cp.ComplaintState;
  filed_by: string;
  filed_at: number | string;
  due_at: number | string;
  due_provisional: number;
  response: string | null;
  answered_by: string | null;
  answered_at: number | string | null;
  answered_late: number;
  resolved_by: string | null;
  resolved_at: number | string | null;
  reopened: number;
  version: number;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toComplaint(r: ComplaintRow): cp.Complaint {
  return {
    id: r.id, caseId: r.case_id, departmentId: r.department_id, text: r.text, contact: r.contact, state: r.state, filedBy: r.filed_by,
    filedAt: Number(r.filed_at), dueAt: Number(r.due_at), dueProvisional: !!Number(r.due_provisional), response: r.response, answeredBy: r.answered_by,
    answeredAt: num(r.answered_at), answeredLate: !!Number(r.answered_late), resolvedBy: r.resolved_by, resolvedAt: num(r.resolved_at),
    reopened: Number(r.reopened), version: Number(r.version),
  };
}

/** A complaint as the API shows it (ISO-8601 times), with whether it is overdue now. */
export function complaintView(k: cp.Complaint, now: number) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: k.id, caseId: k.caseId, departmentId: k.departmentId, text: k.text, contact: k.contact, state: k.state, overdue: cp.isOverdue(k, now),
    filedBy: k.filedBy, filedAt: iso(k.filedAt), dueAt: iso(k.dueAt), dueProvisional: k.dueProvisional, response: k.response, answeredBy: k.answeredBy,
    answeredAt: iso(k.answeredAt), answeredLate: k.answeredLate, resolvedBy: k.resolvedBy, resolvedAt: iso(k.resolvedAt), reopened: k.reopened,
  };
}

const COLUMNS = ['state', 'due_at', 'due_provisional', 'response', 'answered_by', 'answered_at', 'answered_late', 'resolved_by', 'resolved_at', 'reopened', 'version'];
const values = (k: cp.Complaint) => [k.state, k.dueAt, k.dueProvisional ? 1 : 0, k.response, k.answeredBy, k.answeredAt, k.answeredLate ? 1 : 0, k.resolvedBy, k.resolvedAt, k.reopened, k.version];

export interface ComplaintFilter {
  caseId?: string;
  departmentId?: string;
  state?: cp.ComplaintState;
  /** Only those waiting for an answer past their deadline. */
  overdue?: boolean;
  limit?: number;
}

export class ComplaintService {
  constructor(
    private readonly db: Db,
    private readonly config: () => GatewayConfig,
    private readonly clock: Clock,
    private readonly addWorkingDays: AddWorkingDays,
    private readonly hub: Hub,
  ) {}

  private ctx(): cp.ComplaintContext {
    return { now: this.clock.now(), addWorkingDays: this.addWorkingDays, complaintDays: this.config().deadlines.complaintDays ?? DEFAULT_COMPLAINT_DAYS };
  }

  /** Files a complaint about a case (404 NOT_FOUND if there is no such case) and a department concerned with it. */
  async file(caseId: string, departmentId: string, text: string, contact: string, actor: Actor): Promise<cp.Complaint> {
    const s = await this.db.tx(async (sql) => {
      const c = await lockedCase(sql, caseId);
      const step = cp.fileComplaint(c, departmentId, text, contact, randomUUID(), this.ctx(), actor);
      const k = step.complaint;
      await sql.run(
        `INSERT INTO complaints (id, case_id, department_id, text, contact, filed_by, filed_at, ${COLUMNS.join(', ')})
         VALUES ($1, $2, $3, $4, $5, $6, $7, ${COLUMNS.map((_, i) => `$${i + 8}`).join(', ')})`,
        [k.id, k.caseId, k.departmentId, k.text, k.contact, k.filedBy, k.filedAt, ...values(k)],
      );
      await this.record(sql, c, step, actor);
      return step;
    });
    this.hub.committed({ events: true });
    return s.complaint;
  }

  /** Applies one step to a complaint under its case's lock; `may` checks the actor against the complaint as stored. */
  async step(id: string, may: (k: cp.Complaint) => boolean, apply: (k: cp.Complaint, ctx: cp.ComplaintContext) => cp.ComplaintStep, actor: Actor): Promise<cp.Complaint> {
    const s = await this.db.tx(async (sql) => {
      const found = await this.get(id, sql);
      if (!found || !may(found)) fail('NOT_FOUND', { what: 'complaint' });
      const c = await lockedCase(sql, found.caseId);
      // Read again under the case's lock: a racing step on the same complaint committed before we got it.
      const k = (await this.get(id, sql))!;
      const step = apply(k, this.ctx());
      const n = await sql.run(`UPDATE complaints SET ${COLUMNS.map((col, i) => `${col} = $${i + 2}`).join(', ')} WHERE id = $1 AND version = $${COLUMNS.length + 2}`, [k.id, ...values(step.complaint), k.version]);
      if (n !== 1) throw new Error(`complaint ${k.id} changed underneath its case's lock`);
      await this.record(sql, c, step, actor);
      return step;
    });
    this.hub.committed({ events: true });
    return s.complaint;
  }

  answer(id: string, response: string, may: (k: cp.Complaint) => boolean, actor: Actor): Promise<cp.Complaint> {
    return this.step(id, may, (k, ctx) => cp.answerComplaint(k, response, ctx, actor), actor);
  }

  resolve(id: string, note: string | null, actor: Actor): Promise<cp.Complaint> {
    return this.step(id, () => true, (k, ctx) => cp.resolveComplaint(k, note, ctx, actor), actor);
  }

  reopen(id: string, reason: string, actor: Actor): Promise<cp.Complaint> {
    return this.step(id, () => true, (k, ctx) => cp.reopenComplaint(k, reason, ctx, actor), actor);
  }

  async get(id: string, sql: Pick<Sql, 'get'> = this.db): Promise<cp.Complaint | undefined> {
    const row = await sql.get<ComplaintRow>('SELECT * FROM complaints WHERE id = $1', [id]);
    return row ? toComplaint(row) : undefined;
  }

  async list(f: ComplaintFilter = {}): Promise<cp.Complaint[]> {
    const q = new Conditions();
    if (f.caseId) q.add('case_id = ?', f.caseId);
    if (f.departmentId) q.add('department_id = ?', f.departmentId);
    if (f.state) q.add('state = ?', f.state);
    if (f.overdue) q.add("state IN ('open', 'reopened')").add('due_at < ?', this.clock.now());
    const limit = q.limit(f.limit);
    const rows = await this.db.all<ComplaintRow>(`SELECT * FROM complaints ${q.where} ORDER BY filed_at, id ${limit}`, q.params);
    return rows.map(toComplaint);
  }


  /** The step's events on the case's timeline (which makes them part of the audit chain), in the same transaction. */
  private async record(sql: Sql, before: Case, s: cp.ComplaintStep, actor: Actor): Promise<void> {
    const at = this.clock.now();
    await writeChanges(sql, [{ before, after: { ...before, updatedAt: at, version: before.version + 1 }, at, events: s.events.map((e) => ({ ...e, actor })) }]);
  }
}
