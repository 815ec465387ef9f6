// Outbox dispatcher: claims ready messages, sends them through their adapters, records every attempt, retries with backoff.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { AdapterError, type Adapter } from '../../adapters/adapter.js';
import type { AdapterConfig } from '../config/load.js';
import type { Actor } from '../domain/types.js';
import type { CaseService } from '../service/cases.js';
import { appendEvents } from '../store/case-repo.js';
import { forUpdate, placeholders, type Db } from '../store/sql.js';
import type { GatewayMetrics } from '../metrics.js';
import type { Hub } from './hub.js';

interface OutboxRow {
  id: string;
  case_id: string | null;
  department_id: string;
  adapter: string;
  kind: string;
  payload: string;
  attempts: number;
  state: string;
  created_at: number | string;
}

/** `sendless`: the outcome of a receipt timeout after the last attempt, when nothing was sent. */
type Outcome = { row: OutboxRow; ok: boolean; sent?: boolean; error?: string; retryable?: boolean; sendless?: boolean };

/** How an attempt is recorded in delivery_attempts and counted in the metrics. */
const outcomeOf = (o: Outcome): string => (o.ok ? 'delivered' : o.sent ? 'sent' : o.sendless ? 'receipt_timeout' : o.retryable ? 'retryable_error' : 'rejected');

function groupBy<T>(xs: T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of xs) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
  return m;
}

const DEFAULT_POLICY: AdapterConfig['retry'] = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000, receiptTimeoutMs: 60_000 };

/** Exponential backoff with full jitter (delay drawn from [base, min(max, base * 2^(attempt-1))]). */
export function retryDelay(attempt: number, policy: AdapterConfig['retry'], random = Math.random): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(policy.baseDelayMs + random() * (cap - policy.baseDelayMs));
}


