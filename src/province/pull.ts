// Pulling enterprise status changes from the provincial system: fetch and verify each page, apply it with the cursor's advance in one transaction, retry while the province is down.
import type { Logger } from 'pino';
import type { GatewayConfig, ProvincePullConfig } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import { planPage, readPage, type Identified, type PagePlan } from '../domain/province-change.js';
import { REFUSED_RAW_LIMIT } from '../service/inbound.js';
import { appendEvents } from '../store/case-repo.js';
import type { Db } from '../store/sql.js';
import { verifyEnvelope } from '../trust/envelope.js';
import type { KeyRegistry } from '../trust/keys.js';
import { claimsOf } from '../trust/messages.js';
import { changeRows } from './publish.js';
import { isIdReused, loadStored, lockCursor, noteFailure, noteRun, readCursor, writePage } from './pull-store.js';

/** At most this many enterprise versions are cached (some tens of MB); beyond it the oldest entries go. */
const VERSION_CACHE_MAX = 200_000;

/** Enterprise versions read ahead of a page's transaction: which codes were looked up, at which cursor, and what was found. */
interface Looked {
  seq: number;
  codes: ReadonlySet<string>;
  found: ReadonlyMap<string, number>;
}

/** The (upper-cased) credit codes a page's records name. */
const codesOf = (records: Identified[]): string[] => [
  ...new Set(records.map((r) => (r.raw as { creditCode?: unknown }).creditCode).filter((c): c is string => typeof c === 'string').map((c) => c.replace(/[a-z]/g, (x) => x.toUpperCase()))),
];

/** The channel name refused pages are recorded under. */
export const PULL_CHANNEL = 'province-pull';
/** The kind of message a page is (the signed envelope's kind). */
export const PAGE_KIND = 'province-changes';

/** What one run did; `pag province pull --once` prints it. */
export interface PullReport {
  pages: number;
  applied: number;
  stale: number;
  duplicates: number;
  quarantined: number;
  warnings: number;
  created: number;
  published: number;
  refused: number;
  gaps: number;
  retries: number;
  cursor: string;
  seq: number;
  /** The province said there was nothing more (this run reached the end of the feed). */
  caughtUp: boolean;
  error: { code: string; message: string } | null;
}

/** A page as fetched: verified and read, or why not (retryable: the province was down; otherwise: refused). */
type Fetched =
  | { ok: true; page: { cursor: string; next: string; more: boolean }; records: Identified[] }
  | { ok: false; error: GatewayError; raw: string | null };

