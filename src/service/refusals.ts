// Refused incoming messages (department answers, peer messages, province pages): the failed trust check, and its record.
import type { InboundResult } from '../../adapters/adapter.js';
import { GatewayError } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import { appendEvents } from '../store/case-repo.js';
import type { Sql } from '../store/sql.js';

/** How much of a refused message is kept for inspection. */
export const REFUSED_RAW_LIMIT = 8192;

/** A refusal as every channel answers it. */
export type Refusal = Extract<InboundResult, { ok: false }>;

export const refusal = (e: GatewayError): Refusal => ({ ok: false, code: e.code, httpStatus: e.status, message: e.message, retryable: e.retryable });

/** The three factors of an answer (channel, department's signature, reviewer), plus the message's own identity (replay, request). */
export type Factor = 'channel' | 'signature' | 'message' | 'reviewer';

/** A trust check that failed: the caller's error, and for the record which factor failed and why (never sent to the caller). */
export class Untrusted extends Error {
  constructor(
    readonly error: GatewayError,
    readonly factor: Factor,
    readonly reason: string,
  ) {
    super(error.message);
  }
}

/** What a refusal's record and its `message.refused` event say. */
export interface RefusalRecord {
  channel: string;
  claimedSender: string | null;
  messageId: string | null;
  kind: string | null;
  caseId: string | null;
  code: string;
  factor?: Factor;
  reason: string;
}

/**
 * Keeps a refused message for inspection and audits it, in the caller's transaction. Not on the case (the event's case
 * is null): a refused message leaves the case and its timeline as they were.
 */
export async function recordRefusal(sql: Sql, at: number, actor: Actor, record: RefusalRecord, raw: string): Promise<void> {
  await sql.run('INSERT INTO refused_messages (at, channel, claimed_sender, message_id, kind, case_id, code, reason, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
    at, record.channel, record.claimedSender, record.messageId, record.kind, record.caseId, record.code,
    (record.factor ? `${record.factor}: ${record.reason}` : record.reason).slice(0, 1000),
    // NUL as U+FFFD: PostgreSQL text cannot hold it, and the refusal would go unrecorded.
    raw.slice(0, REFUSED_RAW_LIMIT).replace(/\u0000/g, '\uFFFD'),
  ]);
  await appendEvents(sql, null, at, actor, [{ action: 'message.refused', data: { ...record } }]);
}
