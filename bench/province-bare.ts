// Bench child: the bare baseline of the province phase, inserting the same change rows as the pull into PostgreSQL (see province.ts).
import { readRecord } from '../src/domain/province-change.js';
import { simRecord } from '../src/province/sim-data.js';
import { PostgresDb } from '../src/store/postgres.js';
import type { Db } from '../src/store/sql.js';
import { PG_URL } from './support.js';

const COLS = ['id', 'seq', 'credit_code', 'kind', 'version', 'division_code', 'name', 'occurred_at', 'outcome', 'warning', 'received_at'];
const TYPES = ['text', 'bigint', 'text', 'text', 'bigint', 'text', 'text', 'bigint', 'text', 'text', 'bigint'];

interface Feed {
  seed: number;
  records: number;
  pageSize: number;
}

/**
 * The baseline: the same change rows, generated beforehand batch by batch (generation not timed), inserted by one
 * multi-row INSERT (unnest of arrays) per batch of the pull's page size, each batch its own transaction, into `table`.
 * No fetch, signature, reconciliation, enterprise registry, audit event or cursor.
 */
async function bareInsert(db: Db, table: string, cfg: Feed, from: number, to: number): Promise<number> {
  const feed = { seed: cfg.seed, total: cfg.records };
  let ms = 0;
  for (let first = from; first <= to; first += cfg.pageSize) {
    const cols: unknown[][] = COLS.map(() => []);
    const now = Date.now();
    for (let s = first; s <= Math.min(first + cfg.pageSize - 1, to); s++) {
      const raw = simRecord(feed, s);
      const r = readRecord({ id: raw.id as string, seq: s, raw });
      const row = r.ok ? [r.record.id, s, r.record.creditCode, r.record.kind, r.record.version, r.record.divisionCode, r.record.name, Date.parse(r.record.occurredAt), 'applied', r.warning, now] : [raw.id, s, String(raw.creditCode), raw.kind, raw.version, raw.divisionCode, raw.name, 0, 'quarantined', null, now];
      row.forEach((v, i) => cols[i]!.push(v));
    }
    const t = performance.now();
    await db.run(`INSERT INTO ${table} (${COLS.join(', ')}) SELECT * FROM unnest(${TYPES.map((ty, i) => `$${i + 1}::${ty}[]`).join(', ')})`, cols);
    ms += performance.now() - t;
  }
  return ms / 1000;
}

let db: Db | null = null;
let feed: Feed | null = null;
process.on('message', (m: (Feed & { schema: string }) | { table: string; from: number; to: number }) => {
  if ('schema' in m) {
    db = new PostgresDb(PG_URL, { schema: m.schema, max: 1 });
    feed = m;
    return;
  }
  bareInsert(db!, m.table, feed!, m.from, m.to).then(
    (seconds) => process.send!({ seconds }),
    (e: Error) => process.send!({ error: e.stack ?? e.message }),
  );
});
