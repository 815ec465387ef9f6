// Schema migrations, written once in the SQL both dialects share; applied in order at start-up.
import type { Db } from './sql.js';

const PENDING = "('submitted', 'returned', 'in_review', 'awaiting_licence')";

/**
 * Each migration is a list of statements; {serial} becomes the dialect's auto-incrementing key; a statement starting
 * with {postgres} runs on PostgreSQL only, one starting with {sqlite} on SQLite only.
 */
const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE cases (
      id TEXT PRIMARY KEY,
      reference TEXT NOT NULL UNIQUE,
      status TEXT NOT NULL,
      enterprise_name TEXT NOT NULL,
      division_code TEXT NOT NULL,
      industry TEXT NOT NULL,
      application TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      refused_rule TEXT,
      status_reason TEXT,
      licence_due_at BIGINT,
      licence_due_provisional INTEGER NOT NULL DEFAULT 0,
      licence_overdue_at BIGINT,
      credit_code TEXT UNIQUE,
      licence_issued_at BIGINT,
      licence_issued_by TEXT,
      version INTEGER NOT NULL
    )`,
    // At most one pending application per enterprise name and district, enforced by the database itself.
    `CREATE UNIQUE INDEX cases_pending_name ON cases (division_code, enterprise_name) WHERE status IN ${PENDING}`,
    `CREATE INDEX cases_status ON cases (status, created_at)`,
    `CREATE INDEX cases_licence_due ON cases (licence_due_at) WHERE status = 'awaiting_licence' AND licence_overdue_at IS NULL`,
    `CREATE TABLE reviews (
      case_id TEXT NOT NULL REFERENCES cases (id),
      department_id TEXT NOT NULL,
      level TEXT NOT NULL,
      state TEXT NOT NULL,
      delivered_at BIGINT,
      due_at BIGINT,
      provisional INTEGER NOT NULL DEFAULT 0,
      extended INTEGER NOT NULL DEFAULT 0,
      decision TEXT,
      reasons TEXT,
      answered_by TEXT,
      answered_via TEXT,
      decided_at BIGINT,
      PRIMARY KEY (case_id, department_id)
    )`,
    `CREATE INDEX reviews_due ON reviews (due_at) WHERE state IN ('delivered', 'extended')`,
    `CREATE INDEX reviews_department ON reviews (department_id, state)`,
    `CREATE TABLE permits (
      case_id TEXT NOT NULL REFERENCES cases (id),
      department_id TEXT NOT NULL,
      due_at BIGINT NOT NULL,
      provisional INTEGER NOT NULL DEFAULT 0,
      reported_at BIGINT,
      permit_number TEXT,
      overdue_at BIGINT,
      PRIMARY KEY (case_id, department_id)
    )`,
    `CREATE INDEX permits_due ON permits (due_at) WHERE reported_at IS NULL AND overdue_at IS NULL`,
    `CREATE TABLE events (
      seq {serial},
      case_id TEXT,
      at BIGINT NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      data TEXT NOT NULL,
      chain_pos BIGINT UNIQUE,
      hash TEXT
    )`,
    `CREATE INDEX events_case ON events (case_id, seq)`,
    `CREATE INDEX events_unsealed ON events (seq) WHERE chain_pos IS NULL`,
    `CREATE TABLE audit_head (id INTEGER PRIMARY KEY, pos BIGINT NOT NULL, hash TEXT NOT NULL)`,
    `INSERT INTO audit_head (id, pos, hash) VALUES (1, 0, '${'0'.repeat(64)}')`,
    `CREATE TABLE outbox (
      id TEXT PRIMARY KEY,
      case_id TEXT,
      department_id TEXT NOT NULL,
      adapter TEXT NOT NULL,
      kind TEXT NOT NULL,
      payload TEXT NOT NULL,
      state TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at BIGINT NOT NULL,
      lease_until BIGINT,
      lease_owner TEXT,
      last_error TEXT,
      created_at BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      delivered_at BIGINT
    )`,
    `CREATE INDEX outbox_ready ON outbox (next_attempt_at) WHERE state IN ('ready', 'waiting_retry', 'sending')`,
    `CREATE INDEX outbox_case ON outbox (case_id)`,
    `CREATE TABLE delivery_attempts (
      id {serial},
      message_id TEXT NOT NULL,
      at BIGINT NOT NULL,
      outcome TEXT NOT NULL,
      error TEXT
    )`,
    `CREATE INDEX delivery_attempts_message ON delivery_attempts (message_id, id)`,
    `CREATE TABLE inbox (
      message_id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      case_id TEXT,
      received_at BIGINT NOT NULL,
      result TEXT NOT NULL
    )`,
    `CREATE TABLE idempotency (
      key TEXT PRIMARY KEY,
      request_hash TEXT NOT NULL,
      case_id TEXT NOT NULL,
      created_at BIGINT NOT NULL
    )`,
    `CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`,
    `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      password_hash TEXT NOT NULL,
      totp_secret TEXT NOT NULL,
      role TEXT NOT NULL,
      department_id TEXT,
      last_totp_step BIGINT,
      demo INTEGER NOT NULL DEFAULT 0,
      created_at BIGINT NOT NULL
    )`,
    `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `CREATE TABLE calendar_days (
      day TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      source TEXT NOT NULL,
      changed_by TEXT,
      changed_at BIGINT
    )`,
    `CREATE TABLE calendar_years (year INTEGER PRIMARY KEY)`,
  ],
  // 2: messages sent over store-and-forward channels wait for the department's receipt, and go again if none comes.
  [
    `DROP INDEX outbox_ready`,
    `CREATE INDEX outbox_ready ON outbox (next_attempt_at) WHERE state IN ('ready', 'waiting_retry', 'sending', 'waiting_receipt')`,
  ],
  // 3: the running configuration (departments, adapters, routes, rules) as versions, so administrators change it without a restart.
  [
    `CREATE TABLE config_versions (
      version INTEGER PRIMARY KEY,
      document TEXT NOT NULL,
      source TEXT NOT NULL,
      file_hash TEXT,
      changed_by TEXT NOT NULL,
      changed_at BIGINT NOT NULL,
      summary TEXT NOT NULL
    )`,
  ],
  // 4: signed messages. The hash of each accepted incoming message beside its inbox entry (the same id with other content
  // is a replay); the hash of each signed message sent, which an answer may quote; refused messages kept for inspection.
  [
    `CREATE TABLE inbox_hashes (
      message_id TEXT PRIMARY KEY,
      message_hash TEXT NOT NULL,
      sender TEXT NOT NULL,
      received_at BIGINT NOT NULL
    )`,
    `CREATE TABLE sent_hashes (
      message_hash TEXT PRIMARY KEY,
      message_id TEXT NOT NULL,
      department_id TEXT NOT NULL,
      case_id TEXT,
      sent_at BIGINT NOT NULL
    )`,
    `CREATE TABLE refused_messages (
      id {serial},
      at BIGINT NOT NULL,
      channel TEXT NOT NULL,
      claimed_sender TEXT,
      message_id TEXT,
      kind TEXT,
      case_id TEXT,
      code TEXT NOT NULL,
      reason TEXT NOT NULL,
      raw TEXT NOT NULL
    )`,
    `CREATE INDEX refused_messages_at ON refused_messages (at)`,
  ],
  // 5: chained reviews. A later step of a chain names the department whose approval opens it.
  [`ALTER TABLE reviews ADD COLUMN after_department TEXT`],
  // 6: follow-up visits. Inspections of licensed enterprises by the departments that issued their permits; a permit
  // revoked after a failed re-inspection.
  [
    `CREATE TABLE inspections (
      id TEXT PRIMARY KEY,
      case_id TEXT NOT NULL REFERENCES cases (id),
      department_id TEXT NOT NULL,
      state TEXT NOT NULL,
      planned_for BIGINT NOT NULL,
      planned_by TEXT NOT NULL,
      planned_at BIGINT NOT NULL,
      inspected_at BIGINT,
      findings TEXT,
      rectify_due_at BIGINT,
      rectify_provisional INTEGER NOT NULL DEFAULT 0,
      reinspected_at BIGINT,
      reinspection_findings TEXT,
      closed_at BIGINT,
      version INTEGER NOT NULL
    )`,
    `CREATE INDEX inspections_case ON inspections (case_id)`,
    `CREATE INDEX inspections_department ON inspections (department_id, state)`,
    `CREATE INDEX inspections_rectify_due ON inspections (rectify_due_at) WHERE state = 'rectifying'`,
    `ALTER TABLE permits ADD COLUMN revoked_at BIGINT`,
  ],
  // 7: applicants' complaints (efficiency supervision), about a case and a department (or the bureau), each with its
  // response deadline.
  [
    `CREATE TABLE complaints (
      id TEXT PRIMARY KEY,
      case_id TEXT NOT NULL REFERENCES cases (id),
      department_id TEXT NOT NULL,
      text TEXT NOT NULL,
      contact TEXT NOT NULL,
      state TEXT NOT NULL,
      filed_by TEXT NOT NULL,
      filed_at BIGINT NOT NULL,
      due_at BIGINT NOT NULL,
      due_provisional INTEGER NOT NULL DEFAULT 0,
      response TEXT,
      answered_by TEXT,
      answered_at BIGINT,
      answered_late INTEGER NOT NULL DEFAULT 0,
      resolved_by TEXT,
      resolved_at BIGINT,
      reopened INTEGER NOT NULL DEFAULT 0,
      version INTEGER NOT NULL
    )`,
    `CREATE INDEX complaints_case ON complaints (case_id)`,
    `CREATE INDEX complaints_department ON complaints (department_id, state)`,
    `CREATE INDEX complaints_filed ON complaints (filed_at)`,
    `CREATE INDEX complaints_due ON complaints (due_at) WHERE state IN ('open', 'reopened')`,
  ],
  // 8: statistics. Procedure times join a case to its acceptance and end-of-review events by action; periods select
  // cases by submission time.
  [`CREATE INDEX events_action ON events (action, case_id, at)`, `CREATE INDEX cases_created ON cases (created_at)`],
  // 9: signed checkpoints of the audit chain: the head at a position, signed by the gateway's key (compact JWS).
  [`CREATE TABLE audit_checkpoints (pos BIGINT PRIMARY KEY, hash TEXT NOT NULL, at BIGINT NOT NULL, kid TEXT NOT NULL, jws TEXT NOT NULL)`],
  // 10: status changes pulled from the provincial system. The cursor (with running totals) advances in the transaction
  // that applies its page; every record is kept once by id, applied or stale; an enterprise's state is its newest applied
  // change (enterprise_status), so a change is one inserted row and no rewritten one; the enterprises first seen in the
  // feed are registered once; records that cannot be applied are quarantined with a code.
  [
    `CREATE TABLE province_pull (
      source TEXT PRIMARY KEY,
      cursor TEXT NOT NULL,
      seq BIGINT NOT NULL,
      pages BIGINT NOT NULL DEFAULT 0,
      applied BIGINT NOT NULL DEFAULT 0,
      stale BIGINT NOT NULL DEFAULT 0,
      duplicates BIGINT NOT NULL DEFAULT 0,
      quarantined BIGINT NOT NULL DEFAULT 0,
      warnings BIGINT NOT NULL DEFAULT 0,
      created BIGINT NOT NULL DEFAULT 0,
      refused BIGINT NOT NULL DEFAULT 0,
      last_run_at BIGINT,
      last_success_at BIGINT,
      last_error_code TEXT,
      last_error TEXT,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE TABLE province_changes (
      id TEXT PRIMARY KEY,
      seq BIGINT NOT NULL,
      credit_code TEXT NOT NULL,
      kind TEXT NOT NULL,
      version BIGINT NOT NULL,
      division_code TEXT NOT NULL,
      name TEXT NOT NULL,
      occurred_at BIGINT NOT NULL,
      outcome TEXT NOT NULL,
      warning TEXT,
      received_at BIGINT NOT NULL
    )`,
    `CREATE INDEX province_changes_enterprise ON province_changes (credit_code, version) WHERE outcome = 'applied'`,
    `CREATE INDEX province_changes_warning ON province_changes (seq) WHERE warning IS NOT NULL`,
    `CREATE TABLE enterprises (
      credit_code TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      division_code TEXT NOT NULL,
      first_change TEXT NOT NULL,
      source TEXT NOT NULL,
      warning TEXT,
      first_seen_at BIGINT NOT NULL
    )`,
    `CREATE VIEW enterprise_status AS
      SELECT c.credit_code, c.name, c.division_code, c.version, c.kind AS last_kind, c.id AS last_change, c.occurred_at, c.warning,
        CASE WHEN c.kind IN ('established', 'changed') THEN 'operating' ELSE c.kind END AS status
      FROM province_changes c
      WHERE c.outcome = 'applied'
        AND NOT EXISTS (SELECT 1 FROM province_changes n WHERE n.credit_code = c.credit_code AND n.outcome = 'applied' AND n.version > c.version)`,
    `CREATE TABLE province_quarantine (
      id TEXT PRIMARY KEY,
      seq BIGINT NOT NULL,
      code TEXT NOT NULL,
      reason TEXT NOT NULL,
      raw TEXT NOT NULL,
      at BIGINT NOT NULL
    )`,
  ],
  // 11: gateway peering: the deadline the origin gateway gave a mirrored review, kept even when it
  // arrives before this gateway has delivered the review to its department, so that delivery takes the origin's deadline.
  [`CREATE TABLE peer_deadlines (case_id TEXT NOT NULL, department_id TEXT NOT NULL, due_at BIGINT NOT NULL, provisional INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (case_id, department_id))`],
  // 12: the enterprise list by area. A district or city is a range of division codes; without this index a small area
  // was found by reading every enterprise's changes.
  [`CREATE INDEX province_changes_division ON province_changes (division_code, credit_code) WHERE outcome = 'applied'`],
  // 13: the statistics rollup by month and by day of submission, division and department (service/stats-projection), each case's
  // profile as last counted (to take it out again when the case changes), and how far the audit chain is projected.
  // An upgraded store starts at position 0: the projection then counts every case that has events.
  [
    `CREATE TABLE stats_rollup (
      metric TEXT NOT NULL,
      grain TEXT NOT NULL,
      period TEXT NOT NULL,
      division_code TEXT NOT NULL,
      department TEXT NOT NULL,
      k1 TEXT NOT NULL,
      k2 TEXT NOT NULL,
      hour BIGINT NOT NULL,
      n BIGINT NOT NULL,
      sum_ms BIGINT NOT NULL,
      PRIMARY KEY (metric, grain, period, division_code, department, k1, k2, hour)
    )`,
    `CREATE TABLE stats_case_profiles (case_id TEXT PRIMARY KEY, profile TEXT NOT NULL)`,
    `CREATE TABLE stats_projection (id INTEGER PRIMARY KEY, pos BIGINT NOT NULL, updated_at BIGINT)`,
    `INSERT INTO stats_projection (id, pos) VALUES (1, 0)`,
  ],
  // 14: every projection pass rewrites the rollup rows its cases count in. Room left in each page lets PostgreSQL
  // update a row in place (its key is unchanged), and vacuuming after a fiftieth of the rows changed, not the default
  // fifth, keeps dead rows from piling up where the figures are read.
  [
    `{postgres}ALTER TABLE stats_rollup SET (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`,
    `{postgres}ALTER TABLE stats_case_profiles SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.05)`,
  ],
  // 15: statistics are read from the rollup, and the events a case's profile needs are found by its case id
  // (events_case); the index of events by action (migration 8) only cost every event's insert, about a tenth of a
  // case's CPU time in process on SQLite.
  [`DROP INDEX IF EXISTS events_action`],
  // 16: chain positions are unique among sealed events only (a partial unique index): an event's insert no longer adds
  // an index entry for its empty position that its sealing then removes (in six alternated pairs of in-process runs on
  // SQLite, 2.00 against 2.31 ms of CPU per case). SQLite cannot drop a column's UNIQUE constraint, so there the table
  // is rebuilt, every row and its seq kept.
  [
    `{postgres}ALTER TABLE events DROP CONSTRAINT events_chain_pos_key`,
    `{sqlite}CREATE TABLE events_rebuilt (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      case_id TEXT,
      at BIGINT NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      data TEXT NOT NULL,
      chain_pos BIGINT,
      hash TEXT
    )`,
    `{sqlite}INSERT INTO events_rebuilt (seq, case_id, at, actor, action, data, chain_pos, hash) SELECT seq, case_id, at, actor, action, data, chain_pos, hash FROM events`,
    `{sqlite}DROP TABLE events`,
    `{sqlite}ALTER TABLE events_rebuilt RENAME TO events`,
    `{sqlite}CREATE INDEX events_case ON events (case_id, seq)`,
    // The rebuilt table gets no index of unsealed events: migration 17 does without it on SQLite.
    `CREATE UNIQUE INDEX events_chain_pos ON events (chain_pos) WHERE chain_pos IS NOT NULL`,
  ],
  // 17: on SQLite the sealer finds unsealed events past the last sealed seq, kept with the chain's head (see seal in
  // src/bus/audit.ts), so the partial index of unsealed events, an entry added at each event's insert and removed at
  // its sealing, goes. PostgreSQL keeps it: there seq follows inserts, not commits.
  [
    `{sqlite}ALTER TABLE audit_head ADD COLUMN sealed_seq BIGINT NOT NULL DEFAULT 0`,
    `{sqlite}UPDATE audit_head SET sealed_seq = COALESCE((SELECT MAX(seq) FROM events WHERE chain_pos IS NOT NULL), 0) WHERE id = 1`,
    `{sqlite}DROP INDEX IF EXISTS events_unsealed`,
  ],
];

/** Brings the schema up to date (or up to migration `upTo`, for tests of a migration); safe to run from several processes at once on PostgreSQL. */
export async function migrate(db: Db, upTo = MIGRATIONS.length): Promise<void> {
  const serial = db.dialect === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT';
  await db.tx(async (sql) => {
    // Two gateways starting together on one PostgreSQL must not both migrate.
    if (sql.dialect === 'postgres') await sql.run('SELECT pg_advisory_xact_lock(7720001)');
    await sql.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const row = await sql.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
    const current = row?.v ?? 0;
    for (let v = current + 1; v <= Math.min(upTo, MIGRATIONS.length); v++) {
      for (const stmt of MIGRATIONS[v - 1]!) {
        const only = /^\{(postgres|sqlite)\}/.exec(stmt);
        if (only && only[1] !== sql.dialect) continue;
        await sql.run((only ? stmt.slice(only[0].length) : stmt).replaceAll('{serial}', serial));
      }
      await sql.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, Date.now()]);
    }
  });
}
