import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './paths.js';

/**
 * Checks API responses against the Docker Engine API (swagger 2.0) spec: resolves `$ref`, checks
 * `type` and `required` recursively (allOf merged, additionalProperties checked, extra fields allowed).
 */
type Schema = {
  $ref?: string;
  type?: string;
  required?: string[];
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  allOf?: Schema[];
  'x-nullable'?: boolean;
  /** OpenAPI 3's spelling of x-nullable. */
  nullable?: boolean;
};
type Response = { schema?: Schema; content?: Record<string, { schema?: Schema }> };
/** Swagger 2.0 (Docker's spec: `definitions`) or OpenAPI 3 (skiff's native routes: `components.schemas`). */
export type Spec = {
  definitions?: Record<string, Schema>;
  components?: { schemas?: Record<string, Schema> };
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
};

const specs = new Map<string, Spec>();
export function loadSpec(version = '1.41'): Spec {
  let s = specs.get(version);
  if (!s) {
    const file = path.join(repoRoot, 'test/fixtures', `docker-engine-api-v${version}.yaml`);
    s = parse(readFileSync(file, 'utf8'), { maxAliasCount: -1 }) as Spec;
    specs.set(version, s);
  }
  return s;
}

function resolve(spec: Spec, s: Schema): Schema {
  let cur = s;
  while (cur.$ref) {
    const name = cur.$ref.replace(/^#\/(definitions|components\/schemas)\//, '');
    const def = (spec.definitions ?? spec.components?.schemas ?? {})[name];
    if (!def) throw new Error(`unresolved $ref ${cur.$ref}`);
    cur = def;
  }
  if (cur.allOf) {
    const merged: Schema = { type: 'object', properties: {}, required: [] };
    for (const part of cur.allOf.map((p) => resolve(spec, p))) {
      Object.assign(merged.properties!, part.properties);
      merged.required!.push(...(part.required ?? []));
    }
    return merged;
  }
  return cur;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Every mismatch as `path: message`; empty when the value fits the schema. */
export function validate(spec: Spec, schema: Schema, value: unknown, at = '$'): string[] {
  const s = resolve(spec, schema);
  const errors: string[] = [];
  // dockerd itself sends Go's nil slices and maps as null (Binds, Entrypoint, Labels…), which the
  // swagger 2.0 spec cannot express; only a null scalar is a mismatch.
  if (value === null) {
    const nullable = s['x-nullable'] || s.nullable || !s.type || s.type === 'array' || s.type === 'object';
    return nullable ? [] : [`${at}: null where ${s.type} expected`];
  }
  const t = typeOf(value);
  if (s.type) {
    const ok = s.type === t || (s.type === 'number' && t === 'integer');
    if (!ok) return [`${at}: ${t} where ${s.type} expected`];
  }
  if (t === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in obj)) errors.push(`${at}: missing required ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      const ps = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      if (ps) errors.push(...validate(spec, ps, v, `${at}.${k}`));
    }
  }
  if (t === 'array' && s.items)
    (value as unknown[]).forEach((v, i) => errors.push(...validate(spec, s.items!, v, `${at}[${i}]`)));
  return errors;
}

/** Mismatches of `body` against the documented response of `method path` (spec path, e.g. `/containers/{id}/json`). */
export function validateResponse(
  specPath: string,
  method: string,
  status: number,
  body: unknown,
  version = '1.41',
): string[] {
  return validateIn(loadSpec(version), specPath, method, status, body);
}

/** The same against any spec (e.g. the OpenAPI 3 document skiffd serves for its native routes). */
export function validateIn(spec: Spec, specPath: string, method: string, status: number, body: unknown): string[] {
  const op = spec.paths[specPath]?.[method.toLowerCase()];
  if (!op) throw new Error(`no ${method} ${specPath} in the spec`);
  const res = op.responses[String(status)];
  const schema = res?.schema ?? res?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`no schema for ${status} of ${method} ${specPath}`);
  return validate(spec, schema, body);
}
