// AMQP names and topology: durable exchanges, a quorum queue per department and direction, one dead-letter queue.
import type { Channel } from 'amqplib';

/** Exchange and queue names derived from the adapter's options. */
export interface Names {
  toDepartments: string;
  fromDepartments: string;
  deadLetter: string;
  deadLetterQueue: string;
  /** Topic exchange of the status changes pulled from the province (routing key <divisionCode>.<departmentType>.<kind>). */
  provinceChanges: string;
  /** A subscribing department's queue of status changes. */
  provinceQueue: (departmentId: string) => string;
  toQueue: (departmentId: string) => string;
  fromQueue: (departmentId: string) => string;
}

export function names(prefix: string, exchanges: Partial<Record<'toDepartments' | 'fromDepartments' | 'deadLetter' | 'provinceChanges', string>> = {}): Names {
  return {
    toDepartments: exchanges.toDepartments ?? `${prefix}.to-departments`,
    fromDepartments: exchanges.fromDepartments ?? `${prefix}.from-departments`,
    deadLetter: exchanges.deadLetter ?? `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.dead-letter`,
    provinceChanges: exchanges.provinceChanges ?? `${prefix}.province.changes`,
    provinceQueue: (d) => `${prefix}.province.${d}`,
    toQueue: (d) => `${prefix}.to.${d}`,
    fromQueue: (d) => `${prefix}.from.${d}`,
  };
}

/** Arguments of every department queue: replicated (quorum), bounded redelivery, dead letters to the dead-letter exchange. */
export function departmentQueueArguments(n: Names, deliveryLimit: number): Record<string, unknown> {
  return {
    // A quorum queue is replicated over the cluster's nodes and survives the loss of a minority of them.
    'x-queue-type': 'quorum',
    // A message that keeps failing (a poison message, a consumer that crashes on it) stops being redelivered.
    'x-delivery-limit': deliveryLimit,
    // Dead letters are moved at most once (RabbitMQ's default). Not at-least-once: on RabbitMQ 3.10 a broker application
    // restart can leave its dead-letter workers' supervisor stopped, and declaring such a queue then fails with an internal
    // error until the whole node restarts. Every message the gateway dead-letters is logged first.
    'x-dead-letter-exchange': n.deadLetter,
  };
}

/**
 * Declares everything the gateway uses; idempotent, so every gateway instance runs it after each (re)connection.
 * Outgoing messages go through a direct exchange keyed by department id. Incoming ones come through a topic exchange
 * keyed by the sending department's id: RabbitMQ's topic permissions can then confine each department's broker user to
 * its own routing key, and each department has its own inbound queue (see README: why one queue per department).
 */
export async function declareTopology(ch: Channel, n: Names, departments: string[], deliveryLimit: number): Promise<void> {
  await ch.assertExchange(n.toDepartments, 'direct', { durable: true });
  await ch.assertExchange(n.deadLetter, 'fanout', { durable: true });
  await ch.assertExchange(n.provinceChanges, 'topic', { durable: true });
  // A message no department queue takes (a department not on this adapter) is kept in the dead-letter queue, not dropped.
  await ch.assertExchange(n.fromDepartments, 'topic', { durable: true, alternateExchange: n.deadLetter });
  await ch.assertQueue(n.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(n.deadLetterQueue, n.deadLetter, '');
  const args = departmentQueueArguments(n, deliveryLimit);
  for (const d of departments) {
    await ch.assertQueue(n.toQueue(d), { durable: true, arguments: args });
    await ch.bindQueue(n.toQueue(d), n.toDepartments, d);
    await ch.assertQueue(n.fromQueue(d), { durable: true, arguments: args });
    await ch.bindQueue(n.fromQueue(d), n.fromDepartments, d);
  }
}

/** Removes a topology (tests and decommissioning); queues are deleted with whatever they still hold. */
export async function deleteTopology(ch: Channel, n: Names, departments: string[]): Promise<void> {
  for (const d of departments) {
    await ch.deleteQueue(n.toQueue(d));
    await ch.deleteQueue(n.fromQueue(d));
  }
  await ch.deleteQueue(n.deadLetterQueue);
  for (const x of [n.toDepartments, n.fromDepartments, n.deadLetter, n.provinceChanges]) await ch.deleteExchange(x);

}
