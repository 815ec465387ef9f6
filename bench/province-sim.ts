// Bench child: the simulated province on its own process (its own core), serving the generated feed over loopback.
import { CERTS_DIR } from '../src/paths.js';
import { startProvinceSim } from '../src/province/sim.js';
import { KeyRegistry } from '../src/trust/keys.js';

let peak = 0;
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50).unref();
process.on('message', (m: { seed: number; total: number; receiver: string } | { rss: true }) => {
  if ('rss' in m) return void process.send!({ rss: peak });
  startProvinceSim({ keys: new KeyRegistry(CERTS_DIR, false), receiver: m.receiver, feed: { seed: m.seed, total: m.total } }).then(
    (sim) => process.send!({ url: sim.url }),
    (e: Error) => process.send!({ error: e.message }, () => process.exit(1)),
  );
});
