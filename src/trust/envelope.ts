// Signed JSON messages (REST, AMQP): a compact JWS over the message envelope, in the spirit of X-Road's message protocol.
import { createHash, sign } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { GatewayError } from '../domain/errors.js';
import { KEY_ALGS, type KeyAlg, type KeyRegistry } from './keys.js';

export const PROTOCOL_VERSION = '1.0';
const TYP = 'pag-message+jws';

/** What every message carries besides its body. */
export interface Envelope {
  messageId: string;
  /** Department id, or the gateway's id. */
  sender: string;
  receiver: string;
  caseId: string | null;
  /** ISO-8601. */
  issuedAt: string;
  protocolVersion: string;
  kind: string;
  body: Record<string, unknown>;
  /** An answer names the request it answers by the SHA-256 of the request's compact JWS (base64url). */
  requestHash?: string;
}

/** SHA-256 of a signed message as sent, base64url: what an answer quotes. */
export function messageHash(jws: string): string {
  return createHash('sha256').update(jws).digest('base64url');
}

const b64url = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
/** Where signing inputs are written; grown when a message is longer. Signing is synchronous, so one buffer serves all. */
let scratch = Buffer.allocUnsafe(4096);
/** The protected header of each signing key with its separating dot, encoded once: it depends on the key alone. */
const headers = new Map<string, string>();

// Messages signed in the same millisecond share one issuedAt text; formatting a date cost a fiftieth of an ES256 signature.
let isoMs = Number.NaN;
let isoText = '';
function isoAt(ms: number): string {
  if (ms !== isoMs) {
    isoText = new Date(ms).toISOString();
    isoMs = ms;
  }
  return isoText;
}

/**
 * Signs an envelope with `owner`'s current key (the gateway's, or a simulated department's in demos and tests), as a
 * compact JWS (RFC 7515), synchronously (the signature is CPU work; a promise would only add its own cost). Why node:crypto and not jose here: jose signs through WebCrypto, which for ES256 and EdDSA
 * made a fifth to a quarter of the signatures per second that node:crypto makes with the same key (`npm run bench`,
 * signing phase). The signature itself is node:crypto's; ES256 uses JOSE's r||s form (ieee-p1363). Every signature is
 * checked by jose on the receiving side (verifyEnvelope), and the unit tests verify each algorithm's output with jose.
 */
export function signEnvelope(registry: KeyRegistry, owner: string, e: Omit<Envelope, 'protocolVersion' | 'issuedAt'> & { issuedAt?: string }, now = Date.now()): string {
  const { entry, key } = registry.signingKey(owner, now);
  // Written field by field rather than spread: a spread (of the caller's object, or of an optional field) cost as much
  // as the JSON itself.
  const envelope: Envelope = {
    messageId: e.messageId, sender: e.sender, receiver: e.receiver, caseId: e.caseId, issuedAt: e.issuedAt ?? isoAt(now),
    protocolVersion: PROTOCOL_VERSION, kind: e.kind, body: e.body,
  };
  if (e.requestHash !== undefined) envelope.requestHash = e.requestHash;
  let header = headers.get(entry.kid);
  if (header === undefined) headers.set(entry.kid, (header = `${b64url(JSON.stringify({ alg: entry.alg, kid: entry.kid, typ: TYP }))}.`));
  const payload = b64url(JSON.stringify(envelope));
  // The signing input is written into one reused buffer (base64url text is ASCII, so latin1 writes its bytes): no new
  // buffer per message, and the header and payload strings are not joined before they are signed.
  const length = header.length + payload.length;
  if (scratch.length < length) scratch = Buffer.allocUnsafe(Math.max(length, 2 * scratch.length));
  scratch.write(header, 0, 'latin1');
  scratch.write(payload, header.length, 'latin1');
  const signature = sign(entry.alg === 'EdDSA' ? null : 'sha256', scratch.subarray(0, length), entry.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key);
  return `${header}${payload}.${signature.toString('base64url')}`;
}

export interface VerifyOptions {
  /** This gateway's id: a message for anyone else is refused. */
  receiver: string;
  /** Accepted distance of issuedAt from now, either way. */
  windowSeconds: number;
  now?: number;
  /** The registry owner of a sender's keys when it is not the sender's id (a department reads the gateway's as 'gateway'). */
  keyOwner?: (sender: string) => string;
  /** false: issuedAt is not checked (the exact bytes were accepted before, within the window; a resend is not a replay). */
  checkWindow?: boolean;
  /**
   * The one sender accepted (a feed the gateway pulls from a known party): its key is chosen without reading the
   * unverified payload, so a large payload is decoded and parsed once, after verification; any other sender is refused.
   */
  sender?: string;
}

