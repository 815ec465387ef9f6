// `pag keys generate|import|list|rotate|revoke`: the key registry under certs/ (PAG_CERTS_DIR) from the command line.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, settingsFromEnv } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';
import { KEY_ALGS, KeyRegistry, type KeyAlg } from '../trust/keys.js';

export const KEYS_USAGE = `  keys list [--owner ID] [--json] registered keys: kid, owner, algorithm, status, validity
  keys generate --owner ID [--alg RS256|ES256|EdDSA] [--valid-days N] [--demo]
                                a new key pair (the gateway's own: --owner gateway)
  keys import --owner DEPT --file PUB.pem [--kid KID] [--valid-days N] [--not-before ISO]
                                register a department's public key (RSA PKCS#1 or SPKI, EC P-256, Ed25519)
  keys rotate --owner ID [--alg ALG] [--overlap-days N]
                                new signing key now; the old ones verify until the overlap ends
  keys revoke KID               refuse a key from now on (every gateway reading this registry)`;

export function keysCommand(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      owner: { type: 'string' }, alg: { type: 'string' }, 'valid-days': { type: 'string' }, demo: { type: 'boolean' }, file: { type: 'string' },
      kid: { type: 'string' }, 'not-before': { type: 'string' }, 'overlap-days': { type: 'string' }, json: { type: 'boolean' },
    },
  });
  const settings = settingsFromEnv();
  const production = loadConfig(settings.configFile).gateway.environment === 'production';
  const reg = new KeyRegistry(settings.certsDir, production);
  const alg = (values.alg ?? 'ES256') as KeyAlg;
  if (!KEY_ALGS.includes(alg)) throw new GatewayError('KEY_NOT_VALID', { reason: `algorithm ${alg} is not one of ${KEY_ALGS.join(', ')}` });
  const days = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const show = (k: { kid: string; owner: string; alg: string; status: string; notBefore: string; notAfter: string; demo: boolean }) =>
    `${k.kid.padEnd(34)} ${k.owner.padEnd(16)} ${k.alg.padEnd(6)} ${k.status.padEnd(8)} ${k.notBefore.slice(0, 10)}..${k.notAfter.slice(0, 10)}${k.demo ? ' demo' : ''}`;
  const [verb, target] = positionals;
  switch (verb) {
    case 'list': {
      const keys = reg.list(values.owner);
      if (values.json) console.log(JSON.stringify(keys, null, 2));
      else for (const k of keys) console.log(show(k));
      return 0;
    }
    case 'generate': {
      if (!values.owner) break;
      if (values.demo && production) throw new GatewayError('KEY_NOT_VALID', { reason: 'demo keys are not made for a production configuration' });
      console.log(show(reg.generate(values.owner, alg, { validDays: days(values['valid-days']), demo: values.demo })));
      return 0;
    }
    case 'import': {
      if (!values.owner || !values.file) break;
      const k = reg.import(values.owner, readFileSync(values.file, 'utf8'), {
        alg: values.alg ? alg : undefined, kid: values.kid, validDays: days(values['valid-days']), notBefore: values['not-before'],
      });
      console.log(show(k));
      return 0;
    }
    case 'rotate': {
      if (!values.owner) break;
      // Without --alg the new key keeps the algorithm of the owner's current one: peers may accept only that.
      const current = reg.list(values.owner).filter((k) => k.status === 'active').at(-1);
      const r = reg.rotate(values.owner, values.alg ? alg : current?.alg ?? alg, { overlapDays: days(values['overlap-days']), validDays: days(values['valid-days']), demo: values.demo && !production });
      console.log(`new     ${show(r.added)}`);
      for (const k of r.retiring) console.log(`retiring ${show(k)}`);
      return 0;
    }
    case 'revoke': {
      if (!target) break;
      console.log(`revoked ${show(reg.revoke(target))}`);
      return 0;
    }
  }
  console.error(`pag keys: unknown or incomplete command\n${KEYS_USAGE}`);
  return 2;
}
