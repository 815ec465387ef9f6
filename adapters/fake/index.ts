// In-process simulated department: acknowledges (or fails) deliveries and remembers what it received, for demos and tests.
import { AdapterError, type Adapter, type AdapterHealth, type OutgoingMessage, type SendOutcome } from '../adapter.js';

/** Behaviour of the simulated department; tests may change it while the gateway runs. */
export interface FakeOptions {
  behaviour: 'acknowledge' | 'fail' | 'fail-then-acknowledge';
  failures: number;
  /** Store-and-forward: sends are only 'sent'; the department's receipt (through the gateway's inbound) delivers them. */
  receipts: boolean;
}

export class FakeAdapter implements Adapter {
  readonly kind = 'fake';
  readonly received: OutgoingMessage[] = [];
  options: FakeOptions;
  private readonly failedSoFar = new Map<string, number>();

  constructor(
    readonly name: string,
    options: Record<string, unknown>,
  ) {
    this.options = { behaviour: 'acknowledge', failures: 1, receipts: false, ...(options as Partial<FakeOptions>) };
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async send(msg: OutgoingMessage): Promise<SendOutcome> {
    const { behaviour, failures } = this.options;
    if (behaviour === 'fail') throw new AdapterError(`simulated department ${this.name} is down`, true);
    if (behaviour === 'fail-then-acknowledge') {
      const n = this.failedSoFar.get(msg.id) ?? 0;
      if (n < failures) {
        this.failedSoFar.set(msg.id, n + 1);
        throw new AdapterError(`simulated failure ${n + 1} of ${failures}`, true);
      }
    }
    this.received.push(msg);
    // Bounded: a long-running demo must not grow without limit.
    if (this.received.length > 10_000) this.received.splice(0, this.received.length - 10_000);
    return this.options.receipts ? { status: 'sent' } : { status: 'delivered', receipt: `fake:${msg.id}` };
  }

  async health(): Promise<AdapterHealth> {
    return this.options.behaviour === 'fail' ? { ok: false, detail: 'simulated outage' } : { ok: true, detail: 'in-process simulated department' };
  }
}

export const createFakeAdapter = (name: string, options: Record<string, unknown>): FakeAdapter => new FakeAdapter(name, options);
