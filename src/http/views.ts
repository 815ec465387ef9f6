// How cases look to API clients: ISO-8601 instants, department names, identity numbers masked for roles that need not see them.
import type { Department } from '../domain/routing.js';
import type { Case, Role } from '../domain/types.js';
import { mirrorOrigin } from '../domain/mirror.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Keeps the first 4 and last 4 characters; enough to recognise, not enough to use. */
export function maskId(id: string): string {
  return id.length <= 8 ? '*'.repeat(id.length) : `${id.slice(0, 4)}${'*'.repeat(id.length - 8)}${id.slice(-4)}`;
}

/** Working days left until a deadline (0: due today; negative: overdue; null: none or not covered by the calendar). */
export type DaysLeft = (dueAt: number | null) => number | null;

export function caseView(c: Case, role: Role, departments: (id: string) => Department | undefined, timeline?: unknown[], left: DaysLeft = () => null) {
  const seeIds = role === 'secretary' || role === 'registrar' || role === 'admin';
  const a = c.application;
  return {
    id: c.id,
    reference: c.reference,
    // A mirror case (a review another gateway asked for): that gateway and its reference; its deadlines are the reviews' dueAt.
    origin: mirrorOrigin(c),
    status: c.status,
    statusReason: c.statusReason,
    refusedRule: c.refusedRule,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    application: { ...a, investors: a.investors.map((i) => ({ name: i.name, idNumber: seeIds ? i.idNumber : maskId(i.idNumber) })) },
    reviews: c.reviews.map((r) => ({
      departmentId: r.departmentId,
      departmentName: departments(r.departmentId)?.name ?? r.departmentId,
      level: r.level,
      // A chain's later step names the step before it; the console and the timeline show the chain step by step.
      after: r.after,
      state: r.state,
      deliveredAt: iso(r.deliveredAt),
      dueAt: iso(r.dueAt),
      workingDaysLeft: left(r.dueAt),
      provisional: r.provisional,
      extended: r.extended,
      decision: r.decision,
      reasons: r.reasons,
      answeredBy: r.answeredBy,
      answeredVia: r.answeredVia,
      decidedAt: iso(r.decidedAt),
    })),
    licenceDueAt: iso(c.licenceDueAt),
    licenceWorkingDaysLeft: left(c.licenceDueAt),
    licenceDueProvisional: c.licenceDueProvisional,
    licenceOverdue: c.licenceOverdueAt !== null,
    licence: c.licence ? { creditCode: c.licence.creditCode, issuedAt: iso(c.licence.issuedAt), issuedBy: c.licence.issuedBy } : null,
    permits: c.permits.map((p) => ({
      departmentId: p.departmentId,
      departmentName: departments(p.departmentId)?.name ?? p.departmentId,
      dueAt: iso(p.dueAt),
      workingDaysLeft: left(p.dueAt),
      provisional: p.provisional,
      reportedAt: iso(p.reportedAt),
      permitNumber: p.permitNumber,
      overdue: p.overdueAt !== null,
    })),
    ...(timeline ? { timeline } : {}),
  };
}
