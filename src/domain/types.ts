// Domain types of a parallel-approval case: application, reviews, licence, permits, events.

export type CaseStatus =
  | 'submitted'
  | 'returned'
  | 'refused'
  | 'in_review'
  | 'terminated'
  | 'awaiting_licence'
  | 'licensed'
  | 'operating'
  /** A mirror case (a review asked by a peer gateway) whose every review is answered: it has no licence here. */
  | 'concluded';

/** Statuses in which a case still blocks a second application for the same name and district. */
export const PENDING_STATUSES: readonly CaseStatus[] = ['submitted', 'returned', 'in_review', 'awaiting_licence'];

export type ReviewState =
  | 'pending_delivery'
  | 'delivered'
  | 'approved'
  | 'refused'
  | 'extended'
  | 'deemed_approved'
  | 'cancelled'
  /** A later step of a chained review: not yet notified, until the step before it approves. */
  | 'waiting';

/** Review states in which a department may still answer and its deadline runs. */
export const OPEN_REVIEW_STATES: readonly ReviewState[] = ['pending_delivery', 'delivered', 'extended'];

export type Level = 'district' | 'city' | 'province';
export type Role = 'secretary' | 'registrar' | 'reviewer' | 'supervisor' | 'admin';
export type Decision = 'approve' | 'refuse' | 'extend';

/** What an applicant submits at the one door. */
export interface Application {
  enterpriseName: string;
  legalForm: string;
  registeredCapital: number;
  industry: string;
  businessScope: string[];
  address: string;
  divisionCode: string;
  investors: { name: string; idNumber: string }[];
  contact: { name: string; phone: string; email?: string };
}

/** Who did something, and through which channel. */
export interface Actor {
  kind: 'user' | 'system' | 'adapter';
  id: string;
  role?: Role | 'timekeeper' | 'dispatcher';
  adapter?: string;
  /** For system actors: which gateway process acted (several may share one database). */
  instance?: string;
}

/** One department's pre-approval review of a case. */
export interface Review {
  departmentId: string;
  level: Level;
  /** In a chained review, the department whose approval (or deemed approval) opens this step; null otherwise. */
  after: string | null;
  state: ReviewState;
  deliveredAt: number | null;
  dueAt: number | null;
  provisional: boolean;
  extended: boolean;
  decision: Decision | null;
  reasons: string | null;
  answeredBy: string | null;
  answeredVia: string | null;
  decidedAt: number | null;
}

/** The business licence issued at the end of the review. */
export interface Licence {
  creditCode: string;
  issuedAt: number;
  issuedBy: string;
}

/** A permit a department issues after the licence (licence first, permits after). */
export interface Permit {
  departmentId: string;
  dueAt: number;
  provisional: boolean;
  reportedAt: number | null;
  permitNumber: string | null;
  overdueAt: number | null;
  /** Revoked after a failed re-inspection (follow-up visits). */
  revokedAt: number | null;
}

/** The whole case as the workflow sees it; times are epoch milliseconds. */
export interface Case {
  id: string;
  reference: string;
  status: CaseStatus;
  application: Application;
  createdAt: number;
  updatedAt: number;
  refusedRule: string | null;
  statusReason: string | null;
  licenceDueAt: number | null;
  licenceDueProvisional: boolean;
  licenceOverdueAt: number | null;
  licence: Licence | null;
  reviews: Review[];
  permits: Permit[];
  version: number;
}

/** A recorded state change: becomes a hash-chained audit event and a server-sent event. */
export interface DomainEvent {
  action: string;
  data: Record<string, unknown>;
}

/** An outgoing message the workflow asks to send to a department (written to the outbox). */
export interface OutgoingIntent {
  departmentId: string;
  kind: 'notification' | 'cancellation' | 'extension_ack' | 'deadline';
  payload: Record<string, unknown>;
}
