// Case service: runs each workflow step as one transaction that writes the state change, its audit events and its outbox messages.
import { createHash } from 'node:crypto';
import { newRowId } from '../store/ids.js';
import type { GatewayConfig } from '../config/load.js';
import { evaluateEligibility } from '../domain/eligibility.js';
import { fail, GatewayError } from '../domain/errors.js';
import { resolveDepartments, type Department } from '../domain/routing.js';
import { composeCreditCode } from '../domain/uscc.js';
import type { Actor, Application, Case, CaseStatus, Decision, DomainEvent, OutgoingIntent } from '../domain/types.js';
import * as wf from '../domain/workflow.js';
import type { Hub } from '../bus/hub.js';
import type { Clock } from '../clock.js';
import { provinceRows } from '../province/push.js';
import { loadCase, loadCases, nextCounter, reserveCounter, writeChanges, type CaseChange, type OutboxInsert } from '../store/case-repo.js';
import type { SignedWire } from '../../adapters/adapter.js';
import { cancelMirror, mirrorOrigin, openMirror, originDeadline, type MirrorRequest } from '../domain/mirror.js';
import { isUniqueViolation, placeholders, type Db, type Sql } from '../store/sql.js';

/** Filters of the case list. */
export interface CaseFilter {
  status?: CaseStatus;
  divisionCode?: string;
  departmentId?: string;
  enterpriseName?: string;
  limit?: number;
  offset?: number;
}

/** An incoming message's identity, for exactly-once effect (inbox de-duplication). */
export interface InboundRef {
  messageId: string;
  kind: string;
  /** Set when the message id had been seen: the call changed nothing. */
  duplicate?: boolean;
  /** The department's signed message as received: an answer about a mirror case goes back to its origin with it. */
  wire?: SignedWire;
  /** Who answered, as this gateway identified them (a reviewer with password and one-time code). */
  reviewer?: { username: string; role: string; amr: string[] };
}

/** Case-reference serials an instance reserves at once on PostgreSQL. */
const REFERENCE_BLOCK = 32;

export class CaseService {
  private departments: Map<string, Department>;

  constructor(
    private readonly db: Db,
    private config: GatewayConfig,
    private readonly clock: Clock,
    private readonly addWorkingDays: wf.AddWorkingDays,
    private readonly hub: Hub,
    private readonly instance: string,
  ) {
    this.departments = new Map(config.departments.map((d) => [d.id, d]));
  }

  /** Departments, routes, rules and deadlines after an administrator's change; cases already accepted keep their reviews. */
  reconfigure(config: GatewayConfig): void {
    this.config = config;
    this.departments = new Map(config.departments.map((d) => [d.id, d]));
  }

  department(id: string): Department | undefined {
    return this.departments.get(id);
  }

  private ctx(): wf.WorkflowContext {
    return { now: this.clock.now(), addWorkingDays: this.addWorkingDays, rules: this.config.deadlines };
  }

