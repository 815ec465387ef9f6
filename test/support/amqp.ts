// AMQP test support: a configuration binding departments to the AMQP adapter, the real broker's view of queues, cleanup.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type GetMessage } from 'amqplib';
import { deleteTopology, names } from '../../adapters/amqp/topology.js';
import { CONFIG_DIR } from '../../src/paths.js';

export const AMQP_TEST_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const run = promisify(execFile);

/** A short-lived connection for inspection; its errors surface as rejected calls, not as an unheard 'error' event. */
async function open() {
  const conn = await connect(AMQP_TEST_URL);
  conn.on('error', () => undefined);
  return conn;
}

/** Exchange and queue names of one test run, so that runs never meet on the broker. */
export const uniquePrefix = (name: string) => `pagtest.${name}.${process.pid}.${Math.floor(Math.random() * 1e6)}`;

/** Writes a configuration whose `departments` use one AMQP adapter named `amqp`; returns its path. */
export function amqpConfig(dir: string, prefix: string, departments: string[], retry: Record<string, number>, options: Record<string, unknown> = {}): string {
  const cfg = JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'));
  delete cfg.$schema;
  cfg.calendar = join(CONFIG_DIR, 'calendar/cn.json');
  cfg.gateway.demoUsers = join(CONFIG_DIR, 'demo-users.json');
  cfg.adapters.amqp = {
    kind: 'amqp',
    options: { url: AMQP_TEST_URL, prefix, requeueDelayMs: 50, reconnect: { initialDelayMs: 100, maxDelayMs: 1000 }, ...options },
    retry,
  };
  for (const d of departments) {
    const dep = cfg.departments.find((x: any) => x.id === d);
    dep.adapter = 'amqp';
    // A department on AMQP has a system of its own that signs its answers; the gateway does not sign for it.
    dep.hosted = false;
  }
  const file = join(dir, `amqp-${Math.floor(Math.random() * 1e6)}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  return file;
}

/** The broker's own account of a test run's queues (rabbitmqctl, which runs as root here). */
export async function brokerQueues(prefix: string): Promise<{ name: string; type: string; durable: boolean; arguments: Record<string, unknown>; messages: number }[]> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', '-q', 'name', 'type', 'durable', 'arguments', 'messages', '--formatter', 'json']);
  return (JSON.parse(stdout) as any[]).filter((q) => q.name.startsWith(`${prefix}.`)).map((q) => ({ ...q, arguments: table(q.arguments) }));
}

/** rabbitmqctl's JSON renders an AMQP table as [name, type, value] triples. */
const table = (t: [string, string, unknown][]): Record<string, unknown> => Object.fromEntries(t.map(([k, , v]) => [k, v]));

/** Closes, from the broker's side, every client connection whose name contains `nameContains`; returns how many. */
export async function closeConnections(nameContains: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', '-q', 'name', 'client_properties', '--formatter', 'json']);
  const ours = new Set((JSON.parse(stdout) as any[]).filter((c) => String(table(c.client_properties).connection_name ?? '').includes(nameContains)).map((c) => c.name));
  // close_connection wants the pid as the plain listing prints it (the JSON one is in another notation).
  const plain = (await run('rabbitmqctl', ['list_connections', '-q', 'pid', 'name'])).stdout.split('\n').map((l) => l.split('\t'));
  const pids = plain.filter(([, name]) => name !== undefined && ours.has(name)).map(([pid]) => pid!);
  for (const pid of pids) await run('rabbitmqctl', ['close_connection', pid, 'closed by a test']);
  return pids.length;
}

/** Consumers per queue of a test run (list_queues counts none for quorum queues in RabbitMQ 3.10, list_consumers does). */
export async function brokerConsumers(prefix: string): Promise<Map<string, number>> {
  const { stdout } = await run('rabbitmqctl', ['list_consumers', '-q', 'queue_name', '--formatter', 'json']);
  const m = new Map<string, number>();
  for (const c of JSON.parse(stdout) as { queue_name: string }[]) if (c.queue_name.startsWith(`${prefix}.`)) m.set(c.queue_name, (m.get(c.queue_name) ?? 0) + 1);
  return m;
}

export async function brokerExchanges(prefix: string): Promise<{ name: string; type: string; durable: boolean; arguments: Record<string, unknown> }[]> {
  const { stdout } = await run('rabbitmqctl', ['list_exchanges', '-q', 'name', 'type', 'durable', 'arguments', '--formatter', 'json']);
  return (JSON.parse(stdout) as any[]).filter((x) => x.name.startsWith(`${prefix}.`)).map((x) => ({ ...x, arguments: table(x.arguments) }));
}

/** Takes every message now in the run's dead-letter queue. */
export async function drainDeadLetters(prefix: string): Promise<GetMessage[]> {
  const conn = await open();
  try {
    const ch = await conn.createChannel();
    const out: GetMessage[] = [];
    for (;;) {
      const m = await ch.get(names(prefix).deadLetterQueue, { noAck: true });
      if (!m) return out;
      out.push(m);
    }
  } finally {
    await conn.close();
  }
}

export async function deadLetterCount(prefix: string): Promise<number> {
  const conn = await open();
  try {
    return (await (await conn.createChannel()).checkQueue(names(prefix).deadLetterQueue)).messageCount;
  } finally {
    await conn.close();
  }
}

/** Deletes a run's exchanges and queues. */
export async function deleteRun(prefix: string, departments: string[]): Promise<void> {
  const conn = await open();
  try {
    const ch = await conn.createChannel();
    await deleteTopology(ch, names(prefix), departments);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

/** Waits for something the broker and the gateway do asynchronously (a round trip, not a span of time that could be moved). */
export async function until<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
