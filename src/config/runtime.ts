// The running configuration as numbered versions in the store: imported from the file, changed by administrators, audited.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../domain/errors.js';
import type { Actor } from '../domain/types.js';
import { appendEvents } from '../store/case-repo.js';
import { forUpdate, type Db, type Sql } from '../store/sql.js';
import { configFromDocument, readConfigDocument, type GatewayConfig } from './load.js';

/** A stored configuration version. */
export interface ConfigVersion {
  version: number;
  document: Record<string, unknown>;
  source: 'file' | 'admin';
  changedBy: string;
  changedAt: number;
  summary: string;
}

/** The parts an administrator may change while the gateway runs; `gateway` and `calendar` need a restart. */
export const LIVE_SECTIONS = ['departments', 'adapters', 'routes', 'scopeItems', 'eligibility', 'deadlines', 'creditCodes', 'peers'] as const;

interface Row {
  version: number;
  document: string;
  source: 'file' | 'admin';
  changed_by: string;
  changed_at: number | string;
  summary: string;
}

const toVersion = (r: Row): ConfigVersion => ({
  version: Number(r.version),
  document: JSON.parse(r.document) as Record<string, unknown>,
  source: r.source,
  changedBy: r.changed_by,
  changedAt: Number(r.changed_at),
  summary: r.summary,
});

const fileHash = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

export async function latestVersion(db: Db | Sql): Promise<ConfigVersion | null> {
  const r = await db.get<Row>('SELECT version, document, source, changed_by, changed_at, summary FROM config_versions ORDER BY version DESC LIMIT 1');
  return r ? toVersion(r) : null;
}

export async function currentVersionNumber(db: Db): Promise<number> {
  const r = await db.get<{ v: number | string | null }>('SELECT MAX(version) AS v FROM config_versions');
  return Number(r?.v ?? 0);
}

export async function listVersions(db: Db, limit = 50): Promise<Omit<ConfigVersion, 'document'>[]> {
  const rows = await db.all<Row>('SELECT version, document, source, changed_by, changed_at, summary FROM config_versions ORDER BY version DESC LIMIT $1', [limit]);
  return rows.map((r) => {
    const { document: _d, ...rest } = toVersion(r);
    return rest;
  });
}

/** Which top-level sections differ between two documents, with their values before and after (for the audit). */
export function changedSections(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, { before: unknown; after: unknown }> {
  const out: Record<string, { before: unknown; after: unknown }> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) out[key] = { before: before[key] ?? null, after: after[key] ?? null };
  }
  return out;
}

async function insertVersion(sql: Sql, v: number, document: Record<string, unknown>, source: 'file' | 'admin', hash: string | null, actor: Actor, at: number, summary: string, before: Record<string, unknown> | null): Promise<void> {
  await sql.run('INSERT INTO config_versions (version, document, source, file_hash, changed_by, changed_at, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    v, JSON.stringify(document), source, hash, actor.id, at, summary,
  ]);
  await appendEvents(sql, null, at, actor, [
    { action: source === 'file' ? 'config.imported' : 'config.changed', data: { version: v, summary, changes: before ? changedSections(before, document) : { all: { before: null, after: '(first import)' } } } },
  ]);
}

/**
 * At start-up: the configuration file becomes a new version when it is new or changed since it was last imported (an
 * operator edited it and restarted); otherwise the latest version stands, with administrators' changes. Returns it.
 */
export async function importFileIfChanged(db: Db, file: string, actor: Actor, at: number): Promise<{ version: ConfigVersion; imported: boolean }> {
  const document = readConfigDocument(file);
  configFromDocument(document, file); // a bad file stops start-up here, before anything is stored
  const hash = fileHash(file);
  const imported = await db.tx(async (sql) => {
    // Two gateways starting together on one PostgreSQL must not both import.
    if (sql.dialect === 'postgres') await sql.run('SELECT pg_advisory_xact_lock(7720002)');
    const last = await sql.get<{ file_hash: string | null }>("SELECT file_hash FROM config_versions WHERE source = 'file' ORDER BY version DESC LIMIT 1");
    if (last?.file_hash === hash) return false;
    const latest = await latestVersion(sql);
    await insertVersion(sql, (latest?.version ?? 0) + 1, document, 'file', hash, actor, at, `imported ${file}`, latest?.document ?? null);
    return true;
  });
  return { version: (await latestVersion(db))!, imported };
}

/** Imports the file as a new version whether or not it changed (`pag adapters reload`, POST /api/admin/config/reload). */
export async function importFile(db: Db, file: string, actor: Actor, at: number): Promise<ConfigVersion> {
  const document = readConfigDocument(file);
  try {
    configFromDocument(document, file);
  } catch (e) {
    throw asChangeError(e);
  }
  return db.tx(async (sql) => {
    const latest = await lockedLatest(sql);
    await insertVersion(sql, (latest?.version ?? 0) + 1, document, 'file', fileHash(file), actor, at, `reloaded ${file}`, latest?.document ?? null);
    return (await latestVersion(sql))!;
  });
}

async function lockedLatest(sql: Sql): Promise<ConfigVersion | null> {
  const r = await sql.get<Row>(`SELECT version, document, source, changed_by, changed_at, summary FROM config_versions ORDER BY version DESC LIMIT 1${forUpdate(sql)}`);
  return r ? toVersion(r) : null;
}

function asChangeError(e: unknown): unknown {
  if (e instanceof GatewayError && e.code === 'CONFIG_INVALID') return new GatewayError('CONFIG_CHANGE_INVALID', { path: e.details.path, reason: e.details.reason });
  return e;
}

/**
 * An administrator's change: `change` edits a copy of the latest document; the result must validate as a whole (every
 * cross-reference included) or nothing is stored. `expected` guards against overwriting a change made meanwhile.
 */
export async function changeConfig(
  db: Db,
  file: string,
  actor: Actor,
  at: number,
  summary: string,
  change: (doc: Record<string, unknown>) => void,
  expected?: number,
  /** Checks beyond the schema that need the running gateway (files under its certificates folder); throws to refuse. */
  check?: (config: GatewayConfig) => void,
): Promise<{ version: ConfigVersion; config: GatewayConfig }> {
  return db.tx(async (sql) => {
    const latest = await lockedLatest(sql);
    if (!latest) throw new GatewayError('NOT_FOUND', { what: 'configuration' });
    if (expected !== undefined && expected !== latest.version) throw new GatewayError('CONFIG_VERSION_CONFLICT', { expected, current: latest.version });
    const next = structuredClone(latest.document);
    change(next);
    let config: GatewayConfig;
    try {
      config = configFromDocument(next, file);
    } catch (e) {
      throw asChangeError(e);
    }
    check?.(config);
    const diff = changedSections(latest.document, next);
    const notLive = Object.keys(diff).filter((k) => !(LIVE_SECTIONS as readonly string[]).includes(k));
    if (notLive.length > 0) throw new GatewayError('CONFIG_CHANGE_INVALID', { path: `/${notLive[0]}`, reason: 'this section changes only with the file and a restart' });
    if (Object.keys(diff).length === 0) return { version: latest, config };
    await insertVersion(sql, latest.version + 1, next, 'admin', null, actor, at, summary, latest.document);
    return { version: (await latestVersion(sql))!, config };
  });
}