  /** One-door acceptance: records the application (refused at once if outside the pilot scope). */
  async submit(app: Application, actor: Actor, idempotencyKey?: string): Promise<{ case: Case; replayed: boolean }> {
    const requestHash = createHash('sha256').update(JSON.stringify(app)).digest('hex');
    if (idempotencyKey) {
      const prior = await this.idempotent(this.db, idempotencyKey, requestHash);
      if (prior) return { case: prior, replayed: true };
    }
    // Routing errors (unknown scope item or division) are the applicant's to fix, so they are checked before anything is written.
    resolveDepartments(app, this.config);
    const verdict = evaluateEligibility(app, this.config.eligibility);
    const now = this.clock.now();
    const day = new Date(now + 8 * 3600_000).toISOString().slice(0, 10).replaceAll('-', '');
    const counter = `case-reference:${app.divisionCode}:${day}`;
    // Taken before the transaction: a reservation inside it would wait for a pooled connection that its own kind holds.
    const reserved = this.db.dialect === 'postgres' ? await this.reservedSerial(counter, day) : undefined;
    try {
      const result = await this.db.tx(async (sql) => {
        if (idempotencyKey) {
          const prior = await this.idempotent(sql, idempotencyKey, requestHash);
          if (prior) return { c: prior, replayed: true };
        }
        // A second pending application for the name meets the unique index cases_pending_name; asDuplicate reports it.
        const serial = reserved ?? (await nextCounter(sql, counter, 1));
        // The serial is padded to six digits but never truncated: a busy day simply gets longer references.
        const reference = `${app.divisionCode}-${day}-${String(serial).padStart(6, '0')}`;
        const c: Case = {
          id: newRowId(),
          reference,
          status: verdict.eligible ? 'submitted' : 'refused',
          application: app,
          createdAt: now,
          updatedAt: now,
          refusedRule: verdict.eligible ? null : verdict.ruleId,
          statusReason: verdict.eligible ? null : verdict.reason,
          licenceDueAt: null,
          licenceDueProvisional: false,
          licenceOverdueAt: null,
          licence: null,
          reviews: [],
          permits: [],
          version: 1,
        };
        const events: DomainEvent[] = [{ action: 'case.submitted', data: { reference, enterpriseName: app.enterpriseName, divisionCode: app.divisionCode } }];
        if (!verdict.eligible) events.push({ action: 'case.refused', data: { rule: verdict.ruleId, reason: verdict.reason } });
        await writeChanges(sql, [{ before: undefined, after: c, at: now, events: events.map((e) => ({ ...e, actor })) }]);
        if (idempotencyKey) {
          await sql.run('INSERT INTO idempotency (key, request_hash, case_id, created_at) VALUES ($1, $2, $3, $4)', [idempotencyKey, requestHash, c.id, now]);
        }
        return { c, replayed: false };
      });
      if (!result.replayed) this.hub.committed({ events: true });
      return { case: result.c, replayed: result.replayed };
    } catch (e) {
      if (idempotencyKey && isUniqueViolation(e)) {
        const prior = await this.idempotent(this.db, idempotencyKey, requestHash);
        if (prior) return { case: prior, replayed: true };
      }
      throw await this.asDuplicate(e, app);
    }
  }

  private refBlock: { day: string; blocks: Map<string, { next: number; last: number }>; pending: Map<string, Promise<void>> } = {
    day: '',
    blocks: new Map(),
    pending: new Map(),
  };

  /**
   * The serial of a case reference on PostgreSQL. SQLite allocates inside the submitting transaction (transactions there
   * are serial anyway, so a rolled-back submission leaves no gap). On PostgreSQL that would hold the counter row locked
   * until each submission commits and so serialise them all: there each instance reserves a block in one autocommit
   * statement and hands the numbers out in memory. References stay unique and readable; a restart or a failed
   * submission may leave gaps.
   */
  private async reservedSerial(name: string, day: string): Promise<number> {
    const rb = this.refBlock;
    if (rb.day !== day) {
      // A new day starts new counters: yesterday's blocks are of no further use.
      rb.day = day;
      rb.blocks.clear();
    }
    for (;;) {
      const b = rb.blocks.get(name);
      if (b && b.next <= b.last) return b.next++;
      let p = rb.pending.get(name);
      if (!p) {
        // Autocommit: one round trip, and the row lock ends with the statement.
        p = reserveCounter(this.db, name, 1, REFERENCE_BLOCK)
          .then((r) => {
            if (rb.day === day) rb.blocks.set(name, { next: r.first, last: r.last });
          })
          .finally(() => rb.pending.delete(name));
        rb.pending.set(name, p);
      }
      await p;
    }
  }

  /** Two writers racing past the pending-name check meet the unique index; report that as the duplicate it is. */
  private async asDuplicate(e: unknown, app: Application): Promise<unknown> {
    if (!isUniqueViolation(e)) return e;
    const pending = await this.pendingCaseId(this.db, app);
    return pending ? new GatewayError('DUPLICATE_APPLICATION', { enterpriseName: app.enterpriseName, divisionCode: app.divisionCode, caseId: pending }) : e;
  }

