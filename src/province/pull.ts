// Pulling enterprise status changes from the provincial system: fetch and verify each page, apply it with the cursor's advance in one transaction, retry while the province is down.
import type { Logger } from 'pino';
import type { GatewayConfig, ProvincePullConfig } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import { planPage, type Gap, type Identified, type PagePlan } from '../domain/province-change.js';
import type { DomainEvent } from '../domain/types.js';
import { recordRefusal } from '../service/refusals.js';
import type { OutboxInsert } from '../store/case-repo.js';
import type { Db } from '../store/sql.js';
import type { KeyRegistry } from '../trust/keys.js';
import { claimsOf } from '../trust/messages.js';
import { fetchPage, PAGE_KIND, type Fetched } from './feed.js';
import { changeRows } from './publish.js';
import { isCursorMoved, isIdReused, loadStored, noteFailure, noteRun, readCursor, writePage } from './pull-store.js';

/**
 * At most this many enterprise versions are cached (a few MB); beyond it the oldest entries go. The versions of a page's
 * other enterprises are read ahead while the page before it is written, so a larger cache hardly speeds the pull: at a
 * million records 50,000, 100,000 and 200,000 entries pulled alike, but the heap's live size sets how far V8 lets
 * garbage grow before collecting it, and peak RSS went from 233 MB to 258 and 305 MB.
 */
const VERSION_CACHE_MAX = 50_000;

/** Enterprise versions read ahead of a page: which codes were looked up, and what was found. */
interface Looked {
  codes: ReadonlySet<string>;
  found: ReadonlyMap<string, number>;
}

/** A page reconciled against the state it applies to, ready to be written with the cursor's advance. */
interface Prepared {
  /** The cursor (and sequence number) the page applies from: the write fails if the cursor is elsewhere. */
  from: string;
  fromSeq: number;
  next: string;
  plan: PagePlan;
  outbox: OutboxInsert[];
  warnings: number;
  created: number;
  event: DomainEvent;
  /** The version of each of the page's enterprises once it is applied. */
  after: ReadonlyMap<string, number>;
  /** The record ids it stores. */
  ids: ReadonlySet<string>;
  at: number;
}

type Committed = { ok: true } | { moved: { cursor: string; seq: number } } | { refused: GatewayError };

/** The (upper-cased) credit codes a page's records name. */
const codesOf = (records: Identified[]): string[] => [
  ...new Set(records.map((r) => (r.raw as { creditCode?: unknown }).creditCode).filter((c): c is string => typeof c === 'string').map((c) => c.replace(/[a-z]/g, (x) => x.toUpperCase()))),
];

/** The channel name refused pages are recorded under. */
export const PULL_CHANNEL = 'province-pull';

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

/**
 * Pulls the province's feed into the store: in the background (start/stop) or one run at a time (runOnce). Network and
 * store failures end a run with the error noted on the cursor row; nothing it throws leaves a page half applied.
 */
