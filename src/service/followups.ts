// Follow-up visits as stored: inspections planned, results and re-inspections applied once each, on the case's timeline.
import { randomUUID } from 'node:crypto';
import type { Hub } from '../bus/hub.js';
import type { Clock } from '../clock.js';
import type { GatewayConfig } from '../config/load.js';
import { fail } from '../domain/errors.js';
import * as fu from '../domain/followup.js';
import type { Actor, Case } from '../domain/types.js';
import type { AddWorkingDays } from '../domain/workflow.js';
import { provinceRows } from '../province/push.js';
import { lockedCase, writeChanges } from '../store/case-repo.js';
import { Conditions, type Db, type Sql } from '../store/sql.js';
import type { InboundRef } from './cases.js';

/** Working days an enterprise has to rectify after a failed inspection, unless the configuration says otherwise. */
export const DEFAULT_RECTIFY_DAYS = 10;

interface InspectionRow {
  id: string;
  case_id: string;
  department_id: string;
  state: fu.InspectionState;
  planned_for: number | string;
  planned_by: string;
  planned_at: number | string;
  inspected_at: number | string | null;
  findings: string | null;
  rectify_due_at: number | string | null;
  rectify_provisional: number;
  reinspected_at: number | string | null;
  reinspection_findings: string | null;
  closed_at: number | string | null;
  version: number;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toInspection(r: InspectionRow): fu.Inspection {
  return {
    id: r.id, caseId: r.case_id, departmentId: r.department_id, state: r.state, plannedFor: Number(r.planned_for), plannedBy: r.planned_by,
    plannedAt: Number(r.planned_at), inspectedAt: num(r.inspected_at), findings: r.findings, rectifyDueAt: num(r.rectify_due_at),
    rectifyProvisional: !!r.rectify_provisional, reinspectedAt: num(r.reinspected_at), reinspectionFindings: r.reinspection_findings,
    closedAt: num(r.closed_at), version: Number(r.version),
  };
}

/** An inspection as the API shows it (ISO-8601 times). */
export function inspectionView(i: fu.Inspection) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: i.id, caseId: i.caseId, departmentId: i.departmentId, state: i.state, plannedFor: iso(i.plannedFor), plannedBy: i.plannedBy, plannedAt: iso(i.plannedAt),
    inspectedAt: iso(i.inspectedAt), findings: i.findings, rectifyDueAt: iso(i.rectifyDueAt), rectifyProvisional: i.rectifyProvisional,
    reinspectedAt: iso(i.reinspectedAt), reinspectionFindings: i.reinspectionFindings, closedAt: iso(i.closedAt),
  };
}

const COLUMNS = ['state', 'inspected_at', 'findings', 'rectify_due_at', 'rectify_provisional', 'reinspected_at', 'reinspection_findings', 'closed_at', 'version'];
const values = (i: fu.Inspection) => [i.state, i.inspectedAt, i.findings, i.rectifyDueAt, i.rectifyProvisional ? 1 : 0, i.reinspectedAt, i.reinspectionFindings, i.closedAt, i.version];

/** Filters of the inspection list. */
export interface InspectionFilter {
  caseId?: string;
  departmentId?: string;
  state?: fu.InspectionState;
  /** Only rectifications whose period has ended (a re-inspection is due). */
  reinspectionDue?: boolean;
  limit?: number;
}

export class FollowUpService {
  constructor(
    private readonly db: Db,
    private readonly config: () => GatewayConfig,
    private readonly clock: Clock,
    private readonly addWorkingDays: AddWorkingDays,
    private readonly hub: Hub,
  ) {}

  private ctx(): fu.FollowUpContext {
    return { now: this.clock.now(), addWorkingDays: this.addWorkingDays, rectifyDays: this.config().deadlines.rectifyDays ?? DEFAULT_RECTIFY_DAYS };
  }

  /** A department plans an inspection of a licensed enterprise it issued a permit to. */
  async plan(caseId: string, departmentId: string, plannedFor: number, actor: Actor): Promise<fu.Inspection> {
    const step = await this.db.tx(async (sql) => {
      const c = await lockedCase(sql, caseId);
      const s = fu.planInspection(c, departmentId, plannedFor, randomUUID(), this.ctx(), actor);
      const i = s.inspection;
      await sql.run(
        `INSERT INTO inspections (id, case_id, department_id, planned_for, planned_by, planned_at, ${COLUMNS.join(', ')})
         VALUES ($1, $2, $3, $4, $5, $6, ${COLUMNS.map((_, k) => `$${k + 7}`).join(', ')})`,
        [i.id, i.caseId, i.departmentId, i.plannedFor, i.plannedBy, i.plannedAt, ...values(i)],
      );
      await this.record(sql, c, s, actor);
      return s;
    });
    this.hub.committed({ events: true, outbox: true });
    return step.inspection;
  }

