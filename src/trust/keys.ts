// Key registry under certs/: the gateway's and each department's signing keys, with kid, validity window and status.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import NodeRSA from 'node-rsa';
import { GatewayError } from '../domain/errors.js';

/** Signature algorithms of messages (JOSE names; Ed25519 keys sign as `EdDSA`). */
export type KeyAlg = 'RS256' | 'ES256' | 'EdDSA';
export const KEY_ALGS: readonly KeyAlg[] = ['RS256', 'ES256', 'EdDSA'];

/** `active`: signs and verifies; `retiring`: verifies only, until `notAfter` (the overlap of a rotation); `revoked`: nothing. */
export type KeyStatus = 'active' | 'retiring' | 'revoked';

/** One registered key. Times are ISO-8601; files are relative to the registry's folder. */
export interface KeyEntry {
  kid: string;
  /** 'gateway' for this gateway's own keys, otherwise a department id. */
  owner: string;
  alg: KeyAlg;
  status: KeyStatus;
  notBefore: string;
  notAfter: string;
  /** Demo keys are published with the code; a production configuration never uses or accepts them. */
  demo: boolean;
  publicKey: string;
  /** Only for keys this gateway signs with. */
  privateKey?: string;
  createdAt: string;
  revokedAt?: string;
}

interface RegistryFile {
  keys: KeyEntry[];
}

/** Why a key may not be used for a message; each is refused with KEY_NOT_VALID and this reason. */
export type KeyRefusal = 'unknown key' | 'key of another sender' | 'key revoked' | 'key not yet valid' | 'key expired' | 'demo key in production' | 'algorithm mismatch';

const DAY = 86_400_000;
const SIGNING_RECHECK_MS = 100;

export class KeyRegistry {
  private entries: KeyEntry[] = [];
  private mtimeMs = -1;
  private readonly cache = new Map<string, KeyObject>();
  private readonly signers = new Map<string, KeyEntry[]>();
  private checkedAt = -Infinity;
  /** Each entry's validity window as numbers; every change is saved and re-read as new entry objects, so none goes stale. */
  private readonly windows = new WeakMap<KeyEntry, [number, number]>();

  constructor(
    /** The certs folder; the registry is `registry.json` in it. */
    readonly dir: string,
    /** In production, demo keys are neither used nor accepted. */
    readonly production: boolean,
  ) {
    this.refresh();
  }

  get file(): string {
    return join(this.dir, 'registry.json');
  }

  /** Re-reads the registry when the file changed, so a revocation by `pag keys revoke` applies at the next message. */
  refresh(maxAgeMs = 0): void {
    const t = performance.now();
    if (maxAgeMs > 0 && t - this.checkedAt < maxAgeMs) return;
    this.checkedAt = t;
    const st = statSync(this.file, { throwIfNoEntry: false });
    if (!st) {
      this.entries = [];
      this.mtimeMs = -1;
      this.signers.clear();
      return;
    }
    const m = st.mtimeMs;
    if (m === this.mtimeMs) return;
    const data = JSON.parse(readFileSync(this.file, 'utf8')) as RegistryFile;
    this.entries = data.keys ?? [];
    this.mtimeMs = m;
    this.cache.clear();
    this.signers.clear();
  }

  list(owner?: string): KeyEntry[] {
    this.refresh();
    return this.entries.filter((k) => owner === undefined || k.owner === owner);
  }

