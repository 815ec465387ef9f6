// The workflow clock: the system clock, or a manual one that an administrator moves forward (PAG_CLOCK=manual).
import { EventEmitter } from 'node:events';

/** Time as the workflow sees it. Identity checks (TOTP, token expiry) never use this; they use real time. */
export interface Clock {
  now(): number;
  readonly manual: boolean;
  /** Emits 'changed' when a manual clock is moved. */
  readonly events: EventEmitter;
}

export class SystemClock implements Clock {
  readonly manual = false;
  readonly events = new EventEmitter();
  now(): number {
    return Date.now();
  }
}

/** A clock that stands still until set (PAG_CLOCK=manual, for demos and tests). */
export class ManualClock implements Clock {
  readonly manual = true;
  readonly events = new EventEmitter();
  constructor(private current: number) {}
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
    this.events.emit('changed', ms);
  }
}
