// Timekeeper: fires stored deadlines (deemed approvals, overdue licences and permits) with conditional writes; never a long timer.
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CaseService } from '../service/cases.js';

export class Timekeeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly cases: CaseService,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: { batch: number; pollMs: number; onFired?: (n: number) => void } = { batch: 500, pollMs: 1000 },
  ) {}

  start(): void {
    this.clock.events.on('changed', this.kick);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.events.off('changed', this.kick);
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Runs a pass at once; used when the manual clock moves. */
  readonly kick = (): void => {
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.running = this.pass().then(() => undefined).finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      } else if (!this.stopped) {
        this.timer = setTimeout(this.kick, this.opts.pollMs);
      }
    });
  };

  /** Fires everything due now; resolves when nothing due is left. */
  async pass(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        if (this.stopped) break;
        const n = await this.cases.fireDeadlines(this.opts.batch);
        total += n;
        if (n > 0) this.opts.onFired?.(n);
        if (n === 0) break;
      }
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'timekeeper pass failed');
    }
    if (total > 0) this.log.info({ fired: total }, 'deadlines fired');
    return total;
  }

  /** Resolves after any pass in progress (and one queued after it) has finished. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }
}
