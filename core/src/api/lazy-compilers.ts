import type { FastifyServerOptions } from 'fastify';
import { createRequire } from 'node:module';

// Fastify loads ajv and fast-json-stringify when it starts (~90 modules, several MiB resident),
// though no route of ours declares a schema. These factories load them only if one ever does.

type Compilers = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
type AnyFactory = (...args: unknown[]) => unknown;

// Resolved from fastify's own location: they are its dependencies, not ours.
const require = createRequire(createRequire(import.meta.url).resolve('fastify'));

function lazyFactory(pkg: string): AnyFactory {
  let factory: AnyFactory | undefined;
  return (...args) => {
    factory ??= (require(pkg) as () => AnyFactory)();
    return factory(...args);
  };
}

export const lazySchemaCompilers = {
  buildValidator: lazyFactory('@fastify/ajv-compiler'),
  buildSerializer: lazyFactory('@fastify/fast-json-stringify-compiler'),
} as Compilers;
