// `pag audit verify|export`: the audit chain checked against the live store or an offline bundle, and bundles written for auditors.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { seal, verifyChain, type ChainProblem } from '../bus/audit.js';
import { exportBundle, verifyBundle, type BundleHeader } from '../bus/audit-bundle.js';
import { registryKeys, writeCheckpoint } from '../bus/checkpoints.js';
import { settingsFromEnv } from '../config/load.js';
import type { Gateway } from '../gateway.js';

export const AUDIT_USAGE = `  audit verify                  walk the audit chain and its signed checkpoints; report the first altered, inserted or deleted event
  audit verify --bundle FILE [--trust PUB.pem]...
                                the same, offline, for an exported bundle (no database); --trust pins the keys it must be signed with
  audit export --out FILE|DIR   sign the chain head and write an offline bundle: events, checkpoints and public keys (JSON Lines)`;

type Print = (line: string) => void;

const tampered = (p: ChainProblem) => `TAMPERED: ${p.kind === 'checkpoint' ? 'checkpoint' : `${p.kind} event`} at position ${p.position}${p.seq ? ` (seq ${p.seq})` : ''}: ${p.detail}`;

export async function auditCommand(args: string[], print: Print = (l) => console.log(l)): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { bundle: { type: 'string' }, out: { type: 'string' }, trust: { type: 'string', multiple: true } } });
  const [verb] = positionals;
  if (verb === 'verify' && values.bundle) return auditVerifyBundle(values.bundle, values.trust ?? [], print);
  if (verb !== 'verify' && verb !== 'export') return -2;
  if (verb === 'export' && !values.out) {
    console.error('pag audit export: give --out FILE or --out DIR');
    return 2;
  }
  const { Gateway } = await import('../gateway.js');
  const gw = await Gateway.open({ settings: settingsFromEnv() });
  try {
    if (verb === 'verify') return await auditVerifyLive(gw, print);
    const h = await auditExport(gw, values.out!);
    print(`exported ${h.events} events and ${h.checkpoints} checkpoints to ${h.file}; chain head ${h.head.pos} ${h.head.hash}`);
    return 0;
  } finally {
    await gw.stop();
  }
}

/** Seals what is committed and walks the store's chain and checkpoints. */
export async function auditVerifyLive(gw: Gateway, print: Print): Promise<number> {
  while ((await seal(gw.db)).length > 0);
  const r = await verifyChain(gw.db, { keys: registryKeys(gw.keys) });
  if (!r.ok) {
    print(tampered(r.problem!));
    return 1;
  }
  const cp = r.checkpoints;
  print(`OK: ${r.checked} events verified; chain head ${r.head.pos} ${r.head.hash}`);
  print(cp.last ? `${cp.checked} signed checkpoints verified; the last at position ${cp.last.pos} (${cp.last.at}); ${cp.uncovered} events after it not yet signed` : 'no signed checkpoints yet');
  if (cp.skipped) print(`${cp.skipped} checkpoints signed with a key revoked since were passed over`);
  return 0;
}

/**
 * Seals what is committed, signs the head (so the whole bundle is covered by a checkpoint) and writes the bundle to
 * `out`, or into it as audit-<time>.jsonl when it is a folder. A gateway without a usable signing key fails here.
 */
export async function auditExport(gw: Gateway, out: string): Promise<BundleHeader & { file: string }> {
  await gw.sealer.settled();
  while ((await seal(gw.db)).length > 0);
  await writeCheckpoint(gw.db, gw.keys, gw.config.gateway.id);
  const file = statSync(out, { throwIfNoEntry: false })?.isDirectory() ? join(out, `audit-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`) : out;
  return { ...(await exportBundle(gw.db, gw.keys, gw.config.gateway.id, file)), file };
}

/** Verifies a bundle offline; 0 when it holds, 1 (with the first problem named) when not. */
export async function auditVerifyBundle(file: string, trust: string[], print: Print): Promise<number> {
  const r = await verifyBundle(file, trust.length ? { trusted: trust.map((f) => readFileSync(f, 'utf8')) } : {});
  if (!r.ok) {
    print(tampered(r.problem!));
    return 1;
  }
  print(`OK: ${r.checked} events verified; ${r.checkpoints} signed checkpoints verified, the last at position ${r.lastCheckpoint?.pos ?? 0}${r.lastCheckpoint ? ` (${r.lastCheckpoint.at})` : ''}`);
  for (const k of r.keys) print(`signed by ${k.kid} (${k.alg}), SPKI SHA-256 ${k.fingerprint}${trust.length ? ' (trusted)' : ': compare with the gateway\'s published key'}`);
  return 0;
}
