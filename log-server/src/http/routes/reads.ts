/**
 * Convenience reads: GET /entry/<index>, GET /lookup/{pcr0,eif,commit}/<hex>, and
 * GET /proof/inclusion?index=&size=, GET /proof/consistency?old=&new= (base64 hashes), and
 * GET /status/<index>[?size=<n>], the signed release-status note (text/plain).
 * Numbers must be canonical decimals (NON_CANONICAL_NUMBER otherwise).
 */
import type { FastifyInstance } from 'fastify';
import type { Log } from '../../log.ts';
import { consistency, inclusion, lookup, readEntry, releaseStatus } from '../../reads.ts';
import type { LookupField } from '../../reads.ts';
import { canonicalNumber } from '../../proofs.ts';
import { errorSchema } from '../errors.ts';
import type { ImmutableAnswers } from '../immutable.ts';
import { LogError } from '../../errors.ts';

const num = { type: 'string', maxLength: 20 } as const;
const errors = { '4xx': errorSchema, '5xx': errorSchema };
const hashes = { type: 'array', items: { type: 'string' } } as const;
const status = { type: 'string', enum: ['active', 'revoked'] } as const;

const entryReply = {
  type: 'object',
  required: ['index', 'leaf', 'kind', 'status'],
  properties: {
    index: { type: 'integer' },
    leaf: { type: 'string' },
    kind: { type: 'string' },
    status,
    revokedBy: { type: 'integer' },
    count: { type: 'integer' },
  },
} as const;

const lookupReply = {
  type: 'object',
  required: ['index', 'status', 'entry', 'proof'],
  properties: {
    index: { type: 'integer' },
    status,
    entry: { type: 'string' },
    proof: { type: 'string' },
    revokedBy: { type: 'integer' },
  },
} as const;

const LOOKUPS: Array<{ path: string; field: LookupField; hexLen: number }> = [
  { path: 'pcr0', field: 'pcr0', hexLen: 96 },
  { path: 'eif', field: 'eifSha256', hexLen: 64 },
  { path: 'commit', field: 'commit', hexLen: 40 },
];

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8' };

export function readRoutes(app: FastifyInstance, log: Log, answers: ImmutableAnswers): void {
  app.get(
    '/entry/:index',
    {
      schema: {
        params: { type: 'object', required: ['index'], properties: { index: num } },
        response: { 200: entryReply, ...errors },
      },
    },
    async (req) => readEntry(log, canonicalNumber((req.params as { index: string }).index, 'index')),
  );

  for (const l of LOOKUPS) {
    const value = { type: 'string', pattern: `^[0-9a-fA-F]{${l.hexLen}}$` };
    app.get(
      `/lookup/${l.path}/:value`,
      {
        schema: {
          params: { type: 'object', required: ['value'], properties: { value } },
          response: { 200: lookupReply, ...errors },
        },
      },
      async (req) => lookup(log, l.field, (req.params as { value: string }).value),
    );
  }

  // A statement for an explicit size never changes (Ed25519 signatures are deterministic);
  // one for "the current size" moves with the checkpoint.
  app.get(
    '/status/:index',
    {
      schema: { params: { type: 'object', required: ['index'], properties: { index: num } }, response: errors },
    },
    (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const keys = Object.keys(q);
      if (keys.some((k) => k !== 'size') || (q.size !== undefined && typeof q.size !== 'string')) {
        throw new LogError('MALFORMED_REQUEST', 'the query may only be size=<n>', { query: keys.slice(0, 8) });
      }
      const index = canonicalNumber((req.params as { index: string }).index, 'index');
      const size = typeof q.size === 'string' ? canonicalNumber(q.size, 'size') : undefined;
      const note = releaseStatus(log, index, size);
      reply.header('cache-control', size === undefined ? 'max-age=2' : 'public, max-age=31536000, immutable');
      reply.type('text/plain; charset=utf-8').send(note);
    },
  );

  // The hottest read after tiles, so its query is checked here rather than by the schema
  // validator (same rules: exactly index and size, canonical decimals), and its answer is
  // written directly (numbers and base64 need no escaping) rather than by the serializer.
  app.get(
    '/proof/inclusion',
    {
      schema: {
        response: {
          200: { type: 'object', properties: { index: { type: 'integer' }, treeSize: { type: 'integer' }, hashes } },
          ...errors,
        },
      },
    },
    (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const keys = Object.keys(q);
      if (keys.length !== 2 || typeof q.index !== 'string' || typeof q.size !== 'string') {
        throw new LogError('MALFORMED_REQUEST', 'the query must be exactly index=<n>&size=<n>', {
          query: keys.slice(0, 8),
        });
      }
      const index = canonicalNumber(q.index, 'index');
      const size = canonicalNumber(q.size, 'size');
      const p = inclusion(log, index, size);
      const body = Buffer.from(
        `{"index":${p.index},"treeSize":${p.treeSize},"hashes":[${p.hashes.map((h) => `"${h}"`).join(',')}]}`,
      );
      // A proof at a size the log has reached never changes: later asks get these bytes (http/immutable.ts).
      answers.remember(req.url, body, JSON_HEADERS);
      reply.headers(JSON_HEADERS).send(body);
    },
  );

  app.get(
    '/proof/consistency',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['old', 'new'],
          additionalProperties: false,
          properties: { old: num, new: num },
        },
        response: {
          200: { type: 'object', properties: { old: { type: 'integer' }, new: { type: 'integer' }, hashes } },
          ...errors,
        },
      },
    },
    async (req) => {
      const q = req.query as { old: string; new: string };
      return consistency(log, canonicalNumber(q.old, 'old'), canonicalNumber(q.new, 'new'));
    },
  );
}
