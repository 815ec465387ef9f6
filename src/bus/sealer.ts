// Sealer: after commits, links new events into the audit chain and publishes every sealed event (from any gateway) in chain order.
import type { Logger } from 'pino';
import type { Db } from '../store/sql.js';
import { eventsAfter, seal } from './audit.js';
import type { Checkpointer } from './checkpoints.js';
import type { Hub, PublishedEvent } from './hub.js';

/** Events sealed per transaction. */
const SEAL_BATCH = 2000;

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
    /** onSealed: told after a pass that sealed events (the statistics projection follows the chain). */
    private readonly opts: { pollMs: number; onSealed?: () => void } = { pollMs: 1000 },
    /** Signs the chain head now and then; absent, the chain is only sealed. */
    private readonly checkpoints?: Checkpointer,
  ) {}

  private started = false;

  async start(): Promise<void> {
    const head = await this.db.get<{ pos: number }>('SELECT pos FROM audit_head WHERE id = 1');
    this.published = Number(head?.pos ?? 0);
    this.started = true;
    this.hub.on('committed', this.onCommit);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.hub.off('committed', this.onCommit);
    if (this.timer) clearTimeout(this.timer);
    if (this.debounce) clearImmediate(this.debounce);
    await this.settled();
    // A last checkpoint covers what this gateway sealed before it went away.
    if (this.started && this.checkpoints) await this.checkpoints.now();
  }

  private debounce: NodeJS.Immediate | null = null;

  // Commits come in bursts: the commits of one turn of the event loop are sealed together, and commits that arrive
  // while a pass runs are sealed by one pass right after it (see kick), so chain updates grow with the load by
  // themselves; waiting longer would only delay live events (and whoever waits for them).
  private readonly onCommit = (what: { events?: boolean }) => {
    if (!what.events || this.debounce || this.stopped) return;
    this.debounce = setImmediate(() => {
      this.debounce = null;
      this.kick();
    });
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
    let any = false;
    try {
      for (;;) {
        const sealed = await seal(this.db, SEAL_BATCH);
        any ||= sealed.length > 0;
        await this.publish(sealed);
        // Also with none sealed: the time since the last checkpoint may have run out.
        await this.checkpoints?.sealed(sealed.length);
        // A short batch means nothing was left unsealed when it was taken; later commits kick another pass.
        if (sealed.length < SEAL_BATCH || this.stopped) break;
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'sealing failed');
    }
    if (any) this.opts.onSealed?.();
  }

  /** Publishes what was just sealed, or catches up from the store when other gateways sealed events in between. */
  private async publish(sealed: PublishedEvent[]): Promise<void> {
    const listening = this.hub.listenerCount('published') > 0;
    if (sealed.length > 0 && sealed[0]!.id === this.published + 1) {
      // The batch follows the last published event directly: no need to read it back.
      this.published = sealed[sealed.length - 1]!.id;
      if (listening) this.emit(sealed);
      return;
    }
    if (!listening) {
      // Nobody is streaming: skip reading the events back, and start any later stream from the current head.
      const head = await this.db.get<{ pos: number }>('SELECT pos FROM audit_head WHERE id = 1');
      this.published = Number(head?.pos ?? this.published);
      return;
    }
    for (;;) {
      const batch = await eventsAfter(this.db, this.published, 1000);
      if (batch.length === 0) break;
      this.published = batch[batch.length - 1]!.id;
      this.emit(batch);
    }
  }

  private emit(batch: PublishedEvent[]): void {
    this.hub.published(batch);
    for (const e of batch) if (e.action.startsWith('alert.')) this.log.warn({ caseId: e.caseId, alert: e.action, data: e.data }, 'alert');
  }

  async settled(): Promise<void> {
    while (this.running) await this.running;
  }
}
