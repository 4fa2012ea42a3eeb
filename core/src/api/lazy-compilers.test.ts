import test from 'ava';
import Fastify from 'fastify';
import { lazySchemaCompilers } from './lazy-compilers.js';

test('a route that declares schemas still gets validation and serialization', async (t) => {
  const app = Fastify({ schemaController: { compilersFactory: lazySchemaCompilers } });
  app.post(
    '/x',
    {
      schema: {
        body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    },
    async (req) => ({ n: (req.body as { n: number }).n, hidden: true }),
  );
  t.teardown(() => app.close());
  const bad = await app.inject({ method: 'POST', url: '/x', payload: { n: 'x' } });
  t.is(bad.statusCode, 400);
  const ok = await app.inject({ method: 'POST', url: '/x', payload: { n: 2 } });
  t.is(ok.statusCode, 200);
  t.deepEqual(ok.json(), { n: 2 });
});
