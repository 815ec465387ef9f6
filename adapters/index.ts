// Adapter registry: resolves an adapter kind named in configuration to its factory.
import type { Adapter, AdapterFactory } from './adapter.js';
import { createAmqpAdapter } from './amqp/index.js';
import { createFakeAdapter } from './fake/index.js';
import { createGatewayPeerAdapter } from './gateway/index.js';
import { createRestAdapter } from './rest/index.js';
import { createSoapAdapter } from './soap/index.js';
import { createXmlAdapter } from './xml/index.js';

const FACTORIES: Record<string, AdapterFactory> = {
  amqp: createAmqpAdapter,
  fake: createFakeAdapter,
  gateway: createGatewayPeerAdapter,
  rest: createRestAdapter,
  xml: createXmlAdapter,
  soap: createSoapAdapter,
};

export function createAdapter(name: string, kind: string, options: Record<string, unknown>): Adapter {
  const factory = FACTORIES[kind];
  if (!factory) throw new Error(`no adapter kind ${kind}`);
  return factory(name, options);
}

export const adapterKinds = (): string[] => Object.keys(FACTORIES);
