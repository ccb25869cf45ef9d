/**
 * POST /add-entry: the log's one write route. The body is the Sigstore bundle JSON (kept as the
 * exact string: the admission policy parses and verifies it), or an enclave identity or delivery
 * body (`{"kind":"identity"|"delivery",…}`, #verifier parseAddEntryBody). The reply comes only
 * after the entry is durably integrated (and a delivery's manifest durably stored); a duplicate
 * gets its existing index. Only a delivery body may exceed `bodyLimit` (its sealed manifest, up
 * to MAX_DELIVERY_BODY_BYTES).
 */
import type { FastifyInstance } from 'fastify';
import { MAX_DELIVERY_BODY_BYTES } from '#verifier';
import { addEntry } from '../../add.ts';
import type { Log } from '../../log.ts';
import { errorSchema } from '../errors.ts';
import { LogError } from '../../errors.ts';

const addEntryReply = {
  type: 'object',
  required: ['index', 'leafHash', 'transparencyLogEntry'],
  properties: {
    index: { type: 'integer' },
    leafHash: { type: 'string' },
    duplicate: { type: 'boolean' },
    transparencyLogEntry: { type: 'object', additionalProperties: true },
  },
} as const;

export function writeRoutes(app: FastifyInstance, log: Log, bodyLimit: number): void {
  // The hot write path: the body's size is capped by `bodyLimit` before it is read, and its
  // content is the admission policy's to judge, so there is no schema pass over it; the
  // answer (shape: addEntryReply) is written with JSON.stringify, not the generic serializer.
  app.post(
    '/add-entry',
    {
      bodyLimit: Math.max(bodyLimit, MAX_DELIVERY_BODY_BYTES),
      schema: { response: { 200: addEntryReply, '4xx': errorSchema, '5xx': errorSchema } },
    },
    async (req, reply) => {
      if (typeof req.body !== 'string' || req.body.length < 2) {
        throw new LogError('MALFORMED_REQUEST', 'the body must be a Sigstore bundle as JSON', {});
      }
      if (req.body.length > bodyLimit && !/^\s*\{\s*"kind"\s*:\s*"delivery"/.test(req.body))
        throw new LogError('PAYLOAD_TOO_LARGE', `only a delivery body may exceed ${bodyLimit} bytes`, {
          size: req.body.length,
          limit: bodyLimit,
        });
      const r = await addEntry(log, req.body);
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(r));
    },
  );
}