  private async idempotent(sql: Sql, key: string, requestHash: string): Promise<Case | undefined> {
    const row = await sql.get<{ request_hash: string; case_id: string }>('SELECT request_hash, case_id FROM idempotency WHERE key = $1', [key]);
    if (!row) return undefined;
    if (row.request_hash !== requestHash) fail('IDEMPOTENCY_KEY_REUSED');
    return loadCase(sql, row.case_id);
  }

  private async pendingCaseId(sql: Sql, app: Application): Promise<string | undefined> {
    const row = await sql.get<{ id: string }>(
      `SELECT id FROM cases WHERE division_code = $1 AND enterprise_name = $2 AND status IN ('submitted', 'returned', 'in_review', 'awaiting_licence')`,
      [app.divisionCode, app.enterpriseName],
    );
    return row?.id;
  }

  /** Loads, transforms and saves one case in a transaction; writes its events and outbox messages with it. */
  private async mutate(id: string, actor: Actor, step: (c: Case, sql: Sql) => Promise<wf.Transition> | wf.Transition, inbound?: InboundRef): Promise<Case> {
    const result = await this.db.tx(async (sql) => {
      const before = await loadCase(sql, id, true);
      if (!before) fail('NOT_FOUND', { what: 'case' });
      if (inbound) {
        // Checked under the case's lock: a copy of the message that raced this one in has committed by now, and its
        // inbox entry is visible (read committed), so the copy is recognised here rather than refused by the workflow.
        const seen = await sql.get<{ result: string }>('SELECT result FROM inbox WHERE message_id = $1', [inbound.messageId]);
        if (seen) return { duplicate: true as const, caseId: id };
      }
      const t = await step(before, sql);
      await this.persist(sql, before, t, actor, inbound ? this.forwardRows(t, inbound) : []);
      if (inbound) {
        await sql.run('INSERT INTO inbox (message_id, kind, case_id, received_at, result) VALUES ($1, $2, $3, $4, $5)', [
          inbound.messageId, inbound.kind, id, this.clock.now(), JSON.stringify({ status: t.case.status }),
        ]);
      }
      return { duplicate: false as const, case: t.case, outbox: t.outgoing.length > 0 || !!this.config.province?.push };
    });
    if (result.duplicate) {
      if (inbound) inbound.duplicate = true;
      return this.get(id);
    }
    this.hub.committed({ outbox: result.outbox, events: true });
    return result.case;
  }

  private async persist(sql: Sql, before: Case | undefined, t: wf.Transition, actor: Actor, extra: OutboxInsert[] = []): Promise<void> {
    if (t.events.length === 0) return;
    await writeChanges(sql, [{ before, after: t.case, at: t.case.updatedAt, events: t.events.map((e) => ({ ...e, actor })) }], [
      ...this.outboxRows(t.case.id, t.outgoing, t.case.updatedAt),
      ...extra,
      ...provinceRows(this.config, t.case, t.events, t.case.updatedAt),
    ]);
  }

  /**
   * A department's answer about a mirror case goes back to the origin gateway in the same transaction (outbox: retried,
   * never lost), with the department's signed message as received, so the origin checks that signature itself, and who
   * answered, which this gateway asserts (it identified the reviewer). An unsigned answer cannot be checked there: refused.
   */
  private forwardRows(t: wf.Transition, inbound: InboundRef): OutboxInsert[] {
    const origin = mirrorOrigin(t.case);
    if (!origin || t.events.length === 0 || inbound.kind !== 'opinion') return [];
    if (!inbound.wire || !inbound.reviewer) fail('MESSAGE_UNSIGNED');
    const peer = this.config.peers.find((p) => p.id === origin.gateway);
    if (!peer) fail('PEER_UNKNOWN', { gatewayId: origin.gateway });
    // The decision is the transition's first event (review.approved, .refused or .extended); cancellations follow it.
    const answered = t.case.reviews.find((r) => r.departmentId === t.events[0]!.data.departmentId);
    if (!answered) return [];
    const payload = {
      caseId: t.case.id,
      departmentId: answered.departmentId,
      department: inbound.wire,
      reviewer: { username: inbound.reviewer.username, departmentId: answered.departmentId, role: inbound.reviewer.role, level: answered.level, amr: inbound.reviewer.amr },
    };
    return [{ id: newRowId(), caseId: t.case.id, departmentId: peer.id, adapter: peer.adapter, kind: 'opinion', payload: JSON.stringify(payload), nextAttemptAt: Date.now(), at: t.case.updatedAt }];
  }

