// What the provincial business information system is told: licences, permits, changes, follow-up results and revocations, from a case's events.
import type { Case, DomainEvent } from './types.js';

/** The case events the province receives, each as one signed report. */
export const PROVINCE_EVENTS = [
  'licence.issued',
  'permit.reported',
  'case.operating',
  'case.terminated',
  'inspection.passed',
  'inspection.failed',
  'rectification.ordered',
  'inspection.rectified',
  'inspection.failed_again',
  'permit.revoked',
  'scope_change.ordered',
] as const;
export type ProvinceEvent = (typeof PROVINCE_EVENTS)[number];

/** The body of one report (payload of an outbox message of kind `province-report`). */
export interface ProvinceReport {
  event: ProvinceEvent;
  occurredAt: string;
  caseId: string;
  reference: string;
  creditCode: string | null;
  enterpriseName: string;
  divisionCode: string;
  /** The event's own data as flat text, for the report's detail items (nested values as JSON). */
  details: Record<string, string>;
}

const flat = (data: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));

/** The reports a change of `after` causes: one per reported event among `events`, in their order, of the kinds asked for. */
export function provinceReports(after: Case, events: DomainEvent[], at: number, wanted: ReadonlySet<string>): ProvinceReport[] {
  return events
    .filter((e) => wanted.has(e.action))
    .map((e) => ({
      event: e.action as ProvinceEvent,
      occurredAt: new Date(at).toISOString(),
      caseId: after.id,
      reference: after.reference,
      creditCode: after.licence?.creditCode ?? null,
      enterpriseName: after.application.enterpriseName,
      divisionCode: after.application.divisionCode,
      details: flat(e.data),
    }));
}
