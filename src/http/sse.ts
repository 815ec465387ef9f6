// Server-sent events: live case changes; a reconnecting client sends Last-Event-ID and catches up from the sealed log.
import type { Request, Response } from 'express';
import { eventsAfter } from '../bus/audit.js';
import type { Hub, PublishedEvent } from '../bus/hub.js';
import type { Db } from '../store/sql.js';

export function streamEvents(db: Db, hub: Hub, req: Request, res: Response, opts: { caseId?: string; visible: (e: PublishedEvent) => Promise<boolean> }): void {
  const header = req.headers['last-event-id'] ?? req.query.lastEventId;
  let last = Number(Array.isArray(header) ? header[0] : header ?? NaN);
  const replay = Number.isFinite(last) && last >= 0;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 1000\n\n');
  let queue: Promise<void> = Promise.resolve();
  let closed = false;
  const send = async (events: PublishedEvent[]) => {
    // One write per batch the sealer published: a socket write per event cost more than the events themselves.
    let out = '';
    for (const e of events) {
      if (closed || e.id <= last) continue;
      if (opts.caseId && e.caseId !== opts.caseId) continue;
      last = e.id;
      if (!(await opts.visible(e))) continue;
      out += `id: ${e.id}\nevent: ${e.action}\ndata: ${JSON.stringify(e)}\n\n`;
    }
    if (out && !closed) res.write(out);
  };
  const onPublished = (events: PublishedEvent[]) => {
    queue = queue.then(() => send(events)).catch(() => undefined);
  };
  if (replay) {
    // Catch up first, then follow; the queue keeps live events behind the replay so nothing is sent out of order.
    queue = (async () => {
      for (;;) {
        const batch = await eventsAfter(db, last, 1000, opts.caseId);
        if (batch.length === 0) break;
        await send(batch);
        last = Math.max(last, batch[batch.length - 1]!.id);
      }
    })().catch(() => undefined);
  } else {
    last = -1;
  }
  hub.on('published', onPublished);
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  req.on('close', () => {
    closed = true;
    clearInterval(heartbeat);
    hub.off('published', onPublished);
  });
}
