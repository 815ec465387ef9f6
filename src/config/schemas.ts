// One JSON Schema registry for every contract in schemas/: configuration, adapters and API bodies.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { SCHEMAS_DIR } from '../paths.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
type AddFormats = (ajv: Ajv2020) => unknown;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

let ajv: Ajv2020 | null = null;

function listJson(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return listJson(p);
    return name.endsWith('.schema.json') ? [p] : [];
  });
}

/** The shared Ajv instance with every schema under schemas/ registered by its $id. */
export function schemaRegistry(): Ajv2020 {
  if (ajv) return ajv;
  // strict mode catches typos in our own schemas; allErrors lets one 422 name every bad field.
  const a = new Ajv2020({ allErrors: true, strict: true, useDefaults: true, allowUnionTypes: true });
  addFormats(a);
  a.addKeyword({ keyword: 'x-example' });
  for (const file of listJson(SCHEMAS_DIR)) {
    const schema = JSON.parse(readFileSync(file, 'utf8')) as { $id?: string };
    a.addSchema(schema, schema.$id ?? relative(SCHEMAS_DIR, file));
  }
  ajv = a;
  return a;
}

/** Compiles every registered schema, so a broken contract stops start-up instead of failing a request later. */
export function compileAll(): void {
  const a = schemaRegistry();
  for (const id of Object.keys((a as unknown as { schemas: Record<string, unknown> }).schemas)) {
    if (id.endsWith('.schema.json')) a.getSchema(id);
  }
}

export function validator<T>(id: string): ValidateFunction<T> {
  const v = schemaRegistry().getSchema<T>(id);
  if (!v) throw new Error(`schema ${id} is not registered`);
  return v;
}

/** A validation problem in a form people and clients can act on. */
export interface FieldProblem {
  path: string;
  code: string;
  message: string;
}

export function describeErrors(errors: ErrorObject[] | null | undefined): FieldProblem[] {
  return (errors ?? []).map((e) => {
    let path = e.instancePath || '/';
    if (e.keyword === 'required') path = `${e.instancePath}/${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === 'additionalProperties') path = `${e.instancePath}/${(e.params as { additionalProperty: string }).additionalProperty}`;
    const message = e.keyword === 'additionalProperties' ? 'is not a known field' : e.keyword === 'required' ? 'is required' : e.message ?? 'is invalid';
    return { path, code: e.keyword, message };
  });
}
