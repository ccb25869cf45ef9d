/**
 * POST /add-entry: the log's one write route. The body is the Sigstore bundle JSON (kept as the
 * exact string: the admission policy parses and verifies it), or an enclave identity or delivery
 * body (`{"kind":"identity"|"delivery",…}`, #verifier parseAddEntryBody). The reply comes only
 * after the entry is durably integrated (and a delivery's manifest durably stored); a duplicate
 * gets its existing index. Only a delivery body may exceed `bodyLimit` (its sealed manifest, up
 * to MAX_DELIVERY_BODY_BYTES).
 */
import type { FastifyInstance } from 'fastify';
import { Transform } from 'node:stream';
import type { preParsingAsyncHookHandler } from 'fastify';
import { MAX_DELIVERY_BODY_BYTES } from '#verifier/build';
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
      // only a delivery body may run past `bodyLimit`: anything else is cut with 413 the moment it
      // does, not read on to the delivery limit (test/hostile/slow-peers.test.ts)
      preParsing: deliveryOnlyPastLimit(bodyLimit),
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

/** `{"kind":"delivery"` as the body's first key, the only body allowed past the route's own limit. */
const DELIVERY_PREFIX = /^\s*\{\s*"kind"\s*:\s*"delivery"/;

function deliveryOnlyPastLimit(bodyLimit: number): preParsingAsyncHookHandler {
  return async (_req, _reply, payload) => {
    let seen = 0;
    let head = '';
    const counted = { receivedEncodedLength: 0 };
    const t: Transform & typeof counted = Object.assign(
      new Transform({
        transform(chunk: Buffer, _enc, cb) {
          seen += chunk.length;
          t.receivedEncodedLength = seen;
          if (head.length < 64) head += chunk.subarray(0, 64 - head.length).toString('latin1');
          if (seen > bodyLimit && !DELIVERY_PREFIX.test(head)) {
            const e = new LogError('PAYLOAD_TOO_LARGE', `only a delivery body may exceed ${bodyLimit} bytes`, {
              limit: bodyLimit,
            });
            return cb(Object.assign(e, { statusCode: 413 }));
          }
          cb(null, chunk);
        },
      }),
      counted,
    );
    payload.on('error', (e) => t.destroy(e));
    return payload.pipe(t);
  };
}