  /**
   * A department's result (stage `result`) or re-inspection (stage `reinspection`), applied once per message id: the
   * inbox check runs under the case's lock, as for opinions.
   */
  async report(inspectionId: string, caseId: string, departmentId: string, stage: 'result' | 'reinspection', outcome: fu.Outcome, findings: string | null, actor: Actor, inbound?: InboundRef): Promise<fu.Inspection> {
    const r = await this.db.tx(async (sql) => {
      const found = await this.get(inspectionId, sql);
      // Another department's inspection, or one of another case, does not exist to the sender.
      if (!found || found.departmentId !== departmentId || found.caseId !== caseId) fail('NOT_FOUND', { what: 'inspection' });
      const c = await lockedCase(sql, found.caseId);
      if (inbound && (await sql.get('SELECT 1 AS x FROM inbox WHERE message_id = $1', [inbound.messageId]))) return { duplicate: true as const };
      // Read again under the case's lock: a racing report of the same inspection committed before we got it.
      const i = (await this.get(inspectionId, sql))!;
      const s = stage === 'result' ? fu.recordInspection(c, i, outcome, findings, this.ctx(), actor) : fu.reinspect(c, i, outcome, findings, this.affectedItems(c, departmentId), this.ctx(), actor);
      const n = await sql.run(`UPDATE inspections SET ${COLUMNS.map((col, k) => `${col} = $${k + 2}`).join(', ')} WHERE id = $1 AND version = $${COLUMNS.length + 2}`, [i.id, ...values(s.inspection), i.version]);
      // Every change of an inspection holds its case's lock, so this cannot happen unless that rule is broken.
      if (n !== 1) throw new Error(`inspection ${i.id} changed underneath its case's lock`);
      await this.record(sql, c, s, actor);
      if (inbound) {
        await sql.run('INSERT INTO inbox (message_id, kind, case_id, received_at, result) VALUES ($1, $2, $3, $4, $5)', [
          inbound.messageId, inbound.kind, c.id, this.clock.now(), JSON.stringify({ inspection: s.inspection.state }),
        ]);
      }
      return { duplicate: false as const, inspection: s.inspection };
    });
    if (r.duplicate) {
      if (inbound) inbound.duplicate = true;
      return (await this.get(inspectionId))!;
    }
    this.hub.committed({ events: true, outbox: true });
    return r.inspection;
  }

  async get(id: string, sql: Pick<Sql, 'get'> = this.db): Promise<fu.Inspection | undefined> {
    const row = await sql.get<InspectionRow>('SELECT * FROM inspections WHERE id = $1', [id]);
    return row ? toInspection(row) : undefined;
  }

  async list(f: InspectionFilter = {}): Promise<fu.Inspection[]> {
    const q = new Conditions();
    if (f.caseId) q.add('case_id = ?', f.caseId);
    if (f.departmentId) q.add('department_id = ?', f.departmentId);
    if (f.state) q.add('state = ?', f.state);
    if (f.reinspectionDue) q.add("state = 'rectifying'").add('rectify_due_at <= ?', this.clock.now());
    const limit = q.limit(f.limit);
    const rows = await this.db.all<InspectionRow>(`SELECT * FROM inspections ${q.where} ORDER BY planned_for, id ${limit}`, q.params);
    return rows.map(toInspection);
  }

  /** The case's business-scope items that needed this department's pre-approval (by its type). */
  private affectedItems(c: Case, departmentId: string): string[] {
    const cfg = this.config();
    const type = cfg.departments.find((d) => d.id === departmentId)?.type;
    return c.application.businessScope.filter((item) => !!type && (cfg.scopeItems[item]?.requires ?? []).includes(type));
  }


  /** The step's events on the case's timeline (and the case itself when a permit was revoked), in the same transaction. */
  private async record(sql: Sql, before: Case, s: fu.FollowUpStep, actor: Actor): Promise<void> {
    const at = this.clock.now();
    const after = s.case === before ? { ...before, updatedAt: at, version: before.version + 1 } : s.case;
    await writeChanges(sql, [{ before, after, at, events: s.events.map((e) => ({ ...e, actor })) }], provinceRows(this.config(), after, s.events, at));
  }
}
