// The pull's status for supervisors and administrators: cursor, runs, totals, recent warnings, quarantined records and refused pages.
import type { ProvincePullConfig } from '../config/load.js';
import type { Db } from '../store/sql.js';
import { PULL_CHANNEL } from './pull.js';
import { readCursor } from './pull-store.js';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

/** The feed's address without credentials or query: what a supervisor may see. */
function feedOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

export async function provinceStatus(db: Db, cfg: ProvincePullConfig | undefined, recent = 20) {
  if (!cfg) return { configured: false as const };
  const row = await readCursor(db, cfg.sender);
  const n = (v: unknown) => Number(v ?? 0);
  const [enterprises, warnings, quarantined, refused] = await Promise.all([
    db.get<{ n: number }>("SELECT COUNT(*) AS n FROM enterprises WHERE source = 'province'"),
    db.all<Record<string, unknown>>('SELECT id, seq, credit_code, warning, received_at FROM province_changes WHERE warning IS NOT NULL ORDER BY seq DESC LIMIT $1', [recent]),
    db.all<Record<string, unknown>>('SELECT id, seq, code, reason, at FROM province_quarantine ORDER BY seq DESC LIMIT $1', [recent]),
    db.all<Record<string, unknown>>('SELECT id, at, message_id, code, reason FROM refused_messages WHERE channel = $1 ORDER BY id DESC LIMIT $2', [PULL_CHANNEL, recent]),
  ]);
  return {
    configured: true as const,
    source: cfg.sender,
    feed: feedOf(cfg.url),
    intervalSeconds: cfg.intervalSeconds,
    pageSize: cfg.pageSize,
    cursor: row?.cursor ?? '',
    seq: n(row?.seq),
    lastRunAt: iso(row?.last_run_at),
    lastSuccessAt: iso(row?.last_success_at),
    lastError: row?.last_error_code ? { code: row.last_error_code, message: row.last_error } : null,
    totals: {
      pages: n(row?.pages), applied: n(row?.applied), stale: n(row?.stale), duplicates: n(row?.duplicates), quarantined: n(row?.quarantined),
      warnings: n(row?.warnings), enterprisesCreated: n(row?.created), refusedPages: n(row?.refused),
    },
    enterprises: n(enterprises?.n),
    recentWarnings: warnings.map((w) => ({ changeId: w.id, seq: n(w.seq), creditCode: w.credit_code, warning: w.warning, receivedAt: iso(w.received_at as number) })),
    recentQuarantined: quarantined.map((q) => ({ changeId: q.id, seq: n(q.seq), code: q.code, reason: q.reason, at: iso(q.at as number) })),
    recentRefusedPages: refused.map((r) => ({ id: n(r.id), at: iso(r.at as number), messageId: r.message_id, code: r.code, reason: r.reason })),
  };
}
