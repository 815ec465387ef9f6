// One server-sent event stream for the whole console: views subscribe; a lost stream reconnects and resumes from the last id.
import { get, session, expired } from './api.js';

const listeners = new Set();
let source = null;
let lastId = null;
let retryTimer = null;
let statusCb = () => {};

export const onStatus = (cb) => { statusCb = cb; };

/** Calls fn(event) for every event; returns the unsubscribe function. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let seen = 0;
function remember(id) {
  lastId = id;
  seen += 1;
  // Visible to tests and to anyone debugging: the last event this page has seen, and how many it has seen.
  document.documentElement.dataset.lastEventId = String(id);
  document.documentElement.dataset.eventsSeen = String(seen);
}

export function connect() {
  if (source || !session.token) return;
  statusCb('connecting');
  const q = new URLSearchParams({ access_token: session.token });
  // A new stream (after a refused one, or a new login) resumes from where the old one stopped.
  if (lastId !== null) q.set('lastEventId', String(lastId));
  const es = new EventSource(`/api/events?${q}`);
  source = es;
  es.onopen = () => {
    statusCb('open');
    // Whatever happened before the stream was open is read afresh by the views.
    for (const fn of listeners) fn({ action: 'stream.open', caseId: null, id: lastId });
  };
  es.onmessage = null;
  es.onerror = () => {
    statusCb('closed');
    // The browser retries a dropped connection by itself, with Last-Event-ID; it gives up only on an HTTP error (e.g. 401).
    if (es.readyState !== EventSource.CLOSED) return;
    es.close();
    source = null;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(async () => {
      try {
        await get('/api/me');
        connect();
      } catch (e) {
        if (e.status !== 401) retryTimer = setTimeout(connect, 2000);
        else expired();
      }
    }, 1000);
  };
  // Events are named by their action; EventSource delivers named events only to listeners of that name, so one generic hook.
  const deliver = (ev) => {
    const id = Number(ev.lastEventId);
    if (Number.isFinite(id)) remember(id);
    let data = null;
    try { data = JSON.parse(ev.data); } catch { return; }
    for (const fn of listeners) fn(data);
  };
  es.addEventListener('message', deliver);
  patchNamed(es, deliver);
}

// Named events ("case.accepted", ...) need a listener per name; the names come from the audit actions.
const ACTIONS = [
  'case.submitted', 'case.accepted', 'case.returned', 'case.resubmitted', 'case.refused', 'case.terminated', 'case.awaiting_licence', 'case.operating',
  'case.mirrored', 'case.concluded', 'review.origin_deadline',
  'review.requested', 'review.chained', 'review.delivered', 'review.approved', 'review.refused', 'review.extended', 'review.deemed_approved', 'review.cancelled',
  'licence.issued', 'licence.overdue', 'permits.due', 'permit.reported', 'permit.overdue', 'permit.revoked', 'delivery.failed', 'delivery.resent', 'message.refused',
  'inspection.planned', 'inspection.passed', 'inspection.failed', 'rectification.ordered', 'inspection.rectified', 'inspection.failed_again', 'scope_change.ordered',
  'complaint.filed', 'complaint.answered', 'complaint.resolved', 'complaint.reopened',
  'config.changed', 'config.imported', 'calendar.day_set', 'calendar.year_set', 'clock.set', 'alert.calendar_not_covered',
  'auth.refused', 'user.added', 'key.rotated', 'key.revoked', 'province.page_applied',
];
function patchNamed(es, deliver) {
  for (const a of ACTIONS) es.addEventListener(a, deliver);
}

export function disconnect() {
  clearTimeout(retryTimer);
  source?.close();
  source = null;
  statusCb('none');
}
