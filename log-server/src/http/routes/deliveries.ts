/**
 * GET /delivery-manifest/<sha256>: a sealed delivery manifest (issue 19) by the hex SHA-256 a
 * delivery entry names (or an identity entry's attestation document stored beside its leaf).
 * The bytes are sealed to the studio's audit key: the log serves them to anyone, immutably.
 * Unknown digest: 404 NOT_FOUND.
 */
import type { FastifyInstance } from 'fastify';
import type { Log } from '../../log.ts';
import { LogError } from '../../errors.ts';
import { errorSchema } from '../errors.ts';
import { IMMUTABLE } from './tiles.ts';

export function deliveryRoutes(app: FastifyInstance, log: Log): void {
  app.get(
    '/delivery-manifest/:sha256',
    {
      schema: {
        params: {
          type: 'object',
          required: ['sha256'],
          properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
        },
        response: { '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (req, reply) => {
      const sha256 = (req.params as { sha256: string }).sha256;
      const body = await log.deliveries.manifests.get(sha256);
      if (!body) throw new LogError('NOT_FOUND', 'no delivery manifest with that SHA-256', { sha256 });
      return reply
        .headers({ 'content-type': 'application/octet-stream', 'cache-control': IMMUTABLE })
        .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    },
  );
}