  /**
   * The key `owner` signs with now: the newest active key in its window (never a demo key in production); `alg` narrows
   * the choice for a channel that needs one algorithm (XML-DSig signs with RS256 only).
   */
  signingKey(owner: string, now = Date.now(), alg?: KeyAlg): { entry: KeyEntry; key: KeyObject } {
    // Signing looks at the file at most every SIGNING_RECHECK_MS (a stat per signature cost a sixth of an ES256
    // signature); a rotation by another process is picked up within that, while the old key stays valid in its
    // overlap. Verification (verificationKey) looks every time: a revocation refuses the very next message.
    this.refresh(SIGNING_RECHECK_MS);
    // The candidates, newest first, are worked out once per registry version; only the validity window depends on `now`.
    const id = `${owner}|${alg ?? ''}`;
    let candidates = this.signers.get(id);
    if (!candidates) {
      candidates = this.entries
        .filter((k) => k.owner === owner && k.status === 'active' && k.privateKey && !(this.production && k.demo) && (alg === undefined || k.alg === alg))
        .sort((a, b) => Date.parse(b.notBefore) - Date.parse(a.notBefore));
      this.signers.set(id, candidates);
    }
    const entry = candidates.find((k) => this.within(k, now));
    if (!entry) throw new GatewayError('KEY_NOT_VALID', { reason: `no active ${alg ? `${alg} ` : ''}signing key for ${owner}${this.production ? ' (demo keys are not used in production)' : ''}` });
    return { entry, key: this.load(entry, 'private') };
  }

  /** The public key to check a message signed with `kid` by `sender`, or why it may not be used. */
  verificationKey(kid: string, sender: string, alg: string, now = Date.now()): { entry: KeyEntry; key: KeyObject } | { refusal: KeyRefusal } {
    this.refresh();
    const entry = this.entries.find((k) => k.kid === kid);
    if (!entry) return { refusal: 'unknown key' };
    if (entry.owner !== sender) return { refusal: 'key of another sender' };
    if (entry.status === 'revoked') return { refusal: 'key revoked' };
    if (this.production && entry.demo) return { refusal: 'demo key in production' };
    if (now < Date.parse(entry.notBefore)) return { refusal: 'key not yet valid' };
    if (now > Date.parse(entry.notAfter)) return { refusal: 'key expired' };
    if (entry.alg !== alg) return { refusal: 'algorithm mismatch' };
    return { entry, key: this.load(entry, 'public') };
  }

  private within(k: KeyEntry, now: number): boolean {
    let w = this.windows.get(k);
    if (!w) this.windows.set(k, (w = [Date.parse(k.notBefore), Date.parse(k.notAfter)]));
    return now >= w[0] && now <= w[1];
  }

  private load(entry: KeyEntry, which: 'public' | 'private'): KeyObject {
    const id = `${entry.kid}|${which}`;
    let key = this.cache.get(id);
    if (!key) {
      const pem = readFileSync(join(this.dir, which === 'private' ? entry.privateKey! : entry.publicKey), 'utf8');
      key = which === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
      this.cache.set(id, key);
    }
    return key;
  }

  private save(): void {
    mkdirSync(this.dir, { recursive: true });
    // Write then rename, so a gateway reading the registry never sees half a file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys: this.entries }, null, 2)}\n`);
    renameSync(tmp, this.file);
    this.mtimeMs = -1;
    this.refresh();
  }

  private writeFile(rel: string, content: string, mode: number): void {
    const p = join(this.dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content, { mode });
  }

