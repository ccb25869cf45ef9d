/**
 * POST /add-entry: the log's one write route. The body is the Sigstore bundle JSON (kept as the
 * exact string: the admission policy parses and verifies it). The reply comes only after the
 * entry is durably integrated; a duplicate gets its existing index.
 */
import type { FastifyInstance } from 'fastify';
import { addEntry } from '../../add.ts';
import type { Log } from '../../log.ts';
import { errorSchema } from '../errors.ts';

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
  app.post('/add-entry', {
    bodyLimit,
    schema: { body: { type: 'string', minLength: 2, maxLength: bodyLimit }, response: { 200: addEntryReply, '4xx': errorSchema, '5xx': errorSchema } },
  }, async (req) => addEntry(log, req.body as string));
}