export class ProvincePuller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PullReport> | null = null;
  private readonly stopping = new AbortController();
  /**
   * Current versions of the enterprises this process has applied or looked up, valid while the cursor is where this
   * process left it (no other gateway applied a page since): a code in it needs no lookup. Bounded: the oldest go first.
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
    // Runs never overlap in one process; across gateways the cursor's check in each page's write keeps pages from applying twice.
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
    type Ahead = { cursor: string; page: Promise<Fetched>; versions: Promise<Looked | null> };
    let prefetch: Ahead | null = null;
    /**
     * The page being written, while the next one is reconciled against the state it will leave (a pipeline of two):
     * the database writes one page while this thread verifies and reconciles the next. If the write fails, what was
     * reconciled against it is dropped.
     */
    let inflight: { p: Prepared; commit: Promise<Committed> } | null = null;
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
    /** Waits for the page in flight; false when it did not apply (the caller starts again from report.cursor). */
    const settle = async (): Promise<boolean> => {
      if (!inflight) return true;
      const { p, commit } = inflight;
      inflight = null;
      const out = await commit;
      if ('refused' in out) {
        prefetch = null;
        await this.refuse(out.refused, null);
        report.refused++;
        report.error = { code: out.refused.code, message: out.refused.message };
        return false;
      }
      if ('moved' in out) {
        // Another gateway applied pages meanwhile: go on from where it left the cursor.
        prefetch = null;
        report.cursor = out.moved.cursor;
        report.seq = out.moved.seq;
        return false;
      }
      const plan = p.plan;
      const applied = plan.changes.filter((c) => c.outcome === 'applied').length;
      report.pages++;
      report.applied += applied;
      report.stale += plan.changes.length - applied;
      report.duplicates += plan.duplicates;
      report.quarantined += plan.quarantined.length;
      report.warnings += p.warnings;
      report.created += p.created;
      report.published += p.outbox.length;
      report.cursor = p.next;
      report.seq = plan.seq;
      return true;
    };
    // Where the next page starts: after the page in flight, if any (report.cursor is what is committed).
    let from = { cursor: report.cursor, seq: report.seq };
    while (!this.stopping.signal.aborted) {
      if (report.pages + (inflight ? 1 : 0) >= maxPages) break;
      const ahead: Ahead | null = prefetch !== null && (prefetch as Ahead).cursor === from.cursor ? prefetch : null;
      const fetched: Fetched = ahead ? await ahead.page : await this.fetchPage(from.cursor);
      const looked = ahead ? await ahead.versions : null;
      prefetch = null;
      if (!fetched.ok) {
        const settled = await settle();
        from = { cursor: report.cursor, seq: report.seq };
        if (!settled) {
          if (report.error) break;
          continue;
        }
        if (fetched.error.retryable) {
          this.log.warn({ code: fetched.error.code, err: fetched.error.message, cursor: from.cursor }, 'province page not served; trying again');
          if (await again(fetched.error.code, fetched.error.message)) continue;
          break;
        }
        await this.refuse(fetched.error, fetched.raw);
        report.refused++;
        report.error = { code: fetched.error.code, message: fetched.error.message };
        break;
      }
      const page: { cursor: string; next: string; more: boolean } = fetched.page;
      // The next page is asked for while this one is reconciled and written; its enterprises are looked up as soon as
      // it arrives, on another connection: all but those of this page, whose versions this page leaves behind.
      if (page.more && page.next !== from.cursor && report.pages + (inflight ? 2 : 1) < maxPages) {
        const next = this.fetchPage(page.next);
        const mine = new Set<string>(codesOf(fetched.records));
        // Nor those of the page being written now: read before its commit, their versions would be stale. Left out
        // here, they come from the cache or are read when the next page is reconciled, after that commit.
        const writing = inflight?.p.after;
        const versions: Promise<Looked | null> = next
          .then((n) => (n.ok ? this.lookUp(codesOf(n.records).filter((c) => !mine.has(c) && !writing?.has(c) && !this.versions.map.has(c))) : null))
          .catch(() => null);
        prefetch = { cursor: page.next, page: next, versions };
      }
      const prepared = await this.prepare(from.cursor, from.seq, fetched, inflight?.p ?? null, looked);
      if (!(await settle())) {
        // What was reconciled against the page in flight is void: start again from the committed cursor.
        from = { cursor: report.cursor, seq: report.seq };
        if (report.error) break;
        continue;
      }
      if ('gap' in prepared) {
        report.gaps++;
        prefetch = null;
        const e = new GatewayError('PROVINCE_PAGE_GAP', prepared.gap);
        this.log.warn({ ...prepared.gap, cursor: from.cursor }, 'gap in the province feed; fetching the page again');
        if (await again(e.code, e.message)) continue;
        break;
      }
      const commit = this.commit(prepared);
      // Awaited by settle; if this run fails first, its failure must not go unhandled (the next run starts from the store).
      commit.catch(() => undefined);
      inflight = { p: prepared, commit };
      const progressed = page.next !== from.cursor || prepared.plan.changes.length + prepared.plan.quarantined.length > 0;
      from = { cursor: page.next, seq: prepared.plan.seq };
      if (!page.more) {
        if (await settle()) report.caughtUp = true;
        break;
      }
      // A page that moves nothing on (the same page served again) counts against the attempts, so a province stuck on
      // one page cannot keep a run going for ever.
      if (progressed) attempt = 0;
      else if (!(await again('PROVINCE_PAGE_GAP', 'the province served the same page again without moving on'))) break;
    }
    await settle();
    if (prefetch) await Promise.all([prefetch.page, prefetch.versions]); // not used; must not be left unhandled
    this.log.info({ ...report, error: report.error?.code }, 'province pull run');
    return report;
  }

  /** GET one page and verify it; never throws (a failure is the result). */
  fetchPage(cursor: string): Promise<Fetched> {
    return fetchPage(this.cfg, this.keys, this.gatewayId, cursor);
  }

  /** Current versions of `codes`, read outside any transaction (see prepare for why that is safe). */
  private async lookUp(codes: string[]): Promise<Looked> {
    const stored = await loadStored(this.db, [], codes);
    return { codes: new Set(codes), found: stored.versions };
  }

  /**
   * Reconciles a page against the state it applies to: what is committed, plus the page in flight (`before`) if any.
   * Reads happen outside any transaction: whatever another gateway commits meanwhile moves the cursor, and the write,
   * which advances the cursor only from where this page was reconciled against, then fails (CURSOR_MOVED) and the page
   * is done again. The cache of versions is this process's own writes and reads, kept while the cursor is where this
   * process left it.
   */
  private async prepare(from: string, fromSeq: number, f: Extract<Fetched, { ok: true }>, before: Prepared | null, looked: Looked | null): Promise<Prepared | Gap> {
    const now = Date.now();
    const base = before ? before.fromSeq : fromSeq;
    // The cache holds the state after the page in flight once that page has committed: as good as `before` and the cache.
    if (this.versions.seq !== base && !(before && this.versions.seq === before.plan.seq)) this.versions = { seq: -1, map: new Map() };
    const cached = this.versions.map;
    const all = codesOf(f.records);
    const versionOf = (c: string) => before?.after.get(c) ?? cached.get(c) ?? looked?.found.get(c);
    const missing = all.filter((c) => !before?.after.has(c) && !cached.has(c) && !looked?.codes.has(c));
    // Only records at or before the cursor can have been stored: every stored record's sequence number is at most the
    // cursor's, as both are written in one transaction. A record past it that reuses a stored id is the province's
    // error, caught by the write itself (the primary key of the plain INSERT), which refuses the page.
    const ids = f.records.filter((r) => r.seq <= fromSeq && !before?.ids.has(r.id)).map((r) => r.id);
    const stored = await loadStored(this.db, ids, missing);
    const seen = new Set(stored.seen);
    for (const r of f.records) if (before?.ids.has(r.id)) seen.add(r.id);
    const versions = stored.versions as Map<string, number>;
    for (const c of all) {
      const v = versionOf(c);
      if (v !== undefined) versions.set(c, v);
    }
    const plan = planPage(fromSeq, f.records, { seen, versions });
    if ('gap' in plan) return plan;
    const after = new Map<string, number>();
    for (const c of all) {
      const v = versions.get(c);
      if (v !== undefined) after.set(c, v);
    }
    for (const c of plan.changes) if (c.outcome === 'applied') after.set(c.record.creditCode, c.record.version);
    const outbox = changeRows(this.config(), plan.changes, now);
    const warnings = plan.changes.filter((c) => c.warning).length;
    const created = plan.enterprises.filter((e) => e.created).length;
    const applied = plan.changes.filter((c) => c.outcome === 'applied').length;
    const event = {
      action: 'province.page_applied',
      data: { cursor: from, next: f.page.next, seq: plan.seq, applied, stale: plan.changes.length - applied, duplicates: plan.duplicates, quarantined: plan.quarantined.length, warnings, created, published: outbox.length },
    };
    const ids2 = new Set<string>([...plan.changes.map((c) => c.record.id), ...plan.quarantined.map((q) => q.id)]);
    return { from, fromSeq, next: f.page.next, plan, outbox, warnings, created, event, after, ids: ids2, at: now };
  }

  /** Writes a reconciled page in one transaction with the cursor's advance (one round trip on PostgreSQL). */
  private async commit(p: Prepared): Promise<Committed> {
    try {
      await this.db.tx((sql) => writePage(sql, p.plan, { source: this.source, from: p.from, fromSeq: p.fromSeq, cursor: p.next, seq: p.plan.seq, warnings: p.warnings, created: p.created, at: p.at }, p.outbox, p.event));
    } catch (e) {
      if (!isCursorMoved(e) && !isIdReused(e)) throw e;
      // Either another gateway applied pages (its rows may be the ones our insert met), or the province reused an id.
      const row = await readCursor(this.db, this.source);
      this.versions = { seq: -1, map: new Map() };
      if (!row || row.cursor !== p.from || Number(row.seq) !== p.fromSeq || isCursorMoved(e)) return { moved: { cursor: row?.cursor ?? p.from, seq: Number(row?.seq ?? p.fromSeq) } };
      return { refused: new GatewayError('PROVINCE_PAGE_INVALID', { reason: 'a record id already stored comes again under a sequence number after the cursor' }) };
    }
    // Committed: the cache follows the store; every code of the page now has a version (applied, or stale against one).
    const cached = this.versions.seq === p.fromSeq ? this.versions.map : new Map<string, number>();
    if (cached.size > VERSION_CACHE_MAX) {
      let drop = cached.size - Math.floor(VERSION_CACHE_MAX * 0.9);
      for (const k of cached.keys()) {
        if (drop-- <= 0) break;
        cached.delete(k);
      }
    }
    for (const [c, v] of p.after) cached.set(c, v);
    this.versions = { seq: p.plan.seq, map: cached };
    this.committed({ outbox: p.outbox.length > 0 });
    return { ok: true };
  }

  /** A refused page: kept for inspection and audited in one transaction; the cursor stays where it was. */
  private async refuse(e: GatewayError, raw: string | null): Promise<void> {
    const at = Date.now();
    const claims = raw ? claimsOf({ format: 'jws', raw }) : {};
    const record = { channel: PULL_CHANNEL, claimedSender: claims.sender ?? null, messageId: claims.messageId ?? null, kind: claims.kind ?? PAGE_KIND, caseId: null, code: e.code, reason: e.message };
    this.log.warn(record, 'province page refused');
    await this.db.tx(async (sql) => {
      await recordRefusal(sql, at, { kind: 'system', id: 'province-pull', role: 'dispatcher' }, record, raw ?? '');
      await noteFailure(sql, this.source, e.code, e.message, at, true);
    });
    this.committed({ outbox: false });
  }
}
