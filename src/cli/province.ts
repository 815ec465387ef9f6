// `pag province pull --once`: one pull run from the provincial system against the configured store, printing what it applied.
import { settingsFromEnv } from '../config/load.js';
import { GatewayError } from '../domain/errors.js';

/** Runs one pull to the end of the feed (or the first refusal or outage); exit code 1 when the run ended in an error. */
export async function provincePullOnce(say: (line: string) => void): Promise<number> {
  const { Gateway } = await import('../gateway.js');
  // Not started: no HTTP server, no dispatcher; the publications it writes leave with the next running gateway.
  const gw = await Gateway.open({ settings: settingsFromEnv(), pull: false });
  try {
    if (!gw.province) throw new GatewayError('PROVINCE_PULL_NOT_CONFIGURED');
    const r = await gw.province.runOnce();
    say(`province pull from ${gw.province.source}: ${r.pages} page${r.pages === 1 ? "" : "s"}, cursor ${JSON.stringify(r.cursor)} (sequence ${r.seq})${r.caughtUp ? ', caught up' : ''}`);
    say(`  applied ${r.applied}, stale ${r.stale} (older than what was known), repeated ${r.duplicates}, quarantined ${r.quarantined}`);
    say(`  credit-code warnings ${r.warnings}, enterprises first seen ${r.created}, publications to departments ${r.published}`);
    say(`  refused pages ${r.refused}, gaps fetched again ${r.gaps}, retries ${r.retries}`);
    if (r.error) say(`  stopped: ${r.error.code}: ${r.error.message}`);
    return r.error ? 1 : 0;
  } finally {
    await gw.stop();
  }
}
