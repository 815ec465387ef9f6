// Sealer: after commits, links new events into the audit chain and publishes every sealed event (from any gateway) in chain order.
import type { Logger } from 'pino';
import type { Db } from '../store/sql.js';
import { eventsAfter, seal } from './audit.js';
import type { Hub } from './hub.js';

/** How long after a commit the sealer waits for more before sealing; bounds the delay of live events. */
const SEAL_DELAY_MS = 20;

export class Sealer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private published = 0;

  constructor(
    private readonly db: Db,
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly opts: { pollMs: number } = { pollMs: 1000 },
  ) {}

  async start(): Promise<void> {
    const head = await this.db.get<{ pos: number }>('SELECT pos FROM audit_head WHERE id = 1');
    this.published = Number(head?.pos ?? 0);
    this.hub.on('committed', this.onCommit);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.hub.off('committed', this.onCommit);
    if (this.timer) clearTimeout(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    await this.settled();
  }

  private debounce: NodeJS.Timeout | null = null;

  // Commits come in bursts; sealing once shortly after a burst makes fewer, larger chain updates.
  private readonly onCommit = (what: { events?: boolean }) => {
    if (!what.events || this.debounce || this.stopped) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.kick();
    }, SEAL_DELAY_MS);
  };

  readonly kick = (): void => {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      } else if (!this.stopped) {
        this.timer = setTimeout(this.kick, this.opts.pollMs);
      }
    });
  };

  private async pass(): Promise<void> {
    try {
      while ((await seal(this.db)).length > 0 && !this.stopped);
      if (this.hub.listenerCount('published') === 0) {
        // Nobody is streaming: skip reading the events back, and start any later stream from the current head.
        const head = await this.db.get<{ pos: number }>('SELECT pos FROM audit_head WHERE id = 1');
        this.published = Number(head?.pos ?? this.published);
        return;
      }
      for (;;) {
        const batch = await eventsAfter(this.db, this.published, 1000);
        if (batch.length === 0) break;
        this.published = batch[batch.length - 1]!.id;
        this.hub.published(batch);
        for (const e of batch) if (e.action.startsWith('alert.')) this.log.warn({ caseId: e.caseId, alert: e.action, data: e.data }, 'alert');
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'sealing failed');
    }
  }

  async settled(): Promise<void> {
    while (this.running) await this.running;
  }
}