  /** A review a peer gateway asks for: opens or adds to its mirror case, once per message id (the peer's outbox id). */
  async openMirror(req: MirrorRequest, actor: Actor, inbound: InboundRef): Promise<Case> {
    const result = await this.db.tx(async (sql) => {
      // A case of this gateway's own pending for the same enterprise and division meets the unique index: say so, rather
      // than fail as INTERNAL and have the peer retry for ever.
      const pending = await this.pendingCaseId(sql, req.application);
      if (pending && pending !== req.caseId) fail('DUPLICATE_APPLICATION', { enterpriseName: req.application.enterpriseName, divisionCode: req.application.divisionCode, caseId: pending });
      if (await sql.get('SELECT 1 AS x FROM inbox WHERE message_id = $1', [inbound.messageId])) return { duplicate: true as const };
      const before = await loadCase(sql, req.caseId, true);
      const t = openMirror(before, req, this.ctx(), actor);
      await this.persist(sql, before, t, actor);
      await sql.run('INSERT INTO inbox (message_id, kind, case_id, received_at, result) VALUES ($1, $2, $3, $4, $5)', [inbound.messageId, inbound.kind, req.caseId, this.clock.now(), JSON.stringify({ status: t.case.status })]);
      return { duplicate: false as const, case: t.case };
    });
    if (result.duplicate) {
      inbound.duplicate = true;
      return this.get(req.caseId);
    }
    this.hub.committed({ outbox: true, events: true });
    return result.case;
  }

  /** The origin gateway cancelled a mirrored review. */
  cancelMirror(caseId: string, originGateway: string, departmentId: string, reason: string, actor: Actor, inbound: InboundRef): Promise<Case> {
    return this.mutate(caseId, actor, (c) => {
      // Only the gateway a mirror case came from speaks for it; to any other, the case does not exist.
      if (mirrorOrigin(c)?.gateway !== originGateway) fail('NOT_FOUND', { what: 'case' });
      return cancelMirror(c, departmentId, reason, this.ctx());
    }, inbound);
  }

  /** The origin gateway's deadline for a mirrored review: kept for a delivery still to come, and set on the review now if delivered. */
  originDeadline(caseId: string, originGateway: string, departmentId: string, dueAt: number, provisional: boolean, actor: Actor, inbound: InboundRef): Promise<Case> {
    return this.mutate(caseId, actor, async (c, sql) => {
      if (mirrorOrigin(c)?.gateway !== originGateway) fail('NOT_FOUND', { what: 'case' });
      await sql.run(
        'INSERT INTO peer_deadlines (case_id, department_id, due_at, provisional) VALUES ($1, $2, $3, $4) ON CONFLICT (case_id, department_id) DO UPDATE SET due_at = $3, provisional = $4',
        [caseId, departmentId, dueAt, provisional ? 1 : 0],
      );
      return originDeadline(c, departmentId, dueAt, provisional, this.ctx());
    }, inbound);
  }

  private outboxRows(caseId: string, intents: OutgoingIntent[], now: number): OutboxInsert[] {
    // Outbox scheduling uses real time: retries are transport, not workflow, and must go on while a manual clock stands still.
    const real = Date.now();
    return intents.map((i) => {
      const dep = this.departments.get(i.departmentId);
      if (!dep) fail('UNKNOWN_DEPARTMENT', { departmentId: i.departmentId });
      return { id: newRowId(), caseId, departmentId: i.departmentId, adapter: dep.adapter, kind: i.kind, payload: JSON.stringify(i.payload), nextAttemptAt: real, at: now };
    });
  }

