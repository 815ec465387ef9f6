// A throw-away PKI for TLS tests, made with the openssl command line: CAs, server certificates for 127.0.0.1, client certificates.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Makes files `<name>.pem` and `<name>.key` in `dir` and returns their names (relative to `dir`). */
export class Pki {
  constructor(
    /** Where the files go (a folder under a test's certificates folder). */
    readonly dir: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** A self-signed CA valid for two days. */
  ca(name: string): string {
    openssl(['req', '-x509', ...P256, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], this.dir);
    return `${name}.pem`;
  }

  /** A certificate signed by `ca` for a client (`clientAuth`) or a server on 127.0.0.1 and localhost. */
  issue(name: string, ca: string, commonName: string, usage: 'client' | 'server'): { cert: string; key: string } {
    const ext = usage === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n';
    writeFileSync(join(this.dir, `${name}.ext`), ext);
    openssl(['req', ...P256, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=Test/CN=${commonName}`], this.dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`], this.dir);
    return { cert: `${name}.pem`, key: `${name}.key` };
  }
}
