// Reviewer assertions between peer gateways: a short-lived JWT, signed by the gateway that authenticated a department's reviewer.
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { Level } from '../domain/types.js';
import type { KeyAlg, KeyRegistry } from '../trust/keys.js';
import { GATEWAY_OWNER } from '../trust/messages.js';

const TYP = 'pag-reviewer+jwt';
/** Long enough for one delivery attempt; a retried answer gets a new assertion (see GatewaySigner.peer). */
export const ASSERTION_TTL_SECONDS = 120;

/** Who decided, as the gateway that identifies the department's reviewers says. */
export interface ReviewerFacts {
  username: string;
  departmentId: string;
  role: string;
  level: Level;
  /** Authentication methods of the reviewer's login at that gateway: ['pwd', 'otp']. */
  amr: string[];
}

/** Signs an assertion with this gateway's newest active key: issuer this gateway, audience the peer it goes to. */
export async function mintAssertion(keys: KeyRegistry, issuer: string, audience: string, f: ReviewerFacts, now = Date.now()): Promise<string> {
  const { entry, key } = keys.signingKey(GATEWAY_OWNER, now);
  const iat = Math.floor(now / 1000);
  return new SignJWT({ dept: f.departmentId, role: f.role, level: f.level, amr: [...f.amr] })
    .setProtectedHeader({ alg: entry.alg, kid: entry.kid, typ: TYP })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(f.username)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_TTL_SECONDS)
    .setJti(randomUUID())
    .sign(key);
}

/**
 * Verifies an assertion as issued by `issuer` (the peer serving the department) for `audience` (this gateway), unexpired
 * and short-lived. Throws with the reason for the refusal record; the caller gets one code whatever the reason.
 */
export async function verifyAssertion(keys: KeyRegistry, jwt: unknown, issuer: string, audience: string, now = Date.now()): Promise<ReviewerFacts> {
  if (typeof jwt !== 'string' || !jwt) throw new Error('no reviewer assertion');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jwt);
  } catch {
    throw new Error('the assertion is not a JWT');
  }
  if (typeof header.kid !== 'string' || typeof header.alg !== 'string') throw new Error('the assertion names no kid or alg');
  // The key is the issuing peer's own: an assertion signed by any other gateway (or a department) finds no key here.
  const found = keys.verificationKey(header.kid, issuer, header.alg, now);
  if ('refusal' in found) throw new Error(`assertion key: ${found.refusal}`);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(jwt, found.key, {
      algorithms: [found.entry.alg as KeyAlg],
      issuer,
      audience,
      typ: TYP,
      requiredClaims: ['iat', 'exp', 'sub', 'jti'],
      currentDate: new Date(now),
      maxTokenAge: ASSERTION_TTL_SECONDS + 30,
    }));
  } catch (e) {
    throw new Error(`assertion not valid: ${(e as Error).message}`);
  }
  const { sub, dept, role, level, amr } = payload;
  if (typeof sub !== 'string' || typeof dept !== 'string' || typeof role !== 'string' || typeof level !== 'string') throw new Error('the assertion lacks sub, dept, role or level');
  if (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string')) throw new Error('the assertion lacks amr');
  if (typeof payload.exp === 'number' && typeof payload.iat === 'number' && payload.exp - payload.iat > ASSERTION_TTL_SECONDS) throw new Error('the assertion lives longer than allowed');
  return { username: sub, departmentId: dept, role, level: level as Level, amr: amr as string[] };
}
