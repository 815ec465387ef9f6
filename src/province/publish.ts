// Publishing pulled status changes to subscribing departments: outbox rows written in the transaction that applies the change.
import { randomUUID } from 'node:crypto';
import type { GatewayConfig } from '../config/load.js';
import type { ChangeOutcome } from '../domain/province-change.js';
import { routingKey, subscribersOf } from '../domain/province-subscription.js';
import type { OutboxInsert } from '../store/case-repo.js';

/** The outbox kind of a status change told to a department (webhook) or published on the topic exchange (AMQP). */
export const PROVINCE_CHANGE = 'province-change';

/** What a department is told of a change (the signed envelope's body). */
export interface ChangeNotice {
  changeId: string;
  seq: number;
  creditCode: string;
  enterpriseName: string;
  divisionCode: string;
  kind: string;
  version: number;
  occurredAt: string;
  /** A legacy irregularity of the credit code, if any. */
  warning: string | null;
  /** AMQP: the routing key on the topic exchange, and the subscribing departments whose queues it reaches. */
  routingKey?: string;
  receivers?: string[];
}

/**
 * Outbox rows for a page's applied changes. A department on AMQP is reached through the topic exchange: one publication
 * per change, adapter and department type, addressed to its routing key (`topic:<key>`), with the subscribing
 * departments named so the adapter binds their queues before publishing; several departments of one type and area then
 * get one copy each, not one per subscriber. Any other department gets its own signed message through its adapter.
 */
export function changeRows(config: GatewayConfig, changes: ChangeOutcome[], at: number): OutboxInsert[] {
  const subs = config.province?.subscriptions;
  if (!subs?.length) return [];
  const real = Date.now();
  const out: OutboxInsert[] = [];
  for (const c of changes) {
    if (c.outcome !== 'applied') continue; // a stale change moves nothing, so there is nothing to tell
    const r = c.record;
    const notice: ChangeNotice = {
      changeId: r.id, seq: r.seq, creditCode: r.creditCode, enterpriseName: r.name, divisionCode: r.divisionCode, kind: r.kind, version: r.version, occurredAt: r.occurredAt, warning: c.warning,
    };
    const topics = new Map<string, { adapter: string; key: string; receivers: string[] }>();
    for (const s of subscribersOf(subs, r)) {
      const dep = config.departments.find((d) => d.id === s.department);
      if (!dep) continue;
      const adapter = config.adapters[dep.adapter];
      if (adapter?.kind === 'amqp') {
        const key = routingKey(r.divisionCode, dep.type, r.kind);
        const t = topics.get(`${dep.adapter}|${key}`) ?? topics.set(`${dep.adapter}|${key}`, { adapter: dep.adapter, key, receivers: [] }).get(`${dep.adapter}|${key}`)!;
        t.receivers.push(dep.id);
      } else {
        out.push({ id: randomUUID(), caseId: null, departmentId: dep.id, adapter: dep.adapter, kind: PROVINCE_CHANGE, payload: JSON.stringify(notice), nextAttemptAt: real, at });
      }
    }
    for (const t of topics.values()) {
      const payload: ChangeNotice = { ...notice, routingKey: t.key, receivers: t.receivers.sort() };
      out.push({ id: randomUUID(), caseId: null, departmentId: `topic:${t.key}`, adapter: t.adapter, kind: PROVINCE_CHANGE, payload: JSON.stringify(payload), nextAttemptAt: real, at });
    }
  }
  return out;
}