  /**
   * Applies many transitions in one transaction, case by case in order, and writes each touched case once: a case
   * delivered to four departments in one dispatcher batch is one case update and one insert of its events, not four.
   */
  private async persistAll(sql: Sql, cases: Map<string, Case>, steps: { caseId: string; actor: Actor; apply: (c: Case) => wf.Transition }[]): Promise<number> {
    const work = new Map<string, CaseChange & { before: Case; outgoing: OutgoingIntent[] }>();
    let n = 0;
    for (const step of steps) {
      const w = work.get(step.caseId);
      const current = w?.after ?? cases.get(step.caseId);
      if (!current) continue;
      const t = step.apply(current);
      if (t.events.length === 0) continue;
      n++;
      const acted = t.events.map((e) => ({ ...e, actor: step.actor }));
      if (w) {
        w.after = t.case;
        w.events.push(...acted);
        w.outgoing.push(...t.outgoing);
      } else {
        work.set(step.caseId, { before: current, after: t.case, at: t.case.updatedAt, events: acted, outgoing: [...t.outgoing] });
      }
    }
    if (n === 0) return 0;
    const changes = [...work.values()];
    await writeChanges(sql, changes, changes.flatMap((c) => [...this.outboxRows(c.after.id, c.outgoing, c.after.updatedAt), ...provinceRows(this.config, c.after, c.events, c.after.updatedAt)]));
    for (const c of changes) cases.set(c.after.id, c.after);
    return n;
  }

  accept(id: string, actor: Actor): Promise<Case> {
    return this.mutate(id, actor, (c) => {
      const deps = resolveDepartments(c.application, this.config).map((d) => ({ id: d.id, level: d.level, issuesPermit: d.issuesPermit, after: d.after }));
      return wf.accept(c, deps, this.ctx(), actor);
    });
  }

  returnForCorrection(id: string, reason: string, actor: Actor): Promise<Case> {
    return this.mutate(id, actor, (c) => wf.returnForCorrection(c, reason, this.ctx(), actor));
  }

  /** A returned case comes back corrected; the case keeps its id, reference and history. */
  async resubmit(id: string, app: Application, actor: Actor): Promise<Case> {
    resolveDepartments(app, this.config);
    const verdict = evaluateEligibility(app, this.config.eligibility);
    try {
      return await this.mutate(id, actor, async (c, sql) => {
        if (c.status === 'returned' && verdict.eligible) {
          const pending = await this.pendingCaseId(sql, app);
          if (pending && pending !== id) fail('DUPLICATE_APPLICATION', { enterpriseName: app.enterpriseName, divisionCode: app.divisionCode, caseId: pending });
        }
        return wf.resubmit(c, app, verdict, this.ctx(), actor);
      });
    } catch (e) {
      throw await this.asDuplicate(e, app);
    }
  }

  terminate(id: string, reason: string, actor: Actor): Promise<Case> {
    return this.mutate(id, actor, (c) => wf.terminate(c, reason, this.ctx(), actor));
  }

  opinion(id: string, departmentId: string, decision: Decision, reasons: string | null, actor: Actor, inbound?: InboundRef): Promise<Case> {
    if (!this.departments.has(departmentId)) fail('UNKNOWN_DEPARTMENT', { departmentId });
    return this.mutate(id, actor, (c) => wf.applyOpinion(c, departmentId, decision, reasons, this.ctx(), actor), inbound);
  }

  reportPermit(id: string, departmentId: string, permitNumber: string, actor: Actor, inbound?: InboundRef): Promise<Case> {
    if (!this.departments.has(departmentId)) fail('UNKNOWN_DEPARTMENT', { departmentId });
    return this.mutate(id, actor, (c) => wf.reportPermit(c, departmentId, permitNumber, this.ctx(), actor), inbound);
  }

  /** Issues the licence with a credit code allocated in the same transaction, so a rolled-back issue leaves no gap in use. */
  issueLicence(id: string, actor: Actor): Promise<Case> {
    return this.mutate(id, actor, async (c, sql) => {
      if (c.status !== 'awaiting_licence') fail('TRANSITION_NOT_ALLOWED', { action: 'issue a licence for', status: c.status });
      const code = await this.allocateCreditCode(sql, c.application.legalForm);
      const permits = c.reviews.filter((r) => this.departments.get(r.departmentId)?.issuesPermit).map((r) => r.departmentId);
      return wf.issueLicence(c, code, permits, this.ctx(), actor);
    });
  }

