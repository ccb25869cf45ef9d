/**
 * GET /identity/<receiptKeySha256>: the index of the identity entry that registered a receipt key
 * (hex SHA-256 of its SPKI DER), `{ index }`; 404 NOT_FOUND when none. Only an index: the reader
 * fetches the entry and verifies its inclusion against a checkpoint itself.
 *
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
import { identityReplayKey } from '../../deliveries.ts';

const HEX64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

export function deliveryRoutes(app: FastifyInstance, log: Log): void {
  app.get(
    '/identity/:receiptKeySha256',
    {
      schema: {
        params: { type: 'object', required: ['receiptKeySha256'], properties: { receiptKeySha256: HEX64 } },
        response: {
          200: { type: 'object', required: ['index'], properties: { index: { type: 'integer' } } },
          '4xx': errorSchema,
          '5xx': errorSchema,
        },
      },
    },
    async (req) => {
      const key = (req.params as { receiptKeySha256: string }).receiptKeySha256;
      const index = log.storage.indexOfReplayKey(identityReplayKey(key));
      const size = log.sequencer.current.size;
      if (index === null || index >= size || log.storage.entry(index)?.kind !== 'identity')
        throw new LogError('NOT_FOUND', 'no identity entry registers that receipt key', { receiptKeySha256: key });
      return { index };
    },
  );

  app.get(
    '/delivery-manifest/:sha256',
    {
      schema: {
        params: {
          type: 'object',
          required: ['sha256'],
          properties: { sha256: HEX64 },
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
