// The OpenAPI 3.1 document, built from the same JSON Schemas in schemas/api that validate requests.
import { schemaRegistry } from '../config/schemas.js';
import { ENTERPRISE_STATUSES } from '../domain/enterprise-filter.js';
import { CHANGE_KINDS } from '../domain/province-change.js';

const SCHEMAS = ['application', 'opinion', 'login', 'reason', 'permit', 'clock', 'calendar-day', 'calendar-year', 'inspection-plan', 'inspection-report', 'complaint', 'complaint-answer', 'complaint-resolve', 'step-up', 'user', 'key-rotate'] as const;

function schemaOf(name: string): Record<string, unknown> {
  const s = schemaRegistry().getSchema(`api/${name}.schema.json`)!.schema as Record<string, unknown>;
  const { $id: _id, $schema: _s, ...rest } = s;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const err = { description: 'Error from the catalogue', ...json(ref('Error')) };
const op = (summary: string, roles: string, extra: Record<string, unknown> = {}) => ({
  summary,
  description: `Roles: ${roles}.`,
  security: [{ bearer: [] }],
  responses: { '200': { description: 'OK', ...json(ref('Case')) }, '4XX': err },
  ...extra,
});
const withBody = (name: string) => ({ requestBody: { required: true, ...json(ref(name)) } });
/**
 * A department's message body: the compact JWS of a signed envelope (application/jose), or, only where the configuration
 * does not require signatures, the plain JSON form.
 */
const signedBody = (kind: string, plain: string) => ({
  requestBody: {
    required: true,
    content: {
      'application/jose': { schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$', description: `Compact JWS (RS256, ES256 or EdDSA, with kid; typ pag-message+jws) whose payload is a SignedEnvelope of kind ${kind}, signed with a current key of the sending department` } },
      'application/json': { schema: ref(plain) },
    },
  },
});
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const depParam = { name: 'departmentId', in: 'path', required: true, schema: { type: 'string' } };

export function openApiDocument(manualClock: boolean): Record<string, unknown> {
  const pascal = (n: string) => n.split('-').map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  const schemas: Record<string, unknown> = Object.fromEntries(SCHEMAS.map((n) => [pascal(n), schemaOf(n)]));
  schemas.Error = {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } } } },
  };
  schemas.Enterprise = {
    type: 'object',
    required: ['creditCode', 'name', 'divisionCode', 'status', 'version', 'lastKind', 'occurredAt', 'warning', 'firstSeenAt'],
    properties: {
      creditCode: { type: 'string' }, name: { type: 'string' }, divisionCode: { type: 'string' },
      status: { enum: [...ENTERPRISE_STATUSES] }, version: { type: 'integer' }, lastKind: { enum: [...CHANGE_KINDS] },
      occurredAt: { type: 'string', format: 'date-time' }, warning: { type: ['string', 'null'], description: 'A legacy irregularity of the credit code' },
      firstSeenAt: { type: 'string', format: 'date-time' },
    },
  };
  schemas.EnterpriseChange = {
    type: 'object',
    properties: {
      changeId: { type: 'string' }, seq: { type: 'integer' }, kind: { enum: [...CHANGE_KINDS] }, status: { enum: [...ENTERPRISE_STATUSES] }, version: { type: 'integer' },
      name: { type: 'string' }, divisionCode: { type: 'string' }, occurredAt: { type: 'string', format: 'date-time' }, warning: { type: ['string', 'null'] }, receivedAt: { type: 'string', format: 'date-time' },
    },
  };
  schemas.SignedEnvelope = {
    type: 'object',
    description: 'The payload of a department message (JWS). An answer may quote the request it answers by requestHash (SHA-256 of the compact JWS as sent, base64url).',
    required: ['messageId', 'sender', 'receiver', 'caseId', 'issuedAt', 'protocolVersion', 'kind', 'body'],
    properties: {
      messageId: { type: 'string', description: 'Accepted once; the same id with other content is a replay (MESSAGE_REPLAYED)' },
      sender: { type: 'string', description: 'The sending department id' },
      receiver: { type: 'string', description: "This gateway's id (MESSAGE_MISADDRESSED otherwise)" },
      caseId: { type: ['string', 'null'] },
      issuedAt: { type: 'string', format: 'date-time', description: 'Within gateway.signatures.windowSeconds of now (MESSAGE_EXPIRED otherwise)' },
      protocolVersion: { type: 'string', const: '1.0' },
      kind: { enum: ['opinion', 'permit', 'receipt', 'inspection'] },
      body: { type: 'object', description: 'opinion: {decision, reasons}; permit: {permitNumber}; receipt: {ackOf}; inspection: {inspectionId, stage, outcome, findings}' },
      requestHash: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' },
    },
  };
  schemas.Case = {
    type: 'object',
    required: ['id', 'status', 'reviews', 'licence', 'permits'],
    properties: {
      id: { type: 'string' },
      reference: { type: 'string' },
      status: { enum: ['submitted', 'returned', 'refused', 'in_review', 'terminated', 'awaiting_licence', 'licensed', 'operating', 'concluded'] },
      reviews: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            departmentId: { type: 'string' },
            level: { enum: ['district', 'city', 'province'] },
            state: { enum: ['pending_delivery', 'delivered', 'approved', 'refused', 'extended', 'deemed_approved', 'cancelled', 'waiting'] },
            after: { type: ['string', 'null'], description: 'In a chained review, the department whose approval opens this step' },
            dueAt: { type: ['string', 'null'], format: 'date-time' },
          },
        },
      },
      licence: { type: ['object', 'null'], properties: { creditCode: { type: 'string' } } },
      permits: { type: 'array', items: { type: 'object' } },
    },
  };
  const paths: Record<string, unknown> = {
    '/healthz': { get: { summary: 'Health of the store and adapters', responses: { '200': { description: 'OK' } } } },
    '/api/auth/login': { post: { summary: 'Log in with password and TOTP; returns a bearer token', ...withBody('Login'), responses: { '200': { description: 'Token' }, '4XX': err } } },
    '/api/auth/step-up': {
      post: {
        summary: 'Confirm a sensitive action with a fresh one-time code; returns a new token that covers sensitive actions for gateway.stepUpSeconds (login counts as one)',
        description: 'Sensitive actions (configuration, calendar and clock changes, resending, issuing a licence) answer 403 STEP_UP_REQUIRED when the last code is older than that. Failures answer STEP_UP_FAILED and count towards the login lockout.',
        security: [{ bearer: [] }],
        ...withBody('StepUp'),
        responses: { '200': { description: 'Token' }, '4XX': err },
      },
    },
    '/api/peer/messages': {
      post: {
        summary: 'A message from a peer gateway: a review asked of a department here (notification, cancellation, deadline), or an opinion answered there',
        description: "Peer gateways only, authenticated by their signature (a compact JWS, typ pag-message+jws, by a current key registered under the peer's gateway id) and the configuration's peers; a user's bearer token grants nothing here. An opinion carries the department's own signed message and a reviewer assertion by the peer (typ pag-reviewer+jwt). Refusals: PEER_UNKNOWN, PEER_NOT_ALLOWED, SIGNATURE_INVALID, KEY_NOT_VALID, MESSAGE_EXPIRED, MESSAGE_MISADDRESSED, CHANNEL_NOT_BOUND, DEPARTMENT_SIGNATURE_INVALID, MESSAGE_REPLAYED, REVIEWER_ASSERTION_INVALID, REVIEWER_NOT_AUTHORISED.",
        security: [],
        requestBody: { required: true, content: { 'application/jose': { schema: { type: 'string', pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$' } } } },
        responses: { '200': { description: 'Accepted (duplicate: true for a message id seen before)', ...json({ type: 'object', properties: { ok: { type: 'boolean' }, duplicate: { type: 'boolean' }, caseId: { type: 'string' }, caseStatus: { type: 'string' } } }) }, '4XX': err },
      },
    },
    '/api/me': { get: { summary: 'Who is logged in: user name, role, department', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/departments': { get: { summary: 'Departments (id, name, type, level, division code), for forms and lists', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/cases': {
      post: op('Submit an application (one door). Optional Idempotency-Key header.', 'secretary, admin', { ...withBody('Application'), responses: { '201': { description: 'Created', ...json(ref('Case')) }, '200': { description: 'Replayed by Idempotency-Key', ...json(ref('Case')) }, '4XX': err } }),
      get: op('List and filter cases (status, divisionCode, departmentId, enterpriseName, limit, offset)', 'all; reviewers see their department only'),
    },
    '/api/cases/{id}': { get: op('A case with its reviews, licence, permits and timeline', 'all; reviewers only cases of their department', { parameters: [idParam] }) },
    '/api/cases/{id}/accept': { post: op('Accept: notifications go to every department concerned', 'secretary, admin', { parameters: [idParam] }) },
    '/api/cases/{id}/return': { post: op('Return for correction', 'secretary, admin', { parameters: [idParam], ...withBody('Reason') }) },
    '/api/cases/{id}/resubmit': { post: op('Resubmit a returned case with the corrected application', 'secretary, admin', { parameters: [idParam], ...withBody('Application') }) },
    '/api/cases/{id}/terminate': { post: op('Terminate the procedure', 'secretary, registrar, admin', { parameters: [idParam], ...withBody('Reason') }) },
    '/api/cases/{id}/reviews/{departmentId}/opinion': { post: op("A department's opinion: approve, refuse or extend", 'reviewer of that department', { parameters: [idParam, depParam], ...signedBody('opinion', 'Opinion') }) },
    '/api/cases/{id}/licence': { post: op('Issue the licence with a new unified social credit code', 'registrar', { parameters: [idParam] }) },
    '/api/cases/{id}/permits/{departmentId}': { post: op('Report an issued permit', 'reviewer of that department (signed), registrar (JSON)', { parameters: [idParam, depParam], ...signedBody('permit', 'Permit') }) },
    '/api/cases/{id}/events': { get: { summary: 'Server-sent events of one case (Last-Event-ID resumes)', parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'text/event-stream' } } } },
    '/api/events': { get: { summary: 'Server-sent events of all visible cases (Last-Event-ID resumes)', security: [{ bearer: [] }], responses: { '200': { description: 'text/event-stream' } } } },
    '/api/supervision/overdue': { get: { summary: 'Overdue and near-deadline reviews, licences, permits; deemed approvals; failed deliveries; open and overdue complaints', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } } },
    '/api/province/status': { get: { summary: 'The pull from the provincial system: cursor and sequence number, last run and success, last error, totals (pages, applied, stale, repeated, quarantined, credit-code warnings, enterprises first seen, refused pages), recent warnings, quarantined records and refused pages', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/refused-messages': { get: { summary: 'Messages refused for their channel, signature, replay or reviewer, newest first (?code=, ?limit=); the raw message truncated, never a token', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/outbox': { get: { summary: 'Outgoing messages by state (default failed)', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } } },
    '/api/outbox/{id}/resend': { post: { summary: 'Resend a failed message', parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/admin/calendar': { get: { summary: 'The working-day calendar: version, covered years, holidays, adjusted working days, edits', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } } },
    '/api/admin/calendar/days/{day}': { put: { summary: 'Set one day: holiday, workday (adjusted weekend) or normal', parameters: [{ name: 'day', in: 'path', required: true, schema: { type: 'string', format: 'date' } }], security: [{ bearer: [] }], ...withBody('CalendarDay'), responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/admin/calendar/years/{year}': { put: { summary: "Cover a year from its State Council notice", parameters: [{ name: 'year', in: 'path', required: true, schema: { type: 'integer' } }], security: [{ bearer: [] }], ...withBody('CalendarYear'), responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/metrics': { get: { summary: 'Prometheus metrics: messages by adapter and state, attempts, retries, delivery latency, deadlines fired, incoming messages', responses: { '200': { description: 'text/plain; version=0.0.4' } } } },
    '/api/admin/config': {
      get: { summary: 'The running configuration version, its document (secrets hidden) and the version history', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } },
      put: { summary: 'Replace the live sections of the configuration (If-Match: version)', security: [{ bearer: [] }], requestBody: { required: true, ...json({ type: 'object', description: 'A document as in schemas/config.schema.json' }) }, responses: { '200': { description: 'New version' }, '4XX': err } },
    },
    '/api/admin/config/reload': { post: { summary: 'Import the configuration file again as the running configuration', security: [{ bearer: [] }], responses: { '200': { description: 'New version' }, '4XX': err } } },
    '/api/admin/adapters': { get: { summary: 'Adapters with kind, state, departments, retry policy and health', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } } },
    '/api/admin/adapters/{name}': {
      get: { summary: 'One adapter (secrets hidden)', parameters: [nameParam], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } },
      put: { summary: 'Add or change an adapter (an entry as in schemas/config.schema.json; If-Match: version)', parameters: [nameParam], security: [{ bearer: [] }], requestBody: { required: true, ...json({ type: 'object' }) }, responses: { '200': { description: 'New version' }, '4XX': err } },
      delete: { summary: 'Remove an adapter no department uses', parameters: [nameParam], security: [{ bearer: [] }], responses: { '200': { description: 'New version' }, '4XX': err } },
    },
    '/api/admin/adapters/{name}/enable': { post: { summary: 'Start an adapter', parameters: [nameParam], security: [{ bearer: [] }], responses: { '200': { description: 'New version' }, '4XX': err } } },
    '/api/admin/adapters/{name}/disable': { post: { summary: "Stop an adapter; its messages wait in the outbox", parameters: [nameParam], security: [{ bearer: [] }], responses: { '200': { description: 'New version' }, '4XX': err } } },
    '/api/admin/adapters/{name}/test': { post: { summary: 'Send a test message (?department=ID); report the round trip or the exact failure', parameters: [nameParam], security: [{ bearer: [] }], responses: { '200': { description: 'Report' }, '4XX': err } } },
    '/api/admin/departments': { get: { summary: 'Departments', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } } },
    '/api/admin/departments/{id}': {
      get: { summary: 'One department', parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } },
      put: { summary: 'Add or change a department (If-Match: version)', parameters: [idParam], security: [{ bearer: [] }], requestBody: { required: true, ...json({ type: 'object' }) }, responses: { '200': { description: 'New version' }, '4XX': err } },
      delete: { summary: 'Remove a department without open reviews or permits', parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'New version' }, '4XX': err } },
    },
    '/api/admin/routes': {
      get: { summary: 'Routes and business-scope items', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } },
      put: { summary: 'Replace the routes (If-Match: version)', security: [{ bearer: [] }], requestBody: { required: true, ...json({ type: 'array' }) }, responses: { '200': { description: 'New version' }, '4XX': err } },
    },
    '/api/admin/eligibility': {
      get: { summary: 'Eligibility rules', security: [{ bearer: [] }], responses: { '200': { description: 'OK' } } },
      put: { summary: 'Replace the eligibility rules (If-Match: version)', security: [{ bearer: [] }], requestBody: { required: true, ...json({ type: 'object' }) }, responses: { '200': { description: 'New version' }, '4XX': err } },
    },
    '/api/cases/{id}/inspections': {
      get: { summary: "The case's follow-up visits (a reviewer sees their department's)", parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } },
      post: { summary: 'Plan a follow-up visit of a licensed enterprise (reviewer of the department that issued the permit)', parameters: [idParam], security: [{ bearer: [] }], ...withBody('InspectionPlan'), responses: { '201': { description: 'Planned' }, '4XX': err } },
    },
    '/api/cases/{id}/inspections/{inspectionId}/result': {
      post: { summary: "The visit's result: a signed envelope (application/jose, kind inspection, stage result) or, where signatures are not required, JSON", parameters: [idParam, { name: 'inspectionId', in: 'path', required: true, schema: { type: 'string' } }], security: [{ bearer: [] }], ...signedBody('inspection', 'InspectionReport'), responses: { '200': { description: 'The inspection' }, '4XX': err } },
    },
    '/api/cases/{id}/inspections/{inspectionId}/reinspection': {
      post: { summary: 'The re-inspection after the rectification period (stage reinspection); a fail revokes the permit', parameters: [idParam, { name: 'inspectionId', in: 'path', required: true, schema: { type: 'string' } }], security: [{ bearer: [] }], ...signedBody('inspection', 'InspectionReport'), responses: { '200': { description: 'The inspection' }, '4XX': err } },
    },
    '/api/inspections': { get: { summary: 'Follow-up visits (?state=, ?departmentId=, ?reinspectionDue=true); a reviewer sees their department\'s', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/cases/{id}/complaints': {
      get: { summary: "Complaints about the case (a reviewer sees those about their department)", parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } },
      post: { summary: "File an applicant's complaint about a department reviewing the case, or about the bureau (departmentId bureau); due in deadlines.complaintDays working days. Unknown case: 404 NOT_FOUND; department not concerned: 422 COMPLAINT_DEPARTMENT_NOT_CONCERNED", description: 'Roles: secretary, registrar (on the applicant\'s behalf).', parameters: [idParam], security: [{ bearer: [] }], ...withBody('Complaint'), responses: { '201': { description: 'Filed' }, '4XX': err } },
    },
    '/api/complaints': { get: { summary: "Complaints (?state=open|answered|resolved|reopened, ?departmentId=, ?caseId=, ?overdue=true, ?limit=); a reviewer sees those about their department", security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/complaints/{id}': { get: { summary: 'One complaint, with overdue (waiting for an answer past its deadline)', parameters: [idParam], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/complaints/{id}/answer': { post: { summary: 'Answer an open or reopened complaint (an answer after the deadline is recorded as late); 409 COMPLAINT_TRANSITION_NOT_ALLOWED otherwise', description: 'Roles: reviewer of the department concerned, supervisor, registrar (complaints about the bureau).', parameters: [idParam], security: [{ bearer: [] }], ...withBody('ComplaintAnswer'), responses: { '200': { description: 'The complaint' }, '4XX': err } } },
    '/api/complaints/{id}/resolve': { post: { summary: 'Close an answered complaint', description: 'Roles: supervisor.', parameters: [idParam], security: [{ bearer: [] }], ...withBody('ComplaintResolve'), responses: { '200': { description: 'The complaint' }, '4XX': err } } },
    '/api/complaints/{id}/reopen': { post: { summary: 'Reopen an answered complaint: a new answer is due within a fresh response period', description: 'Roles: supervisor.', parameters: [idParam], security: [{ bearer: [] }], ...withBody('Reason'), responses: { '200': { description: 'The complaint' }, '4XX': err } } },
    '/api/stats': {
      get: {
        summary: 'Statistics of the cases submitted in a period: cases by state, industry, district, review level and month; hours from delivery to decision per department and per procedure (acceptance, review, licence, permits) as count, mean, median and p90; rates of deemed approval, refusal, extension and delivery failure per department and overall; follow-up visit outcomes',
        description: 'Roles: supervisor, admin. With format=csv the same figures as CSV rows (section, group, key, metric, value). Bad filters: 422 INVALID_STATS_FILTER or UNKNOWN_DEPARTMENT.',
        parameters: [
          { name: 'from', in: 'query', required: false, schema: { type: 'string' }, description: 'YYYY-MM-DD (from that day in Asia/Shanghai) or an ISO-8601 instant' },
          { name: 'to', in: 'query', required: false, schema: { type: 'string' }, description: 'YYYY-MM-DD (that day included) or an ISO-8601 instant (excluded)' },
          { name: 'department', in: 'query', required: false, schema: { type: 'string' }, description: 'Only cases this department reviews, and only its figures' },
          { name: 'district', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{2,6}$' }, description: 'Division code or its prefix' },
          { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: ['json', 'csv'] } },
        ],
        security: [{ bearer: [] }],
        responses: { '200': { description: 'Statistics (JSON, or text/csv)' }, '4XX': err },
      },
    },
    '/api/stats.csv': {
      get: {
        summary: 'The statistics as CSV: columns section, group, key, metric, value',
        description: 'Roles: supervisor, admin. Same filters as /api/stats.',
        parameters: [
          { name: 'from', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'to', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'department', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'district', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{2,6}$' } },
        ],
        security: [{ bearer: [] }],
        responses: { '200': { description: 'text/csv' }, '4XX': err },
      },
    },
    '/api/enterprises': {
      get: {
        summary: 'Enterprises known from the provincial pull, in credit-code order, each with its current status (its newest applied change): credit code, name, division code, status, version, last kind of change, when it occurred, credit-code warning, when first seen',
        description: "Roles: all; a department's reviewer sees only enterprises in its department's area (a district itself, a city its districts), and an empty list for another area. More follow when the answer's next is not null: ask again with after=next. Bad or unknown filters: 422 INVALID_ENTERPRISE_FILTER naming the field.",
        parameters: [
          { name: 'division', in: 'query', required: false, schema: { type: 'string', pattern: '^[0-9]{6}$' }, description: 'A division code as an area: a district (320102) itself, a city (320100) its districts, a province (320000) everything in it' },
          { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: [...ENTERPRISE_STATUSES] } },
          { name: 'q', in: 'query', required: false, schema: { type: 'string', maxLength: 100 }, description: 'Part of the name (case-sensitive)' },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
          { name: 'after', in: 'query', required: false, schema: { type: 'string' }, description: 'The next of the previous page: the credit code after which this page starts' },
        ],
        security: [{ bearer: [] }],
        responses: { '200': { description: '{enterprises, next}', ...json({ type: 'object', required: ['enterprises', 'next'], properties: { enterprises: { type: 'array', items: ref('Enterprise') }, next: { type: ['string', 'null'] } } }) }, '4XX': err },
      },
    },
    '/api/enterprises/{creditCode}': {
      get: {
        summary: 'One enterprise known from the provincial pull, with its applied changes newest first (at most 100; historyTruncated says when there are more)',
        description: "Roles: all; for a department's reviewer an enterprise outside its department's area answers 404 NOT_FOUND like an unknown one. A path that cannot be a credit code (18 characters of 0-9 and A-Z without I, O, S, V, Z, or 15 digits) answers 422 INVALID_CREDIT_CODE.",
        parameters: [{ name: 'creditCode', in: 'path', required: true, schema: { type: 'string' } }],
        security: [{ bearer: [] }],
        responses: {
          '200': { description: 'The enterprise and its history', ...json({ allOf: [ref('Enterprise'), { type: 'object', properties: { history: { type: 'array', items: ref('EnterpriseChange') }, historyTruncated: { type: 'boolean' } } }] }) },
          '4XX': err,
        },
      },
    },
    '/api/supervision/report': {
      get: {
        summary: 'Supervision report of a period (Asia/Shanghai dates, both included), per department: reviews decided or due in it (delivered, decided on time, approved, refused, deemed approvals, extensions, still open, mean days to decide), failed deliveries, complaints received/resolved/overdue, permits reported late',
        description: 'Roles: supervisor, admin.',
        parameters: [
          { name: 'from', in: 'query', required: true, schema: { type: 'string', format: 'date' } },
          { name: 'to', in: 'query', required: true, schema: { type: 'string', format: 'date' } },
          { name: 'department', in: 'query', required: false, schema: { type: 'string' }, description: 'One department (or bureau)' },
        ],
        security: [{ bearer: [] }],
        responses: { '200': { description: 'Report' }, '4XX': err },
      },
    },
    '/api/admin/users': {
      get: { summary: 'Users: name, role, department (never a secret)', description: 'Roles: admin, supervisor.', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } },
      post: { summary: 'Add a user; answers the otpauth:// URI of its TOTP secret, shown this once', description: 'Roles: admin, with step-up.', security: [{ bearer: [] }], ...withBody('User'), responses: { '201': { description: 'Created' }, '4XX': err } },
    },
    '/api/admin/keys': { get: { summary: 'The key registry: kid, owner, algorithm, status, validity, demo, whether this gateway signs with it', description: 'Roles: admin, supervisor.', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/admin/keys/{owner}/rotate': { post: { summary: "Rotate the gateway's or a hosted department's key: the new key signs from now on, the old ones verify until the overlap ends", description: 'Roles: admin, with step-up. KEY_NOT_HELD for a department with its own system.', parameters: [{ name: 'owner', in: 'path', required: true, schema: { type: 'string' } }], security: [{ bearer: [] }], ...withBody('KeyRotate'), responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/admin/keys/{kid}/revoke': { post: { summary: 'Revoke a key, at once', description: 'Roles: admin, with step-up.', parameters: [{ name: 'kid', in: 'path', required: true, schema: { type: 'string' } }], security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } } },
    '/api/audit/verify': { get: { summary: 'Verify the hash-chained audit log', security: [{ bearer: [] }], responses: { '200': { description: 'Report' } } } },
  };
  if (manualClock) {
    paths['/api/admin/clock'] = {
      get: { summary: 'The manual workflow clock (PAG_CLOCK=manual only)', security: [{ bearer: [] }], responses: { '200': { description: 'OK' }, '4XX': err } },
      put: { summary: 'Move the manual workflow clock forward (PAG_CLOCK=manual only)', security: [{ bearer: [] }], ...withBody('Clock'), responses: { '200': { description: 'OK' }, '4XX': err } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Parallel Approval Gateway', version: '0.1.0' },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}