  /** Generates a key pair for `owner` (the gateway, or a simulated department in a demo) and registers it. */
  generate(owner: string, alg: KeyAlg, o: { validDays?: number; demo?: boolean; now?: number } = {}): KeyEntry {
    const now = o.now ?? Date.now();
    const kid = `${owner}-${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
    const pair =
      alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 3072 })
        : alg === 'ES256'
          ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
          : generateKeyPairSync('ed25519');
    const pub = `${owner}/${kid}.pub.pem`;
    const priv = `${owner}/${kid}.key.pem`;
    this.writeFile(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
    this.writeFile(priv, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    const entry: KeyEntry = {
      kid, owner, alg, status: 'active', notBefore: new Date(now).toISOString(), notAfter: new Date(now + (o.validDays ?? 365) * DAY).toISOString(),
      demo: o.demo ?? false, publicKey: pub, privateKey: priv, createdAt: new Date(now).toISOString(),
    };
    this.refresh();
    this.entries.push(entry);
    this.save();
    return entry;
  }

  /**
   * Registers a department's public key from a PEM file. RSA keys may come as PKCS#1 or SPKI (node-rsa reads both and
   * reports the modulus size, which must be at least 2048 bits); EC P-256 and Ed25519 keys as SPKI.
   */
  import(owner: string, pem: string, o: { alg?: KeyAlg; kid?: string; validDays?: number; notBefore?: string; now?: number } = {}): KeyEntry {
    const now = o.now ?? Date.now();
    let spki: string;
    let alg: KeyAlg;
    if (/BEGIN RSA PUBLIC KEY/.test(pem) || o.alg === 'RS256') {
      const rsa = new NodeRSA(pem, /BEGIN RSA PUBLIC KEY/.test(pem) ? 'pkcs1-public-pem' : 'pkcs8-public-pem');
      if (rsa.getKeySize() < 2048) throw new GatewayError('KEY_NOT_VALID', { reason: `an RSA key of ${rsa.getKeySize()} bits is too short (2048 at least)` });
      spki = rsa.exportKey('pkcs8-public-pem');
      alg = 'RS256';
    } else {
      const key = createPublicKey(pem);
      const type = key.asymmetricKeyType;
      if (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') alg = 'ES256';
      else if (type === 'ed25519') alg = 'EdDSA';
      else if (type === 'rsa') alg = 'RS256';
      else throw new GatewayError('KEY_NOT_VALID', { reason: `unsupported key type ${type}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}` });
      if (o.alg && o.alg !== alg) throw new GatewayError('KEY_NOT_VALID', { reason: `the key is for ${alg}, not ${o.alg}` });
      spki = key.export({ type: 'spki', format: 'pem' }) as string;
    }
    const kid = o.kid ?? `${owner}-${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(3).toString('hex')}`;
    this.refresh();
    if (this.entries.some((k) => k.kid === kid)) throw new GatewayError('KEY_NOT_VALID', { reason: `kid ${kid} is already registered` });
    const pub = `${owner}/${kid}.pub.pem`;
    this.writeFile(pub, spki, 0o644);
    const nb = o.notBefore ? Date.parse(o.notBefore) : now;
    const entry: KeyEntry = {
      kid, owner, alg, status: 'active', notBefore: new Date(nb).toISOString(), notAfter: new Date(nb + (o.validDays ?? 365) * DAY).toISOString(),
      demo: false, publicKey: pub, createdAt: new Date(now).toISOString(),
    };
    this.entries.push(entry);
    this.save();
    return entry;
  }

  /**
   * Rotation without downtime: a new key signs from now on; the owner's other active keys keep
   * verifying until the overlap ends (their notAfter is brought forward to it, never extended). An RSA key also signs XML,
   * which nothing else can, so a new EC or Ed25519 key replaces the owner's EC and Ed25519 keys and leaves RSA ones alone.
   */
  rotate(owner: string, alg: KeyAlg, o: { overlapDays?: number; validDays?: number; demo?: boolean; now?: number } = {}): { added: KeyEntry; retiring: KeyEntry[] } {
    const now = o.now ?? Date.now();
    const until = now + (o.overlapDays ?? 7) * DAY;
    this.refresh();
    const retiring = this.entries.filter((k) => k.owner === owner && k.status === 'active' && (k.alg === alg || (alg !== 'RS256' && k.alg !== 'RS256')));
    const added = this.generate(owner, alg, { validDays: o.validDays, demo: o.demo, now });
    for (const k of this.entries) {
      if (retiring.some((r) => r.kid === k.kid)) {
        k.status = 'retiring';
        k.notAfter = new Date(Math.min(Date.parse(k.notAfter), until)).toISOString();
      }
    }
    this.save();
    return { added, retiring: this.entries.filter((k) => retiring.some((r) => r.kid === k.kid)) };
  }

  /** Revocation takes effect at once: every gateway reading this registry refuses the key from its next message. */
  revoke(kid: string, now = Date.now()): KeyEntry {
    this.refresh();
    const k = this.entries.find((x) => x.kid === kid);
    if (!k) throw new GatewayError('NOT_FOUND', { what: 'key' });
    k.status = 'revoked';
    k.revokedAt = new Date(now).toISOString();
    this.save();
    return k;
  }
}