const sleepFor = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Exponential backoff with jitter, as the dispatcher's retries. */
export function backoff(attempt: number, r: ProvincePullConfig['retry'], random = Math.random): number {
  const cap = Math.min(r.maxDelayMs, r.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(r.baseDelayMs + random() * Math.max(0, cap - r.baseDelayMs));
}

export class ProvincePuller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PullReport> | null = null;
  private readonly stopping = new AbortController();
  /**
   * Current versions of the enterprises this process has applied or looked up, valid while the cursor is where this
   * process left it (no other gateway applied a page since): a code in it needs no lookup. Bounded; cleared when full.
   */
  private versions: { seq: number; map: Map<string, number> } = { seq: -1, map: new Map() };
  readonly source: string;
  readonly cfg: ProvincePullConfig;

  constructor(
    private readonly db: Db,
    private readonly config: () => GatewayConfig,
    private readonly keys: KeyRegistry,
    private readonly gatewayId: string,
    private readonly log: Logger,
    /** Called after a page that wrote outbox rows commits, so the dispatcher sends them at once. */
    private readonly committed: (what: { outbox: boolean }) => void = () => undefined,
  ) {
    const pull = config().province?.pull;
    if (!pull) throw new GatewayError('PROVINCE_PULL_NOT_CONFIGURED');
    this.cfg = pull;
    this.source = pull.sender;
  }

  /** Pulls now, then again `intervalSeconds` after each run ends, until stopped. */
  start(): void {
    const loop = async () => {
      this.timer = null;
      await this.runOnce().catch((e: Error) => this.log.error({ err: e.message }, 'province pull failed'));
      if (!this.stopping.signal.aborted) {
        this.timer = setTimeout(() => void loop(), this.cfg.intervalSeconds * 1000);
        this.timer.unref();
      }
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One run: pages until the province has no more, a page is refused, or the province stays down (`maxPages` bounds it). */
  runOnce(o: { maxPages?: number } = {}): Promise<PullReport> {
    // Runs never overlap in one process; across gateways the cursor row's lock and check keep pages from applying twice.
    const run = (this.running ?? Promise.resolve()).catch(() => undefined).then(() => this.run(o.maxPages ?? Infinity));
    this.running = run;
    return run;
  }

  private async run(maxPages: number): Promise<PullReport> {
    const retry = this.cfg.retry;
    await this.db.tx((sql) => noteRun(sql, this.source, Date.now()));
    const row = (await readCursor(this.db, this.source))!;
    const report: PullReport = { pages: 0, applied: 0, stale: 0, duplicates: 0, quarantined: 0, warnings: 0, created: 0, published: 0, refused: 0, gaps: 0, retries: 0, cursor: row.cursor, seq: Number(row.seq), caughtUp: false, error: null };
    let attempt = 0;
    let prefetch: { cursor: string; page: Promise<Fetched>; versions: Promise<Looked | null> } | null = null;
    const again = async (code: string, message: string): Promise<boolean> => {
      attempt++;
      if (attempt >= retry.maxAttempts) {
        report.error = { code, message };
        await this.db.tx((sql) => noteFailure(sql, this.source, code, message, Date.now(), false));
        this.log.warn({ code, attempts: attempt, cursor: report.cursor }, 'province pull gave up for this run');
        return false;
      }
      report.retries++;
      await sleepFor(backoff(attempt, retry), this.stopping.signal);
      return !this.stopping.signal.aborted;
    };
    while (report.pages < maxPages && !this.stopping.signal.aborted) {
      const ahead: typeof prefetch = prefetch?.cursor === report.cursor ? prefetch : null;
      const fetched: Fetched = ahead ? await ahead.page : await this.fetchPage(report.cursor);
      const looked = ahead ? await ahead.versions : null;
      prefetch = null;
      if (!fetched.ok) {
        if (fetched.error.retryable) {
          this.log.warn({ code: fetched.error.code, err: fetched.error.message, cursor: report.cursor }, 'province page not served; trying again');
          if (await again(fetched.error.code, fetched.error.message)) continue;
          break;
        }
        await this.refuse(fetched.error, fetched.raw);
        report.refused++;
        report.error = { code: fetched.error.code, message: fetched.error.message };
        break;
      }
      const page: { cursor: string; next: string; more: boolean } = fetched.page;
      // The next page is asked for while this one is applied: the province's answer and the database's overlap.
      if (page.more && page.next !== report.cursor && report.pages + 1 < maxPages) {
        // The next page's enterprises are looked up as soon as it arrives, on another connection, while this page is
        // written: all but those of this page, whose versions this page's commit puts in the cache.
        const next = this.fetchPage(page.next);
        const mine = new Set<string>(codesOf(fetched.records));
        const versions: Promise<Looked | null> = next.then((n) => (n.ok ? this.lookUp(codesOf(n.records).filter((c) => !mine.has(c) && !this.versions.map.has(c))) : null)).catch(() => null);
        prefetch = { cursor: page.next, page: next, versions };
      }
      const done = await this.apply(report.cursor, report.seq, fetched, looked);
      if ('gap' in done) {
        report.gaps++;
        prefetch = null;
        const e = new GatewayError('PROVINCE_PAGE_GAP', done.gap);
        this.log.warn({ ...done.gap, cursor: report.cursor }, 'gap in the province feed; fetching the page again');
        if (await again(e.code, e.message)) continue;
        break;
      }
      if ('refused' in done) {
        prefetch = null;
        await this.refuse(done.refused, null);
        report.refused++;
        report.error = { code: done.refused.code, message: done.refused.message };
        break;
      }
      if ('moved' in done) {
        // Another gateway applied this page first: go on from where it left the cursor.
        prefetch = null;
        report.cursor = done.moved.cursor;
        report.seq = done.moved.seq;
        continue;
      }
      const p = done.plan;
      const applied = p.changes.filter((c) => c.outcome === 'applied').length;
      report.pages++;
      report.applied += applied;
      report.stale += p.changes.length - applied;
      report.duplicates += p.duplicates;
      report.quarantined += p.quarantined.length;
      report.warnings += done.warnings;
      report.created += done.created;
      report.published += done.published;
      const progressed = page.next !== report.cursor || p.changes.length + p.quarantined.length > 0;
      report.cursor = page.next;
      report.seq = p.seq;
      if (!page.more) {
        report.caughtUp = true;
        break;
      }
      // A page that moves nothing on (the same page served again) counts against the attempts, so a province stuck on
      // one page cannot keep a run going for ever.
      if (progressed) attempt = 0;
      else if (!(await again('PROVINCE_PAGE_GAP', 'the province served the same page again without moving on'))) break;
    }
    if (prefetch) await Promise.all([prefetch.page, prefetch.versions]); // not used; must not be left unhandled
    this.log.info({ ...report, error: report.error?.code }, 'province pull run');
    return report;
  }

  /** GET one page and verify it; never throws (a failure is the result). */
  async fetchPage(cursor: string): Promise<Fetched> {
    const url = new URL(this.cfg.url);
    url.searchParams.set('cursor', cursor);
    url.searchParams.set('limit', String(this.cfg.pageSize));
    let raw: string;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(this.cfg.timeoutMs), headers: { accept: 'application/jose' } });
      raw = await res.text();
      if (res.status !== 200) return { ok: false, error: new GatewayError('PROVINCE_UNAVAILABLE', { reason: `HTTP ${res.status}` }), raw: null };
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      return { ok: false, error: new GatewayError('PROVINCE_UNAVAILABLE', { reason: cause ?? (e as Error).name ?? 'no answer' }), raw: null };
    }
    try {
      // The province is the one sender of this feed; a page it did not sign is refused for its key or signature.
      const v = await verifyEnvelope(this.keys, raw, { receiver: this.gatewayId, windowSeconds: 300, sender: this.cfg.sender });
      if (v.envelope.kind !== PAGE_KIND) throw new GatewayError('PROVINCE_PAGE_INVALID', { reason: `a message of kind ${v.envelope.kind}, not ${PAGE_KIND}` });
      const read = readPage(v.envelope.body);
      if (read.page.cursor !== cursor) throw new GatewayError('PROVINCE_PAGE_INVALID', { reason: `the page answers cursor ${JSON.stringify(read.page.cursor).slice(0, 60)}, not the one asked for` });
      return { ok: true, ...read };
    } catch (e) {
      if (e instanceof GatewayError) return { ok: false, error: e, raw };
      return { ok: false, error: new GatewayError('PROVINCE_PAGE_INVALID', { reason: (e as Error).message }), raw };
    }
  }

  /** Applies a page in one transaction with the cursor's advance; nothing when the cursor moved on underneath. */
  /** Current versions of `codes` read outside any transaction (see apply for why that is safe). */
  private async lookUp(codes: string[]): Promise<Looked> {
    const stored = await loadStored(this.db, [], codes);
    return { seq: this.versions.seq, codes: new Set(codes), found: stored.versions };
  }

  private async apply(cursor: string, seq: number, f: Extract<Fetched, { ok: true }>, looked: Looked | null = null): Promise<{ plan: PagePlan; warnings: number; created: number; published: number } | { gap: { expected: number; got: number } } | { moved: { cursor: string; seq: number } } | { refused: GatewayError }> {
    const now = Date.now();
    // Only records at or before the cursor can have been stored: every stored record's sequence number is at most the
    // cursor's, as both are written in one transaction. A record past it that reuses a stored id is the province's error,
    // caught by the write itself (the primary key of the plain INSERT), which refuses the page. So the common page costs no id lookups.
    const ids = f.records.filter((r) => r.seq <= seq).map((r) => r.id);
    const all = codesOf(f.records);
    if (this.versions.seq !== seq) this.versions = { seq: -1, map: new Map() };
    const cached = this.versions.map;
    // Versions looked up before this transaction are as good as ones read in it while the cursor is where it was when
    // they were read (checked under the cursor row's lock below): only the puller holding that lock writes enterprises'
    // changes, and it moves the cursor when it does. The lookup began before the previous page committed, so it covers
    // none of that page's enterprises (the cache has them).
    const early = looked && looked.seq !== -1 && this.versions.seq === seq ? looked : null;
    const codes = all.filter((c) => !cached.has(c) && !early?.codes.has(c));
    const out = await this.db.tx(async (sql): Promise<{ plan: PagePlan; warnings: number; created: number; published: number; stored: ReadonlyMap<string, number> } | { gap: { expected: number; got: number } } | { moved: { cursor: string; seq: number } }> => {
      // Pipelined on PostgreSQL: the lookups run once the cursor row's lock is granted, in the same round trip.
      const [row, stored] = await Promise.all([lockCursor(sql, this.source), loadStored(sql, ids, codes)]);
      if (row.cursor !== cursor || Number(row.seq) !== seq) return { moved: { cursor: row.cursor, seq: Number(row.seq) } };
      for (const c of all) {
        const v = cached.get(c) ?? early?.found.get(c);
        if (v !== undefined) (stored.versions as Map<string, number>).set(c, v);
      }
      const plan = planPage(seq, f.records, stored);
      if ('gap' in plan) return plan;
      const outbox = changeRows(this.config(), plan.changes, now);
      const warnings = plan.changes.filter((c) => c.warning).length;
      const created = plan.enterprises.filter((e) => e.created).length;
      const applied = plan.changes.filter((c) => c.outcome === 'applied').length;
      const event = {
        action: 'province.page_applied',
        data: { cursor, next: f.page.next, seq: plan.seq, applied, stale: plan.changes.length - applied, duplicates: plan.duplicates, quarantined: plan.quarantined.length, warnings, created, published: outbox.length },
      };
      await writePage(sql, plan, { source: this.source, cursor: f.page.next, seq: plan.seq, warnings, created, at: now }, outbox, event);
      return { plan, warnings, created, published: outbox.length, stored: stored.versions };
    }).catch((e: unknown) => {
      if (!isIdReused(e)) throw e;
      return { refused: new GatewayError('PROVINCE_PAGE_INVALID', { reason: 'a record id already stored comes again under a sequence number after the cursor' }) };
    });
    if ('refused' in out) return out;
    if ('plan' in out) {
      // Committed: the cache follows the store. Every code of the page now has a version (applied, or stale against one).
      if (cached.size > VERSION_CACHE_MAX) {
        let drop = cached.size - Math.floor(VERSION_CACHE_MAX * 0.9);
        for (const k of cached.keys()) {
          if (drop-- <= 0) break;
          cached.delete(k);
        }
      }
      for (const c of out.plan.changes) if (c.outcome === 'applied') cached.set(c.record.creditCode, c.record.version);
      for (const [code, v] of out.stored) if (!cached.has(code)) cached.set(code, v);
      this.versions = { seq: out.plan.seq, map: cached };
      this.committed({ outbox: (out.published ?? 0) > 0 });
    } else if ('moved' in out) this.versions = { seq: -1, map: new Map() };
    return out;
  }

  /** A refused page: kept for inspection and audited in one transaction; the cursor stays where it was. */
  private async refuse(e: GatewayError, raw: string | null): Promise<void> {
    const at = Date.now();
    const claims = raw ? claimsOf({ format: 'jws', raw }) : {};
    const record = { channel: PULL_CHANNEL, claimedSender: claims.sender ?? null, messageId: claims.messageId ?? null, kind: claims.kind ?? PAGE_KIND, caseId: null, code: e.code, reason: e.message };
    this.log.warn(record, 'province page refused');
    await this.db.tx(async (sql) => {
      await sql.run('INSERT INTO refused_messages (at, channel, claimed_sender, message_id, kind, case_id, code, reason, raw) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
        at, PULL_CHANNEL, record.claimedSender, record.messageId, record.kind, null, e.code, e.message.slice(0, 1000), (raw ?? '').slice(0, REFUSED_RAW_LIMIT).replace(/\u0000/g, '\uFFFD'),
      ]);
      await appendEvents(sql, null, at, { kind: 'system', id: 'province-pull', role: 'dispatcher' }, [{ action: 'message.refused', data: record }]);
      await noteFailure(sql, this.source, e.code, e.message, at, true);
    });
    this.committed({ outbox: false });
  }
}
