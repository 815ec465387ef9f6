// The approval documents of schemas/xml/approval.xsd: writing the gateway's messages, reading departments' ones, results.
import { XMLBuilder } from 'fast-xml-parser';
import type { CaseStatusView, InboundResult, IncomingKind, IncomingMessage, OutgoingMessage } from '../../adapters/adapter.js';
import { GatewayError } from '../domain/errors.js';
import { readXml, sequence, XML_LIMITS, type FieldRule, type XmlElement, type XmlLimits } from './read.js';

export const APPROVAL_NS = 'urn:pag:approval:1';

// The same rules as the XSD's simple types; a unit test validates the documents against the XSD with xmllint.
export const IDENTIFIER = /^[\x21-\x7e]{1,128}$/;
export const DEPARTMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const DECISIONS = ['approve', 'refuse', 'extend'] as const;

/** xs:dateTime as the gateway accepts it: a full date and time with a zone. */
export const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
export const HASH = /^[A-Za-z0-9_-]{43}$/;
/** The enveloped XML-DSig signature's namespace; a signed document's last child is its Signature. */
const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';

/** The header every department document carries, as X-Road's protocol has it: who, to whom, which case, when, answering what. */
const COMMON: FieldRule[] = [
  { name: 'messageId', required: true, pattern: IDENTIFIER },
  { name: 'departmentId', required: true, pattern: DEPARTMENT_ID },
  { name: 'receiver', required: true, pattern: IDENTIFIER },
  { name: 'caseId', required: true, pattern: IDENTIFIER },
  { name: 'issuedAt', required: true, pattern: DATE_TIME },
  { name: 'requestHash', pattern: HASH },
];

/** Fields of each incoming document, in XSD sequence order. */
export const INCOMING_RULES: Record<IncomingKind, FieldRule[]> = {
  opinion: [...COMMON, { name: 'decision', required: true, values: DECISIONS }, { name: 'reasons', maxLength: 2000 }],
  receipt: [...COMMON, { name: 'ackOf', required: true, pattern: IDENTIFIER }],
  permit: [...COMMON, { name: 'permitNumber', required: true, maxLength: 64, pattern: /^[\s\S]+$/ }],
  inspection: [
    ...COMMON,
    { name: 'inspectionId', required: true, pattern: IDENTIFIER },
    { name: 'stage', required: true, values: ['result', 'reinspection'] },
    { name: 'outcome', required: true, values: ['pass', 'fail'] },
    { name: 'findings', maxLength: 2000 },
  ],
};

/** Root element name of each incoming kind (and SOAP's wrapper names map onto the same kinds). */
export const INCOMING_ROOTS: Record<string, IncomingKind> = { opinion: 'opinion', receipt: 'receipt', permitReport: 'permit', inspectionReport: 'inspection' };

/** Maps a checked field record onto the inbound message; every value is a string, as the XSD says. */
export function incomingFrom(kind: IncomingKind, f: Record<string, unknown>): IncomingMessage {
  const msg: IncomingMessage = { messageId: String(f.messageId), kind, departmentId: String(f.departmentId), caseId: String(f.caseId) };
  if (typeof f.requestHash === 'string') msg.requestHash = f.requestHash;
  if (kind === 'opinion') {
    msg.decision = f.decision as IncomingMessage['decision'];
    msg.reasons = typeof f.reasons === 'string' ? f.reasons : null;
  } else if (kind === 'receipt') msg.ackOf = String(f.ackOf);
  else if (kind === 'inspection') {
    msg.inspectionId = String(f.inspectionId);
    msg.stage = f.stage as IncomingMessage['stage'];
    msg.outcome = f.outcome as IncomingMessage['outcome'];
    msg.findings = typeof f.findings === 'string' ? f.findings : null;
  } else msg.permitNumber = String(f.permitNumber);
  return msg;
}

/** A department's document as read: the message, its addressee and its issue time (checked by the inbound service). */
export interface IncomingDocument {
  msg: IncomingMessage;
  receiver: string;
  issuedAt: string;
  /** Whether the root's last child is an XML-DSig Signature (verified elsewhere). */
  signed: boolean;
}

/** Reads an incoming document (opinion, receipt, permitReport) with the hardened reader and checks it against the XSD's rules. */
export function readIncoming(body: string | Buffer, limits: XmlLimits = XML_LIMITS): IncomingDocument {
  return incomingElement(readXml(body, limits));
}