  private async allocateCreditCode(sql: Sql, legalForm: string): Promise<string> {
    const blocks = this.config.creditCodes.blocks;
    const forForm = blocks.filter((b) => b.legalForms?.includes(legalForm));
    const candidates = forForm.length > 0 ? forForm : blocks.filter((b) => !b.legalForms);
    let last: GatewayError | undefined;
    for (const block of candidates) {
      // One statement; the counter row stays locked until commit, which follows it after the one write of the licence.
      const serial = await nextCounter(sql, `uscc:${block.authority}:${block.block}`, block.first);
      try {
        return composeCreditCode(block, serial);
      } catch (e) {
        if (!(e instanceof GatewayError) || e.code !== 'CREDIT_CODE_BLOCK_EXHAUSTED') throw e;
        last = e; // this block is used up; the next configured block of the same kind may still have codes
      }
    }
    throw last ?? new GatewayError('CREDIT_CODE_BLOCK_EXHAUSTED', { authority: this.config.gateway.authority, block: '(none configured)' });
  }

  /** Marks notifications as delivered (batch, one transaction); each review's clock starts at its own delivery. */
  async markDelivered(items: { caseId: string; departmentId: string; via: string }[], sql: Sql): Promise<number> {
    if (items.length === 0) return 0;
    const cases = await loadCases(sql, items.map((i) => i.caseId), true);
    const ctx = this.ctx();
    const originDue = await this.originDeadlines(sql, [...cases.values()].filter((c) => mirrorOrigin(c)).map((c) => c.id));
    return this.persistAll(
      sql,
      cases,
      items.map((item) => ({
        caseId: item.caseId,
        actor: { kind: 'system', id: 'dispatcher', role: 'dispatcher', adapter: item.via, instance: this.instance },
        apply: (c: Case) => this.delivered(c, item.departmentId, ctx, item.via, originDue.get(`${c.id}|${item.departmentId}`)),
      })),
    );
  }

  /**
   * A delivery, with the two peering cases: a mirrored review takes the origin gateway's deadline when it is known (the
   * origin's is authoritative), and a review delivered to a peer gateway sends the peer the deadline it starts.
   */
  private delivered(c: Case, departmentId: string, ctx: wf.WorkflowContext, via: string, originDue: { dueAt: number; provisional: boolean } | undefined): wf.Transition {
    const t = wf.markDelivered(c, departmentId, ctx, via);
    if (t.events.length === 0) return t;
    const r = t.case.reviews.find((x) => x.departmentId === departmentId)!;
    if (originDue) {
      r.dueAt = originDue.dueAt;
      r.provisional = originDue.provisional;
      t.events[0]!.data.dueAt = new Date(originDue.dueAt).toISOString();
      t.events[0]!.data.origin = true;
    }
    const dep = this.departments.get(departmentId);
    if (dep && this.config.adapters[dep.adapter]?.kind === 'gateway') {
      t.outgoing.push({ departmentId, kind: 'deadline', payload: { caseId: c.id, reference: c.reference, departmentId, dueAt: new Date(r.dueAt!).toISOString(), provisional: r.provisional } });
    }
    return t;
  }

  private async originDeadlines(sql: Sql, caseIds: string[]): Promise<Map<string, { dueAt: number; provisional: boolean }>> {
    const out = new Map<string, { dueAt: number; provisional: boolean }>();
    if (caseIds.length === 0) return out;
    const rows = await sql.all<{ case_id: string; department_id: string; due_at: number | string; provisional: number }>(
      `SELECT case_id, department_id, due_at, provisional FROM peer_deadlines WHERE case_id IN (${placeholders(caseIds.length)})`, caseIds);
    for (const r of rows) out.set(`${r.case_id}|${r.department_id}`, { dueAt: Number(r.due_at), provisional: !!r.provisional });
    return out;
  }

