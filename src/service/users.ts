// Users and login: password + TOTP -> a short-lived token; lockout and rate limits; demo users only in the demo environment.
import { randomUUID } from 'node:crypto';
import { fail, GatewayError } from '../domain/errors.js';
import type { Role } from '../domain/types.js';
import { appendEvents } from '../store/case-repo.js';
import type { Db } from '../store/sql.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from '../trust/passwords.js';
import { LoginGuard, type LoginGuardOptions } from '../trust/login-guard.js';
import { newTotpSecret, totpUri, verifyTotp } from '../trust/totp.js';
import type { Principal, TokenService } from '../trust/tokens.js';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  totp_secret: string;
  role: Role;
  department_id: string | null;
  last_totp_step: number | null;
}

/** A user as shown to administrators (never the secret or the hash). */
export interface UserView {
  id: string;
  username: string;
  role: Role;
  departmentId: string | null;
}

export class UserService {
  readonly guard: LoginGuard;
  /** When a rate-limited refusal from each address was last audited. */
  private readonly rateLimitAudited = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenService,
    private readonly issuer: string,
    private readonly departmentExists: (id: string) => boolean,
    /** Called after an audit event was committed, so the sealer chains it. */
    private readonly committed: () => void = () => {},
    guard: LoginGuardOptions = {},
  ) {
    this.guard = new LoginGuard(guard);
  }

  /**
   * Audits a refused login or step-up: who was named and from where, never which factor failed (the audit log is
   * read by more people than the security officer, and a factor named there would help whoever guesses).
   */
  private async auditRefusal(stage: 'login' | 'step-up', username: string, ip: string, code: string, now: number): Promise<void> {
    // A flood from one address is refused by the rate limit without touching the store; auditing each of those would
    // hand the flood a write per request. The first refusal of a minute per address stands for the rest.
    if (code === 'LOGIN_RATE_LIMITED') {
      const last = this.rateLimitAudited.get(ip);
      if (last !== undefined && now - last < 60_000) return;
      if (this.rateLimitAudited.size >= 10_000) this.rateLimitAudited.clear();
      this.rateLimitAudited.set(ip, now);
    }
    await this.db.tx((sql) => appendEvents(sql, null, now, { kind: 'system', id: 'auth' }, [{ action: 'auth.refused', data: { stage, username: username.slice(0, 200), ip, code } }]));
    this.committed();
  }

  /** Creates a user; returns the otpauth:// URI that carries the new TOTP secret. */
  async add(input: { username: string; password: string; role: Role; departmentId?: string; totpSecret?: string; demo?: boolean }): Promise<{ user: UserView; otpauth: string }> {
    if (input.role === 'reviewer' && (!input.departmentId || !this.departmentExists(input.departmentId))) {
      fail('UNKNOWN_DEPARTMENT', { departmentId: input.departmentId ?? '(none)' });
    }
    if (input.role !== 'reviewer' && input.departmentId) fail('VALIDATION_FAILED', { summary: 'only reviewers belong to a department' });
    if (input.password.length < 8) fail('VALIDATION_FAILED', { summary: 'the password needs at least 8 characters' });
    const secret = input.totpSecret ?? newTotpSecret();
    const id = randomUUID();
    const hash = await hashPassword(input.password);
    const n = await this.db.run(
      `INSERT INTO users (id, username, password_hash, totp_secret, role, department_id, demo, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username) DO NOTHING`,
      [id, input.username, hash, secret, input.role, input.departmentId ?? null, input.demo ? 1 : 0, Date.now()],
    );
    if (n === 0) fail('USER_EXISTS', { username: input.username });
    return { user: { id, username: input.username, role: input.role, departmentId: input.departmentId ?? null }, otpauth: totpUri(this.issuer, input.username, secret) };
  }

  async exists(username: string): Promise<boolean> {
    return !!(await this.db.get('SELECT id FROM users WHERE username = $1', [username]));
  }

  async list(): Promise<UserView[]> {
    const rows = await this.db.all<UserRow>('SELECT id, username, role, department_id FROM users ORDER BY username');
    return rows.map((r) => ({ id: r.id, username: r.username, role: r.role, departmentId: r.department_id }));
  }

  /** Checks all factors; every failure looks the same to the caller, whichever factor failed. */
  async login(username: string, password: string, otp: string, ip: string): Promise<{ token: string; principal: Principal }> {
    const now = Date.now(); // identity always uses real time, never the manual workflow clock
    try {
      this.guard.check(username, ip, now);
      const row = await this.db.get<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
      const passwordOk = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
      const step = row && passwordOk && !this.guard.isLocked(username, now) ? await this.consumeTotp(row, otp, now) : null;
      if (!row || step === null) {
        this.guard.recordFailure(username, ip, now);
        throw new GatewayError('LOGIN_FAILED');
      }
      this.guard.recordSuccess(username, ip, now);
      const principal: Principal = {
        sub: row.id,
        username: row.username,
        role: row.role,
        ...(row.department_id ? { departmentId: row.department_id } : {}),
        amr: ['pwd', 'otp'],
        stepUpAt: Math.floor(now / 1000),
      };
      return { token: await this.tokens.issue(principal), principal };
    } catch (e) {
      if (e instanceof GatewayError) await this.auditRefusal('login', username, ip, e.code, now);
      throw e;
    }
  }

  /**
   * Step-up: a logged-in user confirms a sensitive action with a fresh one-time code; the new token records when.
   * The same lockout as login applies, so a stolen token cannot be used to guess codes.
   */
  async stepUp(p: Principal, otp: string, ip: string): Promise<{ token: string; principal: Principal }> {
    const now = Date.now();
    try {
      this.guard.check(p.username, ip, now);
      const row = await this.db.get<UserRow>('SELECT * FROM users WHERE id = $1', [p.sub]);
      const step = row && row.username === p.username && !this.guard.isLocked(p.username, now) ? await this.consumeTotp(row, otp, now) : null;
      if (step === null) {
        this.guard.recordFailure(p.username, ip, now);
        throw new GatewayError('STEP_UP_FAILED');
      }
      this.guard.recordSuccess(p.username, ip, now);
      const principal: Principal = { ...p, amr: [...new Set([...p.amr, 'otp'])], stepUpAt: Math.floor(now / 1000) };
      return { token: await this.tokens.issue(principal), principal };
    } catch (e) {
      // A locked account answers STEP_UP_FAILED too: the caller learns nothing about the lock.
      const err = e instanceof GatewayError && e.code === 'LOGIN_FAILED' ? new GatewayError('STEP_UP_FAILED') : e;
      if (err instanceof GatewayError) await this.auditRefusal('step-up', p.username, ip, err.code, now);
      throw err;
    }
  }

  /** Checks a code and records its step, so the same code is good once (a replay inside the window is refused). */
  private async consumeTotp(row: UserRow, otp: string, now: number): Promise<number | null> {
    const t = verifyTotp(row.totp_secret, otp, row.last_totp_step === null ? null : Number(row.last_totp_step), now);
    if (!t.ok) return null;
    const n = await this.db.run('UPDATE users SET last_totp_step = $1 WHERE id = $2 AND (last_totp_step IS NULL OR last_totp_step < $1)', [t.step, row.id]);
    return n === 0 ? null : t.step;
  }
}