export function incomingElement(root: XmlElement): IncomingDocument {
  const kind = INCOMING_ROOTS[root.name];
  if (!kind || root.ns !== APPROVAL_NS) throw new GatewayError('MALFORMED_XML', { reason: `the root element must be opinion, receipt, permitReport or inspectionReport in namespace ${APPROVAL_NS}` });
  const { fields, signed } = withoutSignature(root);
  const f = sequence(fields, APPROVAL_NS, INCOMING_RULES[kind]);
  return { msg: incomingFrom(kind, f), receiver: String(f.receiver), issuedAt: String(f.issuedAt), signed };
}

/** The root without its enveloped signature, which may only be the last child (the XSD's trailing xs:any). */
function withoutSignature(root: XmlElement): { fields: XmlElement; signed: boolean } {
  const last = root.children[root.children.length - 1];
  const signed = last?.ns === DSIG_NS && last.name === 'Signature';
  return { fields: signed ? { ...root, children: root.children.slice(0, -1) } : root, signed };
}

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', format: false, suppressEmptyNode: false, processEntities: true });

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** Serialises `{root: {...}}` with the approval namespace on the root; text is escaped by the builder. */
export function approvalDocument(root: string, body: Record<string, unknown>): string {
  return DECLARATION + builder.build({ [root]: { '@_xmlns': APPROVAL_NS, ...body } });
}

const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** Root element per outgoing kind. */
const OUTGOING_ROOTS: Record<string, string> = { notification: 'notification', cancellation: 'cancellation', extension_ack: 'extensionAck', 'province-report': 'enterpriseReport' };

/** The XML form of an outgoing message; null for a kind that has no form in the XSD. */
export function outgoingDocument(msg: OutgoingMessage, issuedAt: Date): string | null {
  const root = OUTGOING_ROOTS[msg.kind];
  if (!root) return null;
  const p = msg.payload;
  const header = {
    messageId: msg.id,
    kind: msg.kind,
    sender: msg.sender,
    receiver: msg.departmentId,
    ...(msg.caseId ? { caseId: msg.caseId } : {}),
    issuedAt: issuedAt.toISOString(),
    attempt: String(msg.attempt),
  };
  if (root === 'notification') {
    const contact = (p.contact ?? {}) as Record<string, unknown>;
    const scope = Array.isArray(p.businessScope) ? p.businessScope.map(str) : [];
    return approvalDocument(root, {
      header,
      form: {
        reference: str(p.reference),
        departmentId: str(p.departmentId ?? msg.departmentId),
        level: str(p.level),
        enterpriseName: str(p.enterpriseName),
        legalForm: str(p.legalForm),
        registeredCapital: str(p.registeredCapital),
        industry: str(p.industry),
        businessScope: { item: scope },
        address: str(p.address),
        divisionCode: str(p.divisionCode),
        contact: { name: str(contact.name), phone: str(contact.phone) },
        reviewDays: str(p.reviewDays),
      },
    });
  }
  if (root === 'cancellation') return approvalDocument(root, { header, reference: str(p.reference), reason: str(p.reason) });
  if (root === 'enterpriseReport') {
    const details = Object.entries((p.details ?? {}) as Record<string, unknown>).map(([name, value]) => ({ '@_name': name, '#text': str(value) }));
    return approvalDocument(root, {
      header,
      event: str(p.event),
      occurredAt: str(p.occurredAt),
      reference: str(p.reference),
      ...(p.creditCode ? { creditCode: str(p.creditCode) } : {}),
      enterpriseName: str(p.enterpriseName),
      divisionCode: str(p.divisionCode),
      ...(details.length ? { detail: details } : {}),
    });
  }
  return approvalDocument(root, { header, reference: str(p.reference), dueAt: str(p.dueAt) });
}

const HEADER_RULES: FieldRule[] = [
  { name: 'messageId', required: true, pattern: IDENTIFIER },
  { name: 'kind', required: true },
  { name: 'sender', required: true },
  { name: 'receiver', required: true, pattern: DEPARTMENT_ID },
  { name: 'caseId', pattern: IDENTIFIER },
  { name: 'issuedAt', required: true },
  { name: 'attempt', required: true, pattern: /^[1-9][0-9]*$/ },
];

/** What a department reads from one of the gateway's documents (used by the simulated departments and tests). */
export interface ReadOutgoing {
  kind: string;
  messageId: string;
  sender: string;
  receiver: string;
  caseId: string | null;
  issuedAt: string;
  attempt: string;
  fields: Record<string, string>;
}

