// In-memory login throttling: a per-IP attempt rate limit and a per-username lockout after consecutive failures.
import { isIPv6 } from 'node:net';
import { GatewayError } from '../domain/errors.js';

/** Limits of a {@link LoginGuard}; every field has a default. */
export interface LoginGuardOptions {
  /** Login attempts allowed per client IP within ipWindowMs (default 10). */
  maxAttemptsPerIp?: number;
  /** Length of the sliding IP window (default 60 s). */
  ipWindowMs?: number;
  /** Consecutive failures that lock a username (default 5). */
  maxFailures?: number;
  /** How long a lock lasts (default 15 min). */
  lockMs?: number;
  /** A failure streak with no new failure for this long is forgotten (default 15 min). */
  failureMemoryMs?: number;
  /** Most usernames and most IPs tracked, each (default 10 000). */
  maxEntries?: number;
}

interface UserEntry {
  failures: number;
  lastFailureMs: number;
  lockedUntilMs: number;
}

/**
 * Pure login throttling with the time injected (callers pass real time, never the workflow clock).
 * Call check() before verifying factors, then recordFailure() or recordSuccess(). Record failures for
 * unknown usernames too: unknown names then lock like real ones, so lockout reveals nothing about existence.
 */
export class LoginGuard {
  private readonly maxAttemptsPerIp: number;
  private readonly ipWindowMs: number;
  private readonly maxFailures: number;
  private readonly lockMs: number;
  private readonly failureMemoryMs: number;
  private readonly maxEntries: number;
  // Map iteration order is insertion order; entries are re-inserted on update so the first ones are the stalest.
  private readonly ips = new Map<string, number[]>();
  private readonly users = new Map<string, UserEntry>();

  constructor(opts: LoginGuardOptions = {}) {
    this.maxAttemptsPerIp = opts.maxAttemptsPerIp ?? 10;
    this.ipWindowMs = opts.ipWindowMs ?? 60_000;
    this.maxFailures = opts.maxFailures ?? 5;
    this.lockMs = opts.lockMs ?? 15 * 60_000;
    this.failureMemoryMs = opts.failureMemoryMs ?? 15 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    for (const [k, v] of Object.entries({ maxAttemptsPerIp: this.maxAttemptsPerIp, maxFailures: this.maxFailures, maxEntries: this.maxEntries })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
    }
  }

  /**
   * Counts one attempt from `ip` and refuses it with LOGIN_RATE_LIMITED (with retry seconds) when the IP is over
   * its limit, or with LOGIN_FAILED, the same code as a wrong factor, when the username is locked.
   */
  check(username: string, ip: string, nowMs: number): void {
    const ipKey = ipKeyOf(ip);
    const recent = (this.ips.get(ipKey) ?? []).filter((t) => t > nowMs - this.ipWindowMs);
    if (recent.length >= this.maxAttemptsPerIp) {
      // Refused attempts are not counted, so the IP is free again once its oldest counted attempt leaves the window.
      const seconds = Math.max(1, Math.ceil((recent[0]! + this.ipWindowMs - nowMs) / 1000));
      this.touchIp(ipKey, recent, nowMs);
      throw new GatewayError('LOGIN_RATE_LIMITED', { seconds });
    }
    recent.push(nowMs);
    this.touchIp(ipKey, recent, nowMs);
    if (this.isLocked(username, nowMs)) throw new GatewayError('LOGIN_FAILED');
  }

  /** Records a failed factor for `username`; the maxFailures-th consecutive one locks it for lockMs. */
  recordFailure(username: string, _ip: string, nowMs: number): void {
    const key = userKeyOf(username);
    let e = this.users.get(key);
    // A failure reported while locked (a caller racing the lock) must not extend the lock.
    if (e && e.lockedUntilMs > nowMs) return;
    if (!e || e.lockedUntilMs > 0 || nowMs - e.lastFailureMs >= this.failureMemoryMs) {
      // Start a new streak: no entry yet, a lock that has expired, or a streak too old to count.
      e = { failures: 0, lastFailureMs: nowMs, lockedUntilMs: 0 };
    }
    e.failures += 1;
    e.lastFailureMs = nowMs;
    if (e.failures >= this.maxFailures) e.lockedUntilMs = nowMs + this.lockMs;
    this.users.delete(key);
    this.users.set(key, e);
    this.pruneUsers(nowMs);
  }

  /** Clears the failure streak of `username` after a fully successful login. */
  recordSuccess(username: string, _ip: string, _nowMs: number): void {
    this.users.delete(userKeyOf(username));
  }

  /** True while `username` is locked out. */
  isLocked(username: string, nowMs: number): boolean {
    const e = this.users.get(userKeyOf(username));
    return !!e && e.lockedUntilMs > nowMs;
  }

  /** Tracked usernames and IPs, for tests and metrics. */
  get size(): { users: number; ips: number } {
    return { users: this.users.size, ips: this.ips.size };
  }

  private touchIp(key: string, recent: number[], nowMs: number): void {
    this.ips.delete(key);
    if (recent.length) this.ips.set(key, recent);
    if (this.ips.size > this.maxEntries) {
      for (const [k, ts] of this.ips) {
        if (ts[ts.length - 1]! <= nowMs - this.ipWindowMs) this.ips.delete(k);
      }
      // Still full of live IPs: drop the stalest; an evicted attacker IP only gets a fresh window.
      this.evictOldest(this.ips, () => true);
    }
  }

  private pruneUsers(nowMs: number): void {
    if (this.users.size <= this.maxEntries) return;
    for (const [k, e] of this.users) {
      if (e.lockedUntilMs <= nowMs && nowMs - e.lastFailureMs >= this.failureMemoryMs) this.users.delete(k);
    }
    // Evict unlocked streaks first so flooding with fresh usernames cannot unlock an account under attack.
    this.evictOldest(this.users, (e) => e.lockedUntilMs <= nowMs);
    this.evictOldest(this.users, () => true);
  }

  // Shrinks to 90% of the cap so the O(n) scan runs once per many inserts, not on every one.
  private evictOldest<V>(map: Map<string, V>, evictable: (v: V) => boolean): void {
    const target = Math.floor(this.maxEntries * 0.9);
    if (map.size <= this.maxEntries) return;
    for (const [k, v] of map) {
      if (map.size <= target) break;
      if (evictable(v)) map.delete(k);
    }
  }
}

// Usernames that differ only in case or Unicode form share one lock, so variants cannot dodge it.
function userKeyOf(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

// IPv4-mapped addresses count as IPv4; IPv6 clients are grouped by /64, since one host usually owns a whole /64.
function ipKeyOf(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('%')[0]!.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = ip.includes('::') && tail ? tail.split(':') : [];
  // An embedded IPv4 tail takes two groups but never reaches the first four, so a placeholder suffices.
  const tailGroups = t.flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - tailGroups.length).fill('0'), ...tailGroups] : h.flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
