import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from '../deps.js';

/**
 * An action on a named image (`/images/{name}/{action}`). Image names contain `/` and `:`
 * unescaped, so one greedy route per method splits off the action and dispatches here.
 */
export type ImageAction = (name: string, req: FastifyRequest, reply: FastifyReply, deps: ApiDeps) => Promise<unknown>;
