// Statistics routes: GET /api/stats (JSON) and GET /api/stats.csv (or ?format=csv), for supervisors and administrators.
import express from 'express';
import { fail } from '../domain/errors.js';
import { parseFilter } from '../domain/stats.js';
import type { Gateway } from '../gateway.js';
import { computeStats, statsCsv } from '../service/stats.js';
import { requireRole } from './auth.js';

export function statsRouter(gw: Gateway): express.Router {
  const r = express.Router();
  const known = (id: string) => gw.config.departments.some((d) => d.id === id);
  const handler = (csv: boolean): express.RequestHandler => async (req, res) => {
    const { format, ...rest } = req.query as Record<string, unknown>;
    if (format !== undefined && format !== 'csv' && format !== 'json') fail('INVALID_STATS_FILTER', { field: 'format', reason: 'csv or json' });
    const unknown = Object.keys(rest).filter((k) => !['from', 'to', 'department', 'district'].includes(k));
    // A misspelt filter would silently widen the figures; refuse it instead.
    if (unknown.length) fail('INVALID_STATS_FILTER', { field: unknown[0], reason: 'not a filter (from, to, department, district, format)' });
    const stats = await computeStats(gw.db, parseFilter(rest, known));
    if (csv || format === 'csv') {
      res.type('text/csv; charset=utf-8').attachment('stats.csv').send(statsCsv(stats));
    } else {
      res.json(stats);
    }
  };
  r.get('/stats', requireRole('supervisor', 'admin'), handler(false));
  r.get('/stats.csv', requireRole('supervisor', 'admin'), handler(true));
  return r;
}
