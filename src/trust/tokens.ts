// Short-lived HS256 access tokens (JWT via jose) carrying the logged-in principal; expiry always checked against real time.
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { GatewayError } from '../domain/errors.js';
import type { Role } from '../domain/types.js';

export type { Role };

const ROLES: readonly Role[] = ['secretary', 'registrar', 'reviewer', 'supervisor', 'admin'];

/** Who is calling: the identity carried by a verified token. */
export interface Principal {
  /** User id. */
  sub: string;
  username: string;
  role: Role;
  departmentId?: string;
  /** Authentication methods used at login, e.g. ['pwd', 'otp']. */
  amr: string[];
  /** When (epoch seconds) a one-time code was last checked for this session: at login or a later step-up. */
  stepUpAt?: number;
}

/** Options of {@link TokenService.create}. */
export interface TokenServiceOptions {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /**
   * HMAC key, at least 32 bytes. When omitted a random 32-byte key is generated: tokens then die with the
   * process. To keep sessions across restarts the gateway must persist the key (e.g. a 0600 file in its data dir).
   */
  secret?: Uint8Array;
}

const ALG = 'HS256';
/** Verified tokens remembered, so a client's every request does not cost an HMAC check. */
const VERIFIED_MAX = 10_000;

const copy = (p: Principal): Principal => ({ ...p, amr: [...p.amr] });

/** Issues and verifies access tokens with one symmetric key. */
export class TokenService {
  private constructor(
    /** Imported once: given raw bytes, jose imports the key again on every sign and every verify. */
    private readonly key: CryptoKey,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {}

  private readonly verified = new Map<string, { principal: Principal; exp: number }>();

  /** Async so a future key source (file, KMS, asymmetric key import) can be awaited without changing callers. */
  static async create(opts: TokenServiceOptions): Promise<TokenService> {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0) throw new Error('ttlSeconds must be a positive integer');
    if (!opts.issuer || !opts.audience) throw new Error('issuer and audience are required');
    // HS256 keys shorter than the hash output weaken the MAC (RFC 7518 §3.2).
    if (opts.secret && opts.secret.length < 32) throw new Error('token secret must be at least 32 bytes');
    const raw = opts.secret ? Uint8Array.from(opts.secret) : new Uint8Array(randomBytes(32));
    const key = await webcrypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    return new TokenService(key, opts.issuer, opts.audience, opts.ttlSeconds);
  }

  /** Signs a token for `p`, valid for ttlSeconds from now (real time). */
  async issue(p: Principal): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = { username: p.username, role: p.role, amr: [...p.amr] };
    if (p.departmentId !== undefined) claims.dept = p.departmentId;
    if (p.stepUpAt !== undefined) claims.su = p.stepUpAt;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALG, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(p.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomUUID())
      .sign(this.key);
  }

  /**
   * Returns the principal of a valid token, or throws GatewayError('UNAUTHENTICATED') without saying why.
   * `nowMs` exists for tests only (to check expiry without sleeping); production callers must omit it.
   */
  async verify(token: string, nowMs?: number): Promise<Principal> {
    if (nowMs === undefined) {
      // A token verified before is the same token: only its expiry can have changed, and that is checked here.
      const hit = this.verified.get(token);
      if (hit && Math.floor(Date.now() / 1000) < hit.exp) return copy(hit.principal);
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
        algorithms: [ALG],
        issuer: this.issuer,
        audience: this.audience,
        typ: 'JWT',
        requiredClaims: ['iat', 'exp', 'jti', 'sub'],
        ...(nowMs !== undefined ? { currentDate: new Date(nowMs) } : {}),
      });
      const { sub, username, role, dept, amr, su } = payload;
      if (typeof sub !== 'string' || sub === '') throw new Error('sub');
      if (typeof username !== 'string' || username === '') throw new Error('username');
      if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) throw new Error('role');
      if (dept !== undefined && typeof dept !== 'string') throw new Error('dept');
      if (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string')) throw new Error('amr');
      if (su !== undefined && !Number.isInteger(su)) throw new Error('su');
      const principal: Principal = { sub, username, role: role as Role, amr: [...amr] };
      if (dept !== undefined) principal.departmentId = dept;
      if (su !== undefined) principal.stepUpAt = su as number;
      if (nowMs === undefined && typeof payload.exp === 'number') {
        // Bounded: a flood of distinct tokens empties the cache rather than growing it.
        if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
        this.verified.set(token, { principal: copy(principal), exp: payload.exp });
      }
      return principal;
    } catch {
      // One answer for every failure, so a caller learns nothing about which check failed.
      throw new GatewayError('UNAUTHENTICATED');
    }
  }
}