/** A verified message: its envelope, the key that signed it, and its hash (for the answer and the inbox). */
export interface Verified {
  envelope: Envelope;
  kid: string;
  alg: KeyAlg;
  hash: string;
}

const invalid = (reason: string) => new GatewayError('SIGNATURE_INVALID', { reason });

/**
 * Verifies a compact JWS message: a registered, current key of the sender it names, a valid signature, addressed to this
 * gateway, issued within the window. Each failure has its own code; replay (a message id seen before) is the inbox's check.
 */
export async function verifyEnvelope(registry: KeyRegistry, jws: string | undefined | null, o: VerifyOptions): Promise<Verified> {
  if (!jws || !jws.trim()) throw new GatewayError('MESSAGE_UNSIGNED');
  const token = jws.trim();
  const parts = token.split('.');
  if (parts.length !== 3) throw invalid('not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claimed: Partial<Envelope>;
  try {
    header = decodeProtectedHeader(token);
    // The sender is read before verification only to choose the key; nothing else is trusted until the signature holds.
    claimed = o.sender !== undefined ? { sender: o.sender } : (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Partial<Envelope>);
  } catch {
    throw invalid('the header or payload is not base64url JSON');
  }
  // JSON such as "null", 1 or [] parses but is no envelope: reading a sender from null threw a TypeError, answered as
  // INTERNAL (500); an unsigned-by-anyone request must get a catalogued refusal.
  if (typeof claimed !== 'object' || claimed === null || Array.isArray(claimed)) throw invalid('the payload is not a JSON object');
  if (header.typ !== TYP) throw invalid(`typ must be ${TYP}`);
  // JSON.stringify, not String: an object alg with a "toString" member made String() throw, answered as INTERNAL (500).
  if (!KEY_ALGS.includes(header.alg as KeyAlg)) throw invalid(`algorithm ${JSON.stringify(header.alg ?? null).slice(0, 64)} is not accepted`);
  if (typeof header.kid !== 'string' || !header.kid) throw invalid('the header names no kid');
  if (typeof claimed.sender !== 'string') throw invalid('the envelope names no sender');
  const now = o.now ?? Date.now();
  const found = registry.verificationKey(header.kid, o.keyOwner ? o.keyOwner(claimed.sender) : claimed.sender, header.alg as string, now);
  if ('refusal' in found) throw new GatewayError('KEY_NOT_VALID', { reason: found.refusal, kid: header.kid });
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(token, found.key, { algorithms: [found.entry.alg] }));
  } catch (e) {
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) throw invalid('signature mismatch');
    throw invalid((e as Error).message);
  }
  let envelope: Envelope;
  try {
    // Verified bytes may still differ from the base64url reading above (an unencoded payload, b64: false): parse them on their own.
    envelope = JSON.parse(new TextDecoder().decode(payload)) as Envelope;
  } catch {
    throw invalid('the signed payload is not JSON');
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) throw invalid('the signed payload is not a JSON object');
  for (const f of ['messageId', 'sender', 'receiver', 'issuedAt', 'protocolVersion', 'kind'] as const) {
    if (typeof envelope[f] !== 'string' || !envelope[f]) throw invalid(`the envelope has no ${f}`);
  }
  if (typeof envelope.body !== 'object' || envelope.body === null) throw invalid('the envelope has no body');
  if (o.sender !== undefined && envelope.sender !== o.sender) throw invalid(`sent by ${String(envelope.sender).slice(0, 64)}, not ${o.sender}`);
  if (envelope.protocolVersion.split('.')[0] !== PROTOCOL_VERSION.split('.')[0]) throw invalid(`protocol version ${envelope.protocolVersion} is not supported`);
  if (envelope.receiver !== o.receiver) throw new GatewayError('MESSAGE_MISADDRESSED', { receiver: envelope.receiver });
  const issued = Date.parse(envelope.issuedAt);
  if (!Number.isFinite(issued) || (o.checkWindow !== false && Math.abs(now - issued) > o.windowSeconds * 1000)) {
    throw new GatewayError('MESSAGE_EXPIRED', { issuedAt: envelope.issuedAt, windowSeconds: o.windowSeconds });
  }
  return { envelope, kid: found.entry.kid, alg: found.entry.alg, hash: messageHash(token) };
}