export class Dispatcher {
  private readonly owner = randomUUID();
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly adapters: Map<string, Adapter>,
    private policies: Record<string, AdapterConfig>,
    private readonly cases: CaseService,
    private readonly hub: Hub,
    private readonly gatewayId: string,
    private readonly log: Logger,
    /** leaseMs: how long a claimed message stays with this dispatcher before another may send it again (it died mid-send). */
    private readonly opts: { batch: number; pollMs: number; concurrency: number; leaseMs: number; metrics?: GatewayMetrics } = { batch: 200, pollMs: 500, concurrency: 16, leaseMs: 60_000 },
  ) {}

  private started = false;

  /** Retry policies and enabled flags after an administrator's change (the adapter map itself is shared with the gateway). */
  reconfigure(policies: Record<string, AdapterConfig>): void {
    this.policies = policies;
  }

  start(): void {
    this.started = true;
    this.hub.on('committed', this.onCommit);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.hub.off('committed', this.onCommit);
    if (this.timer) clearTimeout(this.timer);
    await this.idle;
  }

  private readonly onCommit = (what: { outbox?: boolean }) => {
    if (what.outbox) this.kick();
  };

  /** Run a pass now (or right after the current one). */
  kick(): void {
    if (!this.started) return; // a gateway without a running dispatcher leaves sending to others
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.idle = this.loop();
    }, ms);
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      let n: number;
      do {
        this.again = false;
        n = await this.runOnce();
      } while (!this.stopped && (n >= this.opts.batch || this.again));
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'dispatch pass failed');
    } finally {
      this.running = false;
      this.schedule(this.opts.pollMs);
    }
  }

  /** One pass: claim, send, record. Returns how many messages it handled. */
  async runOnce(): Promise<number> {
    const now = Date.now();
    const claimed = await this.db.tx(async (sql) => {
      // A claimed message's next_attempt_at is its lease expiry: 'sending' past it is a message whose dispatcher died
      // mid-send, and it goes out again (receivers de-duplicate); 'waiting_receipt' past it is a message whose receipt did
      // not come in time, sent again the same way. One condition keeps the claim on the partial index.
      // A disabled adapter's messages stay where they are, attempts untouched, until it is enabled again.
      const disabled = Object.entries(this.policies).filter(([, p]) => !p.enabled).map(([name]) => name);
      const rows = await sql.all<OutboxRow>(
        `SELECT id, case_id, department_id, adapter, kind, payload, attempts, state, created_at FROM outbox
         WHERE state IN ('ready', 'waiting_retry', 'sending', 'waiting_receipt') AND next_attempt_at <= $1
         ${disabled.length ? `AND adapter NOT IN (${placeholders(disabled.length, 3)})` : ''}
         ORDER BY next_attempt_at LIMIT $2${sql.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : ''}`,
        [now, this.opts.batch, ...disabled],
      );
      // A message whose last allowed attempt got no receipt is only leased, to be marked failed: no attempt is counted.
      const spent = (r: OutboxRow) => r.state === 'waiting_receipt' && r.attempts >= this.policy(r.adapter).maxAttempts;
      for (const [group, count] of [[rows.filter((r) => !spent(r)), 'attempts + 1'], [rows.filter(spent), 'attempts']] as const) {
        if (group.length === 0) continue;
        await sql.run(
          `UPDATE outbox SET state = 'sending', attempts = ${count}, lease_until = $1, next_attempt_at = $1, lease_owner = $2, updated_at = $3 WHERE id IN (${placeholders(group.length, 4)})`,
          [now + this.opts.leaseMs, this.owner, now, ...group.map((r) => r.id)],
        );
      }
      return rows;
    });
    if (claimed.length === 0) return 0;

    // Outcomes are recorded as they come in, in groups (whatever finished while the last group was being recorded), so a
    // delivery that is done does not wait for the slowest send of its pass before its review's clock starts.
    const outcomes: Outcome[] = [];
    let recording: Promise<void> = Promise.resolve();
    let recordError: unknown;
    const recordSoon = () => {
      recording = recording.then(async () => {
        if (outcomes.length === 0 || recordError !== undefined) return;
        await this.record(outcomes.splice(0)).catch((e: unknown) => {
          // The messages of a group not recorded stay leased; they go out again when the lease expires (receivers de-duplicate).
          recordError = e;
        });
      });
    };
    const finish = (o: Outcome) => {
      outcomes.push(o);
      recordSoon();
    };
    let next = 0;
    const worker = async () => {
      while (next < claimed.length) {
        const row = claimed[next++]!;
        const adapter = this.adapters.get(row.adapter);
        if (row.state === 'waiting_receipt' && row.attempts >= this.policy(row.adapter).maxAttempts) {
          finish({ row, ok: false, error: `no receipt after ${row.attempts} attempts`, retryable: false, sendless: true });
          continue;
        }
        try {
          if (!adapter) throw new AdapterError(`no adapter ${row.adapter} is running`, true);
          const sent = await adapter.send({
            id: row.id,
            kind: row.kind,
            caseId: row.case_id,
            departmentId: row.department_id,
            sender: this.gatewayId,
            attempt: row.attempts + 1,
            payload: JSON.parse(row.payload) as Record<string, unknown>,
          });
          finish({ row, ok: sent.status === 'delivered', sent: sent.status === 'sent' });
        } catch (e) {
          const retryable = e instanceof AdapterError ? e.retryable : true;
          finish({ row, ok: false, error: (e as Error).message, retryable });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, claimed.length) }, worker));
    await recording;
    if (recordError !== undefined) throw recordError;
    return claimed.length;
  }

  private policy(adapter: string): AdapterConfig['retry'] {
    return this.policies[adapter]?.retry ?? DEFAULT_POLICY;
  }

  private async record(outcomes: Outcome[]): Promise<void> {
    const real = Date.now();
    await this.db.tx(async (sql) => {
      const delivered = outcomes.filter((o) => o.ok);
      if (delivered.length > 0) {
        // Only this dispatcher's lease may complete a message; a message re-leased by another after expiry stays theirs.
        await sql.run(
          `UPDATE outbox SET state = 'delivered', delivered_at = $1, updated_at = $1, lease_until = NULL, last_error = NULL
           WHERE lease_owner = $2 AND state = 'sending' AND id IN (${placeholders(delivered.length, 3)})`,
          [real, this.owner, ...delivered.map((o) => o.row.id)],
        );
        const notifications = delivered.filter((o) => o.row.kind === 'notification' && o.row.case_id);
        await this.cases.markDelivered(
          notifications.map((o) => ({ caseId: o.row.case_id!, departmentId: o.row.department_id, via: o.row.adapter })),
          sql,
        );
      }
      const sent = outcomes.filter((o) => o.sent);
      // A receipt that overtook the broker's confirmation has already made the message delivered (state no longer 'sending').
      for (const [adapter, group] of groupBy(sent, (o) => o.row.adapter)) {
        await sql.run(
          `UPDATE outbox SET state = 'waiting_receipt', next_attempt_at = $1, updated_at = $2, lease_until = NULL, last_error = NULL
           WHERE lease_owner = $3 AND state = 'sending' AND id IN (${placeholders(group.length, 4)})`,
          [real + this.policy(adapter).receiptTimeoutMs, real, this.owner, ...group.map((o) => o.row.id)],
        );
      }
      // Every attempt in one statement: a batch of deliveries costs one round trip here, not one per message.
      const attempts = outcomes.map((o) => [o.row.id, real, outcomeOf(o), o.error ?? null] as const);
      if (sql.dialect === 'postgres') {
        await sql.run('INSERT INTO delivery_attempts (message_id, at, outcome, error) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])', [
          attempts.map((a) => a[0]), attempts.map((a) => a[1]), attempts.map((a) => a[2]), attempts.map((a) => a[3]),
        ]);
      } else {
        await sql.run(`INSERT INTO delivery_attempts (message_id, at, outcome, error) VALUES ${attempts.map((_, i) => `(${placeholders(4, i * 4 + 1)})`).join(', ')}`, attempts.flat());
      }
      for (const o of outcomes) {
        if (o.ok || o.sent) continue;
        const policy = this.policy(o.row.adapter);
        const attempts = o.row.attempts + (o.sendless ? 0 : 1);
        if (o.retryable && attempts < policy.maxAttempts) {
          await sql.run(
            `UPDATE outbox SET state = 'waiting_retry', next_attempt_at = $1, last_error = $2, updated_at = $3, lease_until = NULL WHERE id = $4 AND lease_owner = $5 AND state = 'sending'`,
            [real + retryDelay(attempts, policy), o.error, real, o.row.id, this.owner],
          );
        } else {
          const n = await sql.run(
            `UPDATE outbox SET state = 'failed', last_error = $1, updated_at = $2, lease_until = NULL WHERE id = $3 AND lease_owner = $4 AND state = 'sending'`,
            [o.error, real, o.row.id, this.owner],
          );
          if (n > 0) {
            await appendEvents(sql, o.row.case_id, real, { kind: 'system', id: 'dispatcher', role: 'dispatcher', adapter: o.row.adapter, instance: this.owner }, [
              { action: 'delivery.failed', data: { messageId: o.row.id, departmentId: o.row.department_id, kind: o.row.kind, attempts, error: o.error } },
            ]);
          }
        }
      }
    });
    if (outcomes.some((o) => !o.ok) || outcomes.length) this.hub.committed({ events: true });
    const m = this.opts.metrics;
    if (m) {
      for (const o of outcomes) {
        if (!o.sendless) m.attempts.inc({ adapter: o.row.adapter, outcome: outcomeOf(o) });
        if (!o.ok && !o.sent && o.retryable && o.row.attempts + 1 < this.policy(o.row.adapter).maxAttempts) m.retries.inc({ adapter: o.row.adapter });
        if (o.ok) m.latency.observe({ adapter: o.row.adapter }, Math.max(0, real - Number(o.row.created_at)) / 1000);
      }
    }
    for (const o of outcomes) {
      if (!o.ok) this.log.warn({ messageId: o.row.id, adapter: o.row.adapter, departmentId: o.row.department_id, error: o.error }, 'delivery attempt failed');
    }
  }

  /**
   * A department's receipt for a message: the message is delivered (and a notification's review clock starts) whatever
   * state the sending side reached. 'already' for a repeated receipt, 'unknown' when no such message went to that department.
   */
  async receipt(messageId: string, departmentId: string, via: string): Promise<'delivered' | 'already' | 'unknown'> {
    const real = Date.now();
    const r = await this.db.tx(async (sql) => {
      const row = await sql.get<{ case_id: string | null; kind: string; state: string; adapter: string; created_at: number | string }>(
        `SELECT case_id, kind, state, adapter, created_at FROM outbox WHERE id = $1 AND department_id = $2${forUpdate(sql)}`,
        [messageId, departmentId],
      );
      if (!row) return 'unknown' as const;
      if (row.state === 'delivered') return 'already' as const;
      await sql.run(`UPDATE outbox SET state = 'delivered', delivered_at = $1, updated_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2`, [real, messageId]);
      await sql.run('INSERT INTO delivery_attempts (message_id, at, outcome, error) VALUES ($1, $2, $3, NULL)', [messageId, real, 'receipt']);
      if (row.kind === 'notification' && row.case_id) await this.cases.markDelivered([{ caseId: row.case_id, departmentId, via }], sql);
      this.opts.metrics?.latency.observe({ adapter: row.adapter }, Math.max(0, real - Number(row.created_at)) / 1000);
      return 'delivered' as const;
    });
    if (r === 'delivered') this.hub.committed({ events: true });
    return r;
  }

  /** Puts a failed message back in the queue (an administrator's action), audited with the case it concerns. */
  async resend(messageId: string, actor: Actor): Promise<boolean> {
    const now = Date.now();
    const row = await this.db.tx(async (sql) => {
      const r = await sql.get<{ case_id: string | null; department_id: string; kind: string }>(
        `UPDATE outbox SET state = 'ready', attempts = 0, next_attempt_at = $1, updated_at = $1 WHERE id = $2 AND state = 'failed' RETURNING case_id, department_id, kind`,
        [now, messageId],
      );
      if (r) await appendEvents(sql, r.case_id, now, actor, [{ action: 'delivery.resent', data: { messageId, departmentId: r.department_id, kind: r.kind } }]);
      return r;
    });
    if (!row) return false;
    this.hub.committed({ events: true });
    this.kick();
    return true;
  }
}
