// Users and login: password + TOTP -> a short-lived token; lockout and rate limits; demo users only in the demo environment.
import { randomUUID } from 'node:crypto';
import { fail, GatewayError } from '../domain/errors.js';
import type { Role } from '../domain/types.js';
import type { Db } from '../store/sql.js';
import { DUMMY_HASH, hashPassword, verifyPassword } from '../trust/passwords.js';
import { LoginGuard } from '../trust/login-guard.js';
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
  readonly guard = new LoginGuard();

  constructor(
    private readonly db: Db,
    private readonly tokens: TokenService,
    private readonly issuer: string,
    private readonly departmentExists: (id: string) => boolean,
  ) {}

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
    this.guard.check(username, ip, now);
    const row = await this.db.get<UserRow>('SELECT * FROM users WHERE username = $1', [username]);
    const passwordOk = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
    let step: number | null = null;
    if (row && passwordOk && !this.guard.isLocked(username, now)) {
      const t = verifyTotp(row.totp_secret, otp, row.last_totp_step === null ? null : Number(row.last_totp_step), now);
      if (t.ok) step = t.step;
    }
    if (!row || step === null) {
      this.guard.recordFailure(username, ip, now);
      throw new GatewayError('LOGIN_FAILED');
    }
    // A code is good once: record its step so a replay inside the window is refused.
    const n = await this.db.run('UPDATE users SET last_totp_step = $1 WHERE id = $2 AND (last_totp_step IS NULL OR last_totp_step < $1)', [step, row.id]);
    if (n === 0) {
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
    };
    return { token: await this.tokens.issue(principal), principal };
  }
}
