// Pushing to the provincial system: outbox rows for the reports a case change causes, through the configured adapter.
import { randomUUID } from 'node:crypto';
import type { GatewayConfig } from '../config/load.js';
import { PROVINCE_EVENTS, provinceReports } from '../domain/province-report.js';
import type { DomainEvent, Case } from '../domain/types.js';
import type { OutboxInsert } from '../store/case-repo.js';

/** The outbox kind of a report to the province. */
export const PROVINCE_REPORT = 'province-report';

/**
 * Outbox rows (written in the transaction of the change itself, so a report leaves exactly when its change is committed)
 * for the province reports of one case change; none when the configuration has no `province.push`.
 */
export function provinceRows(config: GatewayConfig, after: Case, events: DomainEvent[], at: number): OutboxInsert[] {
  const push = config.province?.push;
  if (!push) return [];
  const wanted = new Set<string>(push.events ?? PROVINCE_EVENTS);
  // Transport time, as for every outbox row: retries go on while a manual workflow clock stands still.
  const real = Date.now();
  return provinceReports(after, events, at, wanted).map((r) => ({
    id: randomUUID(),
    caseId: after.id,
    departmentId: push.receiver,
    adapter: push.adapter,
    kind: PROVINCE_REPORT,
    payload: JSON.stringify(r),
    nextAttemptAt: real,
    at,
  }));
}