  /** Fires due deadlines: deemed approvals, overdue licences and permits. Returns how many fired. */
  async fireDeadlines(limit: number): Promise<number> {
    const now = this.clock.now();
    const fired = await this.db.tx(async (sql) => {
      // Selecting and locking in one statement: a gateway skips the cases another is firing and takes the next ones,
      // so two gateways share a backlog instead of waiting on each other (SQLite transactions are exclusive anyway).
      const lock = sql.dialect === 'postgres' ? ' FOR UPDATE OF c SKIP LOCKED' : '';
      const due: { case_id: string; department_id: string | null; kind: 'review' | 'licence' | 'permit' }[] = [];
      const take = async (q: string, kind: 'review' | 'licence' | 'permit') => {
        if (due.length >= limit) return;
        const rows = await sql.all<{ case_id: string; department_id: string | null }>(`${q} LIMIT $2${lock}`, [now, limit - due.length]);
        for (const r of rows) due.push({ ...r, kind });
      };
      await take(`SELECT r.case_id, r.department_id FROM reviews r JOIN cases c ON c.id = r.case_id WHERE r.state IN ('delivered', 'extended') AND r.due_at <= $1 ORDER BY r.due_at`, 'review');
      await take(`SELECT c.id AS case_id, NULL AS department_id FROM cases c WHERE c.status = 'awaiting_licence' AND c.licence_overdue_at IS NULL AND c.licence_due_at <= $1 ORDER BY c.licence_due_at`, 'licence');
      await take(`SELECT p.case_id, p.department_id FROM permits p JOIN cases c ON c.id = p.case_id WHERE p.reported_at IS NULL AND p.overdue_at IS NULL AND p.due_at <= $1 ORDER BY p.due_at`, 'permit');
      if (due.length === 0) return 0;
      const cases = await loadCases(sql, due.map((d) => d.case_id));
      const ctx = { ...this.ctx(), now };
      const actor: Actor = { kind: 'system', id: 'timekeeper', role: 'timekeeper', instance: this.instance };
      return this.persistAll(
        sql,
        cases,
        due.map((d) => ({
          caseId: d.case_id,
          actor,
          apply: (c: Case) =>
            d.kind === 'review' ? wf.deadlinePassed(c, d.department_id!, ctx)
            : d.kind === 'licence' ? wf.licenceOverdue(c, ctx)
            : wf.permitOverdue(c, d.department_id!, ctx),
        })),
      );
    });
    if (fired > 0) this.hub.committed({ events: true });
    return fired;
  }

  async get(id: string): Promise<Case> {
    const c = await loadCase(this.db, id);
    if (!c) fail('NOT_FOUND', { what: 'case' });
    return c;
  }

  async list(f: CaseFilter): Promise<{ cases: Case[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (cond: string, v: unknown) => {
      params.push(v);
      where.push(cond.replace('?', `$${params.length}`));
    };
    if (f.status) add('status = ?', f.status);
    if (f.divisionCode) add('division_code = ?', f.divisionCode);
    if (f.enterpriseName) add('enterprise_name = ?', f.enterpriseName);
    if (f.departmentId) add('id IN (SELECT case_id FROM reviews WHERE department_id = ?)', f.departmentId);
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM cases ${w}`, params))!.n;
    const limit = Math.min(f.limit ?? 50, 500);
    const ids = await this.db.all<{ id: string }>(
      `SELECT id FROM cases ${w} ORDER BY created_at DESC, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, limit, f.offset ?? 0],
    );
    const map = await loadCases(this.db, ids.map((r) => r.id));
    return { cases: ids.map((r) => map.get(r.id)!).filter(Boolean), total: Number(total) };
  }

  /** The case's timeline: its audit events in order. */
  async timeline(id: string): Promise<{ at: number; action: string; actor: Actor; data: Record<string, unknown> }[]> {
    const rows = await this.db.all<{ at: number; action: string; actor: string; data: string }>(
      'SELECT at, action, actor, data FROM events WHERE case_id = $1 ORDER BY seq',
      [id],
    );
    return rows.map((r) => ({ at: Number(r.at), action: r.action, actor: JSON.parse(r.actor) as Actor, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
}
