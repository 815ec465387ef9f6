// Identifiers of stored rows that many indexes carry (cases, outbox messages): time-ordered UUIDs (RFC 9562 version 7).
import { randomFillSync } from 'node:crypto';
import { v7 } from 'uuid';

/** Random bytes drawn from the CSPRNG a pool at a time: uuid asks the system for 16 bytes per id (about 4 µs each). */
const pool = new Uint8Array(4096);
let used = pool.length;

function random16(): Uint8Array {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  // A view, not a copy: uuid reads the bytes at once and keeps none of them.
  const bytes = pool.subarray(used, used + 16);
  used += 16;
  return bytes;
}

/**
 * A new row id. Why version 7 and not random (version 4): its leading 48 bits are the time, so rows made together sort
 * together, and every index keyed by the id (cases, reviews, events by case, outbox) grows at its right edge instead of
 * touching a random page per row; each commit then writes a handful of index pages rather than one per row and index.
 * Ids made within one millisecond are in random order among themselves (nothing relies on more than the time order).
 */
export const newRowId = (): string => v7({ random: random16() });
