// In-process signals between the parts of one gateway: a commit wakes the dispatcher and sealer; sealing feeds live streams.
import { EventEmitter } from 'node:events';

/** An audit event as published to live streams (server-sent events), after it is sealed into the chain. */
export interface PublishedEvent {
  id: number;
  caseId: string | null;
  at: string;
  action: string;
  actor: { kind: string; id: string; role?: string; adapter?: string };
  data: Record<string, unknown>;
}

export class Hub extends EventEmitter {
  constructor() {
    super();
    // Every SSE client adds a listener; the default warning at 10 is for leaks, not for this.
    this.setMaxListeners(0);
  }
  committed(what: { outbox?: boolean; events?: boolean }): void {
    this.emit('committed', what);
  }
  published(events: PublishedEvent[]): void {
    if (events.length) this.emit('published', events);
  }
}
