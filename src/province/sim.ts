// A simulated provincial business information system over loopback HTTP: a signed, paged, incremental feed of status changes, with fault knobs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signEnvelope } from '../trust/envelope.js';
import type { KeyRegistry } from '../trust/keys.js';
import { simRecord, type FeedShape } from './sim-data.js';

/** Faults, each a count of requests it spoils (so every fault test is bounded), except `shuffle`. */
export interface SimFaults {
  /** Answer 503 (the province is down). */
  down: number;
  /** Answer 500 once per count (a page dropped in transit). */
  fail: number;
  /** Serve the page before the cursor again, with the same cursor as next. */
  repeat: number;
  /** Serve the page after the next one (a page missed: a gap in sequence numbers). */
  skip: number;
  /** Sign with another party's key (the province's id in the envelope, xw-fire's key). */
  wrongKey: number;
  /** Serve a signed body that is not a page. */
  malformed: number;
  /** Serve each page's records in reverse order. */
  shuffle: boolean;
}

export const NO_FAULTS: SimFaults = { down: 0, fail: 0, repeat: 0, skip: 0, wrongKey: 0, malformed: 0, shuffle: false };

/** The largest page the simulated province serves. */
export const SIM_MAX_LIMIT = 5000;

export interface ProvinceSim {
  url: string;
  server: Server;
  feed: FeedShape;
  faults: SimFaults;
  /** Requests answered, by what was served. */
  served: { pages: number; errors: number; faults: number };
  close(): Promise<void>;
}

/**
 * Serves `GET /changes?cursor=C&limit=N`: the records after sequence number C (the cursor is the last sequence number
 * served, "" or "0" at the start), as a compact JWS signed with the province's key and addressed to `receiver`.
 */
export async function startProvinceSim(o: { keys: KeyRegistry; receiver: string; feed: FeedShape; faults?: Partial<SimFaults>; port?: number; sender?: string }): Promise<ProvinceSim> {
  const sender = o.sender ?? 'province';
  const sim: ProvinceSim = {
    url: '',
    server: null as unknown as Server,
    feed: o.feed,
    faults: { ...NO_FAULTS, ...o.faults },
    served: { pages: 0, errors: 0, faults: 0 },
    close: () => new Promise<void>((r) => sim.server.close(() => r())),
  };
  const page = (from: number, limit: number) => {
    const records: Record<string, unknown>[] = [];
    for (let s = from + 1; s <= Math.min(from + limit, sim.feed.total); s++) records.push(simRecord(sim.feed, s));
    if (sim.faults.shuffle) records.reverse();
    const last = from + records.length;
    return { records, next: String(last), more: last < sim.feed.total };
  };
  sim.server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.method !== 'GET' || u.pathname !== '/changes') return res.writeHead(404).end();
      const f = sim.faults;
      const spoil = (k: 'down' | 'fail' | 'repeat' | 'skip' | 'wrongKey' | 'malformed') => (f[k] > 0 ? (f[k]--, sim.served.faults++, true) : false);
      if (spoil('down')) return res.writeHead(503, { 'retry-after': '1' }).end('down for maintenance');
      if (spoil('fail')) return res.writeHead(500).end('internal error');
      const cursorText = u.searchParams.get('cursor') ?? '';
      const cursor = cursorText === '' ? 0 : Number(cursorText);
      const limit = Math.min(Number(u.searchParams.get('limit') ?? 500) || 500, SIM_MAX_LIMIT);
      if (!Number.isSafeInteger(cursor) || cursor < 0 || limit < 1) return res.writeHead(400).end('bad cursor or limit');
      let body: Record<string, unknown>;
      if (spoil('malformed')) body = { cursor: cursorText, next: cursorText, more: true, records: 'not a list' };
      else if (cursor > 0 && spoil('repeat')) body = { cursor: cursorText, ...page(Math.max(0, cursor - limit), Math.min(limit, cursor)), next: cursorText, more: true };
      else if (spoil('skip')) body = { cursor: cursorText, ...page(cursor + limit, limit) };
      else body = { cursor: cursorText, ...page(cursor, limit) };
      const signAs = spoil('wrongKey') ? 'xw-fire' : sender;
      const jws = await signEnvelope(o.keys, signAs, { messageId: `changes-${cursor}-${limit}-${sim.served.pages}`, sender, receiver: o.receiver, caseId: null, kind: 'province-changes', body });
      sim.served.pages++;
      res.writeHead(200, { 'content-type': 'application/jose' }).end(jws);
    })().catch(() => {
      sim.served.errors++;
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((r) => sim.server.listen(o.port ?? 0, '127.0.0.1', r));
  sim.url = `http://127.0.0.1:${(sim.server.address() as AddressInfo).port}/changes`;
  return sim;
}
