// Prometheus metrics of one gateway: messages by adapter and state, attempts and retries, delivery latency, deadlines fired.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from './store/sql.js';

export class GatewayMetrics {
  readonly registry = new Registry();
  /** Send attempts by adapter and outcome (delivered, sent, retryable_error, rejected, receipt_timeout). */
  readonly attempts = new Counter({ name: 'pag_delivery_attempts_total', help: 'Outgoing message send attempts by adapter and outcome', labelNames: ['adapter', 'outcome'], registers: [this.registry] });
  /** Attempts that failed and will be made again. */
  readonly retries = new Counter({ name: 'pag_delivery_retries_total', help: 'Failed send attempts scheduled for a retry, by adapter', labelNames: ['adapter'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'pag_delivery_latency_seconds',
    help: 'From a message entering the outbox to its acknowledged delivery, by adapter',
    labelNames: ['adapter'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });
  readonly inbound = new Counter({ name: 'pag_inbound_messages_total', help: 'Incoming department messages by channel, kind and result code', labelNames: ['channel', 'kind', 'result'], registers: [this.registry] });
  readonly deadlines = new Counter({ name: 'pag_deadlines_fired_total', help: 'Deadlines fired by this gateway (deemed approvals, overdue licences and permits)', registers: [this.registry] });

  constructor(db: Db) {
    collectDefaultMetrics({ register: this.registry, prefix: 'pag_process_' });
    // Read from the store at scrape time: the outbox is shared by every gateway on the store, so this is the whole picture.
    new Gauge({
      name: 'pag_outbox_messages',
      help: 'Outgoing messages by adapter and state (ready, sending, waiting_retry, waiting_receipt, delivered, failed)',
      labelNames: ['adapter', 'state'],
      registers: [this.registry],
      async collect() {
        const rows = await db.all<{ adapter: string; state: string; n: number | string }>('SELECT adapter, state, COUNT(*) AS n FROM outbox GROUP BY adapter, state');
        this.reset();
        for (const r of rows) this.set({ adapter: r.adapter, state: r.state }, Number(r.n));
      },
    });
  }
}
