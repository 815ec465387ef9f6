// The one error catalogue: every error the gateway reports has a code, an HTTP status and a message template.

/** Catalogue entry: HTTP status, message template ({name} placeholders) and whether a retry may succeed. */
export interface ErrorSpec {
  status: number;
  message: string;
  retryable: boolean;
}

export const ERRORS = {
  // Requests
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON.', retryable: false },
  MALFORMED_PATH: { status: 400, message: 'The request path is not valid percent-encoded UTF-8: {path}', retryable: false },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is larger than {limit} bytes.', retryable: false },
  VALIDATION_FAILED: { status: 422, message: 'The request does not match its schema: {summary}', retryable: false },
  NOT_FOUND: { status: 404, message: 'No such {what}.', retryable: false },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route: {method} {path}.', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as {expected}.', retryable: false },
  MALFORMED_XML: { status: 400, message: 'The XML document is not well-formed or not allowed: {reason}', retryable: false },
  XML_LIMIT_EXCEEDED: { status: 413, message: 'The XML document exceeds a limit: {reason}', retryable: false },
  // Identity and roles
  UNAUTHENTICATED: { status: 401, message: 'Log in first: send a valid bearer token.', retryable: false },
  LOGIN_FAILED: { status: 401, message: 'Username, password or one-time code is wrong.', retryable: false },
  LOGIN_RATE_LIMITED: { status: 429, message: 'Too many login attempts; try again in {seconds} seconds.', retryable: true },
  FORBIDDEN: { status: 403, message: 'Your role may not do this.', retryable: false },
  STEP_UP_REQUIRED: { status: 403, message: 'This action needs a fresh one-time code: confirm with POST /api/auth/step-up, then try again.', retryable: true },
  STEP_UP_FAILED: { status: 401, message: 'The one-time code was not accepted.', retryable: false },
  KEY_NOT_HELD: { status: 409, message: 'This gateway does not hold the private keys of {owner}: that department rotates its key in its own system, and the new public key is imported.', retryable: false },
  USER_EXISTS: { status: 409, message: 'A user named {username} already exists.', retryable: false },
  CHANNEL_NOT_BOUND: { status: 403, message: 'Department {departmentId} does not send over channel {channel}.', retryable: false },
  // Signed messages
  MESSAGE_UNSIGNED: { status: 401, message: 'The message carries no signature.', retryable: false },
  SIGNATURE_INVALID: { status: 401, message: 'The message signature does not verify: {reason}', retryable: false },
  KEY_NOT_VALID: { status: 401, message: 'The signing key may not be used: {reason}', retryable: false },
  MESSAGE_EXPIRED: { status: 401, message: 'The message was issued at {issuedAt}, outside the accepted window of {windowSeconds} seconds.', retryable: false },
  MESSAGE_REPLAYED: { status: 409, message: 'Message {messageId} was already received with other content.', retryable: false },
  MESSAGE_MISADDRESSED: { status: 403, message: 'The message is addressed to {receiver}, not to this gateway.', retryable: false },
  REQUEST_HASH_UNKNOWN: { status: 422, message: 'The answer quotes a request this gateway did not send to {departmentId}.', retryable: false },
  // Gateway peering: another gateway as a department's channel
  PEER_UNKNOWN: { status: 403, message: 'Gateway {gatewayId} is not a configured peer of this gateway.', retryable: false },
  PEER_NOT_ALLOWED: { status: 403, message: 'Peer gateway {gatewayId} may not ask department {departmentId} for reviews.', retryable: false },
  DEPARTMENT_SIGNATURE_INVALID: { status: 401, message: 'The opinion forwarded for {departmentId} does not carry a valid signature of that department: {reason}', retryable: false },
  REVIEWER_ASSERTION_INVALID: { status: 403, message: 'The reviewer assertion for {departmentId} is not accepted: it must be signed by the gateway serving that department, for this gateway, and unexpired.', retryable: false },
  REVIEWER_NOT_AUTHORISED: { status: 403, message: 'The reviewer may not answer for {departmentId}: log in again as a reviewer of that department, with password and one-time code.', retryable: false },
  // Cases and workflow
  DUPLICATE_APPLICATION: { status: 409, message: 'An application for {enterpriseName} in {divisionCode} is already pending as case {caseId}.', retryable: false },
  IDEMPOTENCY_KEY_REUSED: { status: 422, message: 'This Idempotency-Key was already used for a different request.', retryable: false },
  TRANSITION_NOT_ALLOWED: { status: 409, message: 'Cannot {action} a case that is {status}.', retryable: false },
  REVIEW_NOT_OPEN: { status: 409, message: 'The review by {departmentId} is {state} and takes no opinion now.', retryable: false },
  // An answer can overtake the record of its request's delivery (a receipt and an opinion sent together are taken in
  // parallel): not yet, rather than never.
  REVIEW_NOT_DELIVERED: { status: 409, message: 'The request to {departmentId} is not yet recorded as delivered; send the answer again shortly.', retryable: true },
  ALREADY_EXTENDED: { status: 409, message: 'The review by {departmentId} has already been extended once.', retryable: false },
  CHAIN_STEP_NOT_OPEN: { status: 409, message: 'The review by {departmentId} is a later step of a chain and opens when {waitingFor} has approved.', retryable: false },
  EXTENSION_NOT_ALLOWED: { status: 409, message: 'The review by {departmentId} cannot be extended: {reason}.', retryable: false },
  FOLLOW_UP_NOT_ALLOWED: { status: 409, message: 'No follow-up visit by {departmentId} here: {reason}.', retryable: false },
  INSPECTION_NOT_OPEN: { status: 409, message: 'Inspection {inspectionId} is {state} and takes no such result now.', retryable: false },
  INSPECTION_NOT_DUE: { status: 409, message: 'Inspection {inspectionId} may be re-inspected from {rectifyDueAt}, when the rectification period ends.', retryable: false },
  COMPLAINT_DEPARTMENT_NOT_CONCERNED: { status: 422, message: 'Department {departmentId} has no part in case {caseId}: a complaint may concern a department reviewing the case, or the bureau.', retryable: false },
  COMPLAINT_TRANSITION_NOT_ALLOWED: { status: 409, message: 'Cannot {action} complaint {complaintId}: it is {state}.', retryable: false },
  INVALID_STATS_FILTER: { status: 422, message: 'The statistics filter {field} is invalid: {reason}.', retryable: false },
  INVALID_ENTERPRISE_FILTER: { status: 422, message: 'The enterprise filter {field} is invalid: {reason}.', retryable: false },
  UNKNOWN_DEPARTMENT: { status: 422, message: 'Unknown department {departmentId}.', retryable: false },
  UNKNOWN_SCOPE_ITEM: { status: 422, message: 'Unknown business-scope item {item}.', retryable: false },
  UNKNOWN_DIVISION: { status: 422, message: 'No route for division code {divisionCode}.', retryable: false },
  PERMIT_NOT_EXPECTED: { status: 409, message: 'No permit is expected from {departmentId} for this case.', retryable: false },
  MESSAGE_NOT_FOUND: { status: 404, message: 'No message {messageId} was sent to {departmentId}.', retryable: false },
  PERMIT_ALREADY_REPORTED: { status: 409, message: 'The permit from {departmentId} was already reported.', retryable: false },
  // Codes and calendar
  INVALID_CREDIT_CODE: { status: 422, message: 'Invalid unified social credit code: {reason}', retryable: false },
  CREDIT_CODE_BLOCK_EXHAUSTED: { status: 503, message: 'The credit-code block {block} of authority {authority} is exhausted; configure a new block.', retryable: false },
  CREDIT_CODE_BLOCK_INVALID: { status: 500, message: 'The credit-code block {block} of authority {authority} is misconfigured: {reason}', retryable: false },
  CALENDAR_NOT_COVERED: { status: 422, message: 'The working-day calendar does not cover {date}.', retryable: false },
  // Administration
  CLOCK_NOT_MANUAL: { status: 404, message: 'The clock can only be set when PAG_CLOCK=manual.', retryable: false },
  CONFIG_INVALID: { status: 500, message: 'Configuration {file} is invalid at {path}: {reason}', retryable: false },
  CONFIG_CHANGE_INVALID: { status: 422, message: 'The configuration change is refused at {path}: {reason}', retryable: false },
  CONFIG_VERSION_CONFLICT: { status: 409, message: 'The configuration changed since version {expected}; it is now version {current}.', retryable: false },
  DEPARTMENT_IN_USE: { status: 409, message: 'Department {departmentId} still has {count} open reviews or permits.', retryable: false },
  // The provincial system
  PROVINCE_UNAVAILABLE: { status: 503, message: 'The provincial system did not serve the page: {reason}', retryable: true },
  PROVINCE_PAGE_INVALID: { status: 502, message: 'A page from the provincial system is not a page of status changes: {reason}', retryable: false },
  PROVINCE_PAGE_GAP: { status: 502, message: 'The page from the provincial system does not go on from sequence number {expected} (it has {got}); it is fetched again.', retryable: true },
  PROVINCE_RECORD_MALFORMED: { status: 422, message: 'A status change from the provincial system cannot be applied: {reason}', retryable: false },
  PROVINCE_PULL_NOT_CONFIGURED: { status: 404, message: 'No pull from the provincial system is configured (province.pull).', retryable: false },
  // Audit
  AUDIT_BUNDLE_INVALID: { status: 422, message: 'The audit bundle {file} cannot be read: {reason}', retryable: false },
  // Fallback
  INTERNAL: { status: 500, message: 'Internal error; the event was logged as {ref}.', retryable: true },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A catalogued error: thrown anywhere, rendered by the HTTP layer as `{error: {code, message, details}}`. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, params: Record<string, unknown> = {}, details: Record<string, unknown> = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(spec.message.replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`)));
    this.name = 'GatewayError';
    this.code = code;
    this.status = spec.status;
    this.retryable = spec.retryable;
    this.details = { ...params, ...details };
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return Object.keys(this.details).length
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function fail(code: ErrorCode, params?: Record<string, unknown>, details?: Record<string, unknown>): never {
  throw new GatewayError(code, params, details);
}
