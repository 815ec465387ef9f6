// Loads the configuration file and the environment, validates both at start-up, and freezes the result.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { GatewayError } from '../domain/errors.js';
import type { EligibilityRules } from '../domain/eligibility.js';
import { chainCycle, chainProblem, type Department, type Route, type ScopeItem } from '../domain/routing.js';
import type { DeadlineRules } from '../domain/workflow.js';
import type { CreditCodeBlock } from '../domain/uscc.js';
import type { Subscription } from '../domain/province-subscription.js';
import type { Role } from '../domain/types.js';
import { CERTS_DIR, CONFIG_DIR } from '../paths.js';
import { describeErrors, validator } from './schemas.js';

/** One adapter entry: its kind, options (checked against the kind's schema) and retry policy. */
export interface AdapterConfig {
  kind: string;
  /** false: the adapter is stopped; its messages wait in the outbox until it is enabled again. */
  enabled: boolean;
  options: Record<string, unknown>;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; receiptTimeoutMs: number };
}

/** The validated configuration file. */
export interface GatewayConfig {
  file: string;
  gateway: {
    id: string;
    name: string;
    authority: string;
    environment: 'demo' | 'production';
    demoUsers?: string;
    tokenTtlSeconds: number;
    /** How long a one-time code checked at login or step-up covers sensitive actions. */
    stepUpSeconds: number;
    bodyLimitBytes: number;
    /** HTTPS for the gateway's own endpoints: certificate and key files under the certificates folder. */
    tls?: { cert: string; key: string };
    /** When the audit chain's head is signed (environment settings override); absent fields take 1000 events and 60 s. */
    auditCheckpoint?: { everyEvents?: number; everySeconds?: number };
    /** Login and step-up throttling; absent fields take the guard's defaults. */
    login?: { maxAttemptsPerAddress?: number; addressWindowSeconds?: number; maxFailures?: number; lockSeconds?: number };
  };
  calendarFile: string;
  deadlines: DeadlineRules;
  creditCodes: { blocks: (CreditCodeBlock & { legalForms?: string[] })[] };
  eligibility: EligibilityRules;
  scopeItems: Record<string, ScopeItem>;
  departments: Department[];
  routes: Route[];
  /** The provincial business information system: where licences, permits, changes and follow-up results are pushed. */
  province?: { push?: { adapter: string; receiver: string; events?: string[] }; pull?: ProvincePullConfig; subscriptions?: Subscription[] };
  adapters: Record<string, AdapterConfig>;
  /** Other gateways this one talks to directly; each may ask the departments listed for reviews. */
  peers: Peer[];
}

/** A peer gateway: its id (the key owner of its public keys), the adapter that reaches it, this gateway's departments it may ask. */
export interface Peer {
  id: string;
  adapter: string;
  departments: string[];
}

/** `province.pull`: where and how often status changes are pulled from the province (defaults filled by the schema). */
export interface ProvincePullConfig {
  url: string;
  sender: string;
  intervalSeconds: number;
  pageSize: number;
  timeoutMs: number;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
}

/** A user from the demo users file (published credentials). */
export interface DemoUser {
  username: string;
  password: string;
  totpSecret: string;
  role: Role;
  departmentId?: string;
}

/** Settings from the environment, which take precedence over the configuration file. */
export interface Settings {
  port: number;
  host: string;
  configFile: string;
  dataDir: string;
  databaseUrl: string | null;
  amqpUrl: string | null;
  /** The key registry's folder (PAG_CERTS_DIR, default certs/ of the package). */
  certsDir: string;
  clock: 'system' | 'manual';
  logLevel: string;
}

