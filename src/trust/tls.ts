// TLS material under the certificates folder: client certificates for outgoing HTTPS, the gateway's server certificate, and
// the binding of a department to the client certificates its CA issues (mutual TLS as the channel factor).
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

/** Files (relative to the certificates folder) an HTTPS client presents and trusts. */
export interface ClientTlsFiles {
  /** CA certificate(s) that sign the peer's server certificate; absent: the system's trusted CAs. */
  ca?: string;
  /** This gateway's client certificate and its private key, for peers that require mutual TLS. */
  cert?: string;
  key?: string;
  /** The name the server certificate must carry when it differs from the URL's host. */
  servername?: string;
}

/** A department's client certificates: issued by `ca`, with `subject` as their common name (default: the department id). */
export interface CertificateBinding {
  ca: string;
  subject?: string;
}

/** The gateway's own HTTPS listener. */
export interface ServerTlsFiles {
  cert: string;
  key: string;
}

/**
 * Reads a file of the certificates folder. Configuration names files relative to that folder and may not leave it: an
 * administrator's change through the API must not be able to make the gateway read (and use) any file on the machine.
 */
export function readCertsFile(certsDir: string, name: string): Buffer {
  const full = resolve(certsDir, name);
  const rel = relative(resolve(certsDir), full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${name} is outside the certificates folder`);
  return readFileSync(full);
}

/** The `tls` options of an HTTPS request built from the configured files. */
export function clientTlsOptions(certsDir: string, f: ClientTlsFiles): { ca?: Buffer; cert?: Buffer; key?: Buffer; servername?: string } {
  if ((f.cert === undefined) !== (f.key === undefined)) throw new Error('a client certificate needs both cert and key');
  return {
    ...(f.ca !== undefined ? { ca: readCertsFile(certsDir, f.ca) } : {}),
    ...(f.cert !== undefined ? { cert: readCertsFile(certsDir, f.cert), key: readCertsFile(certsDir, f.key!) } : {}),
    ...(f.servername !== undefined ? { servername: f.servername } : {}),
  };
}

/** A binding ready to check certificates: its CA parsed once. */
export interface LoadedBinding {
  ca: X509Certificate;
  subject: string;
}

export function loadBinding(certsDir: string, departmentId: string, b: CertificateBinding): LoadedBinding {
  const ca = new X509Certificate(readCertsFile(certsDir, b.ca));
  if (!ca.ca) throw new Error(`${b.ca} is not a CA certificate`);
  return { ca, subject: b.subject ?? departmentId };
}

/** The common name of a certificate's subject (`CN=...` line of Node's multi-line form). */
export function commonName(cert: X509Certificate): string | null {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line ? line.slice(3) : null;
}

/**
 * Why a client certificate may not speak for the department bound to `b`, or null when it may: it must be issued and
 * signed by the department's own CA (not merely by some CA the listener trusts), be within its validity window, and
 * name the department as its subject.
 */
export function certificateProblem(cert: X509Certificate | undefined, b: LoadedBinding, nowMs: number): string | null {
  if (!cert) return 'no client certificate';
  if (!cert.checkIssued(b.ca) || !cert.verify(b.ca.publicKey)) return "client certificate not issued by the department's CA";
  if (nowMs < Date.parse(cert.validFrom) || nowMs > Date.parse(cert.validTo)) return 'client certificate outside its validity window';
  const cn = commonName(cert);
  if (cn !== b.subject) return `client certificate names ${cn ?? 'no common name'}, not ${b.subject}`;
  return null;
}
