// `pag start`: runs the gateway until SIGINT or SIGTERM, then stops cleanly.
import { settingsFromEnv } from '../config/load.js';
import { Gateway } from '../gateway.js';

/** Returns -1: the process keeps running until a signal stops the gateway. */
export async function runServer(): Promise<number> {
  const gw = await Gateway.open({ settings: settingsFromEnv() });
  const { port, host } = await gw.start();
  console.error(`Parallel approval gateway on http://${host}:${port} (${gw.db.description}, ${gw.config.gateway.environment})`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    gw.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1;
}