function invalid(file: string, path: string, reason: string): GatewayError {
  return new GatewayError('CONFIG_INVALID', { file, path, reason });
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): Settings {
  const port = env.PORT === undefined || env.PORT === '' ? 8080 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalid('environment', 'PORT', `not a port number: ${env.PORT}`);
  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw invalid('environment', 'DATABASE_URL', 'must be a postgres:// URL');
  const clock = env.PAG_CLOCK || 'system';
  if (clock !== 'system' && clock !== 'manual') throw invalid('environment', 'PAG_CLOCK', 'must be "manual" or unset');
  return {
    port,
    host: env.HOST || '127.0.0.1',
    configFile: resolve(env.PAG_CONFIG || join(CONFIG_DIR, 'default.json')),
    dataDir: resolve(env.DATA_DIR || './data'),
    databaseUrl,
    amqpUrl: env.AMQP_URL || null,
    certsDir: resolve(env.PAG_CERTS_DIR || CERTS_DIR),
    clock,
    logLevel: env.LOG_LEVEL || 'info',
  };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw invalid(file, '/', `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(file, '/', `is not JSON: ${(e as Error).message}`);
  }
}

function check<T>(file: string, schemaId: string, data: unknown): T {
  const v = validator<T>(schemaId);
  if (!v(data)) {
    const p = describeErrors(v.errors)[0]!;
    throw invalid(file, p.path, p.message);
  }
  return data as T;
}

const DEFAULT_RETRY = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 60_000, receiptTimeoutMs: 60_000 };

/** Reads, validates and cross-checks a configuration file; throws CONFIG_INVALID naming the bad field. */
export function loadConfig(file: string): GatewayConfig {
  return configFromDocument(readJson(file), file);
}

/** The configuration file's document as parsed JSON (the form stored as a configuration version). */
export function readConfigDocument(file: string): Record<string, unknown> {
  return readJson(file) as Record<string, unknown>;
}

/**
 * Validates and cross-checks a configuration document (from the file or an administrator's change); relative paths are
 * resolved against `file`'s folder. The document itself is not changed.
 */
export function configFromDocument(document: unknown, file: string): GatewayConfig {
  type Raw = Omit<GatewayConfig, 'file' | 'calendarFile' | 'adapters'> & {
    calendar: string;
    adapters: Record<string, { kind: string; enabled?: boolean; options?: Record<string, unknown>; retry?: Partial<AdapterConfig['retry']> }>;
  };
  // Validation fills defaults into what it checks; the caller's document stays as it was given.
  const raw = check<Raw>(file, 'config.schema.json', structuredClone(document));
  const here = dirname(file);
  const rel = (p: string) => (isAbsolute(p) ? p : join(here, p));

  const adapters: Record<string, AdapterConfig> = {};
  for (const [name, a] of Object.entries(raw.adapters)) {
    const options = structuredClone(a.options ?? {});
    const v = validator(`adapters/${a.kind}.schema.json`);
    if (!v(options)) {
      const p = describeErrors(v.errors)[0]!;
      throw invalid(file, `/adapters/${name}/options${p.path === '/' ? '' : p.path}`, p.message);
    }
    // A SOAP department's WSDL given as a file, not a URL, is read by the gateway (and an administrator may change it at
    // run time): confine it to the configuration's folder, so that "../../etc/passwd" or "/etc/shadow" cannot make the
    // gateway read, and report parts of, a file elsewhere.
    if (a.kind === 'soap' && typeof options.wsdl === 'string' && !/^https?:\/\//i.test(options.wsdl)) {
      const segments = options.wsdl.split('/');
      if (!/^[A-Za-z0-9_.\/-]+$/.test(options.wsdl) || isAbsolute(options.wsdl) || segments.some((s) => s === '..' || s === '.' || s === '')) {
        throw invalid(file, `/adapters/${name}/options/wsdl`, "a WSDL file is named relative to the configuration's folder, without '..', '.' or empty segments");
      }
      options.wsdl = join(here, options.wsdl);
    }
    adapters[name] = { kind: a.kind, enabled: a.enabled ?? true, options, retry: { ...DEFAULT_RETRY, ...a.retry } };
  }

  const ids = new Set<string>();
  raw.departments.forEach((d, i) => {
    if (ids.has(d.id)) throw invalid(file, `/departments/${i}/id`, `duplicate department id ${d.id}`);
    ids.add(d.id);
    if (!adapters[d.adapter]) throw invalid(file, `/departments/${i}/adapter`, `no adapter named ${d.adapter}`);
    d.issuesPermit = d.issuesPermit ?? true;
  });
  raw.routes.forEach((r, i) => {
    const dep = raw.departments.find((d) => d.id === r.department);
    if (!dep) throw invalid(file, `/routes/${i}/department`, `no department ${r.department}`);
    if (dep.type !== r.type) throw invalid(file, `/routes/${i}/type`, `department ${r.department} is of type ${dep.type}, not ${r.type}`);
    r.items?.forEach((item, j) => {
      if (!raw.scopeItems[item]) throw invalid(file, `/routes/${i}/items/${j}`, `no scope item ${item}`);
    });
    const problem = chainProblem(r, raw.departments);
    if (problem) throw invalid(file, problem[0] === 0 ? `/routes/${i}/department` : `/routes/${i}/then/${problem[0] - 1}`, problem[1]);
  });
  const push = raw.province?.push;
  if (push) {
    const a = adapters[push.adapter];
    if (!a) throw invalid(file, '/province/push/adapter', `no adapter named ${push.adapter}`);
    // The province takes signed XML documents, over HTTP or SOAP; the fake adapter stands in for it in demos and tests.
    if (!['xml', 'soap', 'fake'].includes(a.kind)) throw invalid(file, '/province/push/adapter', `adapter ${push.adapter} is of kind ${a.kind}; the province is reached over xml or soap`);
    if (ids.has(push.receiver)) throw invalid(file, '/province/push/receiver', `${push.receiver} is a department id`);
    if (raw.departments.some((d) => d.adapter === push.adapter)) throw invalid(file, '/province/push/adapter', `adapter ${push.adapter} also serves departments; give the province its own`);
  }
  const pull = raw.province?.pull;
  if (pull) pull.retry = Object.assign({ maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 }, pull.retry);
  raw.province?.subscriptions?.forEach((s, i) => {
    const dep = raw.departments.find((d) => d.id === s.department);
    if (!dep) throw invalid(file, `/province/subscriptions/${i}/department`, `no department ${s.department}`);
    // XML and SOAP channels carry the approval documents of their XSD and WSDL, which have no status change.
    const kind = adapters[dep.adapter]!.kind;
    if (!['amqp', 'rest', 'fake'].includes(kind)) throw invalid(file, `/province/subscriptions/${i}/department`, `department ${s.department} is reached over ${kind}; status changes go over amqp (topic exchange) or rest (webhook)`);
  });
  const peers = (raw.peers ?? []).map((p) => ({ ...p, departments: p.departments ?? [] }));
  const peerIds = new Set<string>();
  peers.forEach((p, i) => {
    if (peerIds.has(p.id)) throw invalid(file, `/peers/${i}/id`, `duplicate peer ${p.id}`);
    peerIds.add(p.id);
    if (p.id === raw.gateway.id) throw invalid(file, `/peers/${i}/id`, 'a gateway is not its own peer');
    const a = adapters[p.adapter];
    if (!a || a.kind !== 'gateway') throw invalid(file, `/peers/${i}/adapter`, `no adapter of kind gateway named ${p.adapter}`);
    if (a.options.gateway !== p.id) throw invalid(file, `/peers/${i}/adapter`, `adapter ${p.adapter} reaches ${String(a.options.gateway)}, not ${p.id}`);
    p.departments.forEach((d, j) => {
      const dep = raw.departments.find((x) => x.id === d);
      if (!dep) throw invalid(file, `/peers/${i}/departments/${j}`, `no department ${d}`);
      // Asking a department that is itself served by another gateway would relay a relay; one hop keeps the trust chain short.
      if (adapters[dep.adapter]?.kind === 'gateway') throw invalid(file, `/peers/${i}/departments/${j}`, `department ${d} is itself served by a peer`);
    });
  });
  raw.departments.forEach((d, i) => {
    const a = adapters[d.adapter]!;
    if (a.kind !== 'gateway') return;
    // The peer signs and identifies that department's reviewers; this gateway holds no key of it to sign with.
    if (d.hosted) throw invalid(file, `/departments/${i}/hosted`, 'a department served by a peer gateway is hosted there, not here');
    if (a.options.gateway === raw.gateway.id) throw invalid(file, `/adapters/${d.adapter}/options/gateway`, 'a gateway adapter reaches another gateway');
    if (!peers.some((p) => p.id === a.options.gateway)) throw invalid(file, `/departments/${i}/adapter`, `adapter ${d.adapter} reaches ${String(a.options.gateway)}, which is not in peers`);
  });
  const cycle = chainCycle(raw.routes);
  if (cycle) throw invalid(file, '/routes', `chained routes form a cycle: ${cycle.join(' -> ')}`);
  raw.eligibility.rules.forEach((rule, i) => {
    for (const key of ['anyScopeItem', 'allScopeItemsIn'] as const) {
      rule.when[key]?.forEach((item, j) => {
        if (!raw.scopeItems[item]) throw invalid(file, `/eligibility/rules/${i}/when/${key}/${j}`, `no scope item ${item}`);
      });
    }
  });
  raw.creditCodes.blocks.forEach((b, i) => {
    if (b.first > b.last) throw invalid(file, `/creditCodes/blocks/${i}/first`, 'first is after last');
  });

  const { calendar, adapters: _a, ...rest } = raw;
  const cfg: GatewayConfig = {
    ...rest,
    gateway: { ...raw.gateway, tokenTtlSeconds: raw.gateway.tokenTtlSeconds ?? 3600, stepUpSeconds: raw.gateway.stepUpSeconds ?? 300, bodyLimitBytes: raw.gateway.bodyLimitBytes ?? 262_144 },
    file,
    calendarFile: rel(calendar),
    adapters,
    peers,
  };
  if (cfg.gateway.demoUsers) cfg.gateway.demoUsers = rel(cfg.gateway.demoUsers);
  return deepFreeze(cfg);
}

export function loadDemoUsers(cfg: GatewayConfig): DemoUser[] {
  if (cfg.gateway.environment !== 'demo' || !cfg.gateway.demoUsers) return [];
  const file = cfg.gateway.demoUsers;
  const data = check<{ users: DemoUser[] }>(file, 'demo-users.schema.json', readJson(file));
  data.users.forEach((u, i) => {
    if (u.role === 'reviewer' && !cfg.departments.some((d) => d.id === u.departmentId)) {
      throw invalid(file, `/users/${i}/departmentId`, 'a reviewer needs a configured department');
    }
  });
  return data.users;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
