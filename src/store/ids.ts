// Identifiers of stored rows that many indexes carry (cases, outbox messages): time-ordered UUIDs (RFC 9562 version 7).
import { v7 } from 'uuid';

/**
 * A new row id. Why version 7 and not random (version 4): its leading 48 bits are the time, so rows made together sort
 * together, and every index keyed by the id (cases, reviews, events by case, outbox) grows at its right edge instead of
 * touching a random page per row; each commit then writes a handful of index pages rather than one per row and index.
 */
export const newRowId = (): string => v7();
