// Fetching one page of the province's feed: GET after a cursor, then the page's signature, addressee, kind and shape checked.
import type { ProvincePullConfig } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import { readPage, type Identified } from '../domain/province-change.js';
import { verifyEnvelope } from '../trust/envelope.js';
import type { KeyRegistry } from '../trust/keys.js';

/** The kind of message a page is (the signed envelope's kind). */
export const PAGE_KIND = 'province-changes';

/** A page as fetched: verified and read, or why not (retryable: the province was down; otherwise: refused). */
export type Fetched =
  | { ok: true; page: { cursor: string; next: string; more: boolean }; records: Identified[] }
  | { ok: false; error: GatewayError; raw: string | null };

/** GET one page and verify it; never throws (a failure is the result, with the raw body kept for a refusal). */
export async function fetchPage(cfg: ProvincePullConfig, keys: KeyRegistry, gatewayId: string, cursor: string): Promise<Fetched> {
  const url = new URL(cfg.url);
  url.searchParams.set('cursor', cursor);
  url.searchParams.set('limit', String(cfg.pageSize));
  let raw: string;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(cfg.timeoutMs), headers: { accept: 'application/jose' } });
    raw = await res.text();
    if (res.status !== 200) return { ok: false, error: new GatewayError('PROVINCE_UNAVAILABLE', { reason: `HTTP ${res.status}` }), raw: null };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { ok: false, error: new GatewayError('PROVINCE_UNAVAILABLE', { reason: cause ?? (e as Error).name ?? 'no answer' }), raw: null };
  }
  try {
    // The province is the one sender of this feed; a page it did not sign is refused for its key or signature.
    const v = await verifyEnvelope(keys, raw, { receiver: gatewayId, windowSeconds: 300, sender: cfg.sender });
    if (v.envelope.kind !== PAGE_KIND) throw new GatewayError('PROVINCE_PAGE_INVALID', { reason: `a message of kind ${v.envelope.kind}, not ${PAGE_KIND}` });
    const read = readPage(v.envelope.body);
    if (read.page.cursor !== cursor) throw new GatewayError('PROVINCE_PAGE_INVALID', { reason: `the page answers cursor ${JSON.stringify(read.page.cursor).slice(0, 60)}, not the one asked for` });
    return { ok: true, ...read };
  } catch (e) {
    if (e instanceof GatewayError) return { ok: false, error: e, raw };
    return { ok: false, error: new GatewayError('PROVINCE_PAGE_INVALID', { reason: (e as Error).message }), raw };
  }
}