/** Reads a gateway document as a department would: header checked against the XSD's rules, the body's leaf texts by path. */
export function readOutgoing(body: string | Buffer, limits: XmlLimits = XML_LIMITS): ReadOutgoing {
  const root = readXml(body, limits);
  if (root.ns !== APPROVAL_NS || !Object.values(OUTGOING_ROOTS).includes(root.name)) throw new GatewayError('MALFORMED_XML', { reason: 'not a gateway message' });
  const [header, ...rest] = withoutSignature(root).fields.children;
  if (!header || header.name !== 'header') throw new GatewayError('MALFORMED_XML', { reason: 'the header comes first' });
  const h = sequence(header, APPROVAL_NS, HEADER_RULES) as Record<string, string | undefined>;
  const fields: Record<string, string> = {};
  const walk = (el: XmlElement, path: string) => {
    if (el.children.length === 0) fields[path] = fields[path] === undefined ? el.text : `${fields[path]},${el.text}`;
    for (const c of el.children) walk(c, `${path}.${c.name}`);
  };
  for (const c of rest) walk(c, c.name);
  return { kind: h.kind!, messageId: h.messageId!, sender: h.sender!, receiver: h.receiver!, caseId: h.caseId ?? null, issuedAt: h.issuedAt!, attempt: h.attempt!, fields };
}

/** An incoming document as a department writes it (unsigned; the department signs it with signXml). */
export function incomingDocument(msg: IncomingMessage, header: { receiver: string; issuedAt: string }): string {
  const root = Object.entries(INCOMING_ROOTS).find(([, k]) => k === msg.kind)![0];
  const base = {
    messageId: msg.messageId,
    departmentId: msg.departmentId,
    receiver: header.receiver,
    caseId: msg.caseId,
    issuedAt: header.issuedAt,
    ...(msg.requestHash ? { requestHash: msg.requestHash } : {}),
  };
  if (msg.kind === 'opinion') return approvalDocument(root, { ...base, decision: msg.decision, ...(msg.reasons ? { reasons: msg.reasons } : {}) });
  if (msg.kind === 'receipt') return approvalDocument(root, { ...base, ackOf: msg.ackOf });
  if (msg.kind === 'inspection') {
    return approvalDocument(root, { ...base, inspectionId: msg.inspectionId, stage: msg.stage, outcome: msg.outcome, ...(msg.findings ? { findings: msg.findings } : {}) });
  }
  return approvalDocument(root, { ...base, permitNumber: msg.permitNumber });
}

/** The gateway's answer to an incoming document. */
export function resultDocument(r: InboundResult): string {
  return r.ok
    ? approvalDocument('result', { accepted: { duplicate: String(r.duplicate), caseId: r.caseId, caseStatus: r.caseStatus } })
    : approvalDocument('result', { refused: { code: r.code, message: r.message, retryable: String(r.retryable) } });
}

/** Reads a result document (a department's side of the exchange). */
export function readResult(body: string | Buffer): InboundResult {
  const root = readXml(body);
  if (root.name !== 'result' || root.ns !== APPROVAL_NS || root.children.length !== 1) throw new GatewayError('MALFORMED_XML', { reason: 'not a result document' });
  const c = root.children[0]!;
  if (c.name === 'accepted') {
    const f = sequence(c, APPROVAL_NS, [{ name: 'duplicate', required: true }, { name: 'caseId', required: true }, { name: 'caseStatus', required: true }]) as Record<string, string>;
    return { ok: true, duplicate: f.duplicate === 'true', caseId: f.caseId!, caseStatus: f.caseStatus! };
  }
  const f = sequence(c, APPROVAL_NS, [{ name: 'code', required: true }, { name: 'message', required: true }, { name: 'retryable', required: true }]) as Record<string, string>;
  return { ok: false, code: f.code!, message: f.message!, retryable: f.retryable === 'true', httpStatus: 0 };
}

/** A case status view as XSD CaseStatus fields (SOAP GetCaseStatus). */
export function caseStatusFields(v: CaseStatusView): Record<string, unknown> {
  return {
    caseId: v.caseId,
    reference: v.reference,
    status: v.status,
    review: v.reviews.map((r) => ({ departmentId: r.departmentId, state: r.state, ...(r.dueAt ? { dueAt: r.dueAt } : {}), ...(r.decision ? { decision: r.decision } : {}) })),
  };
}
