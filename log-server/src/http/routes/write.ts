/**
 * POST /add-entry: the log's one write route. The body is the Sigstore bundle JSON (kept as the
 * exact string: the admission policy parses and verifies it). The reply comes only after the
 * entry is durably integrated; a duplicate gets its existing index.
 */
import type { FastifyInstance } from 'fastify';
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
      bodyLimit,
      schema: { response: { 200: addEntryReply, '4xx': errorSchema, '5xx': errorSchema } },
    },
    async (req, reply) => {
      if (typeof req.body !== 'string' || req.body.length < 2) {
        throw new LogError('MALFORMED_REQUEST', 'the body must be a Sigstore bundle as JSON', {});
      }
      const r = await addEntry(log, req.body);
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(r));
    },
  );
}
