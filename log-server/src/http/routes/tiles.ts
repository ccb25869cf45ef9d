/**
 * c2sp.org/tlog-tiles read endpoints: GET /checkpoint (text/plain, short-lived) and
 * GET /tile/<L>/<N>[.p/<W>], /tile/entries/<N>[.p/<W>] (application/octet-stream, immutable).
 * A tile the current checkpoint does not imply is 404 TILE_NOT_FOUND; a malformed or
 * non-canonical path is 404 TILE_PATH_INVALID.
 */
import type { FastifyInstance } from 'fastify';
import { VerifierError } from '#verifier';
import type { Log } from '../../log.ts';
import { errorSchema } from '../errors.ts';
import type { ImmutableAnswers } from '../immutable.ts';

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const CHECKPOINT_CACHE = 'public, max-age=2';
/** Longer than any valid tile path after `tile/` (the deepest is about 40 characters). */
const MAX_TILE_PATH = 64;
const TILE_HEADERS = { 'content-type': 'application/octet-stream', 'cache-control': IMMUTABLE };
/** Characters of a tile path (parseTilePath judges the rest). */
const PLAIN_TILE_PATH = /^\/tile\/[a-z0-9./]+$/;

export function tileRoutes(app: FastifyInstance, log: Log, answers: ImmutableAnswers): void {
  app.get('/checkpoint', { schema: { response: { 200: { type: 'string' } } } }, async (_req, reply) => {
    reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', CHECKPOINT_CACHE);
    return log.sequencer.current.cosigned;
  });

  app.get(
    '/tile/*',
    {
      schema: { response: { '4xx': errorSchema } },
    },
    (req, reply) => {
      const rest = (req.params as { '*': string })['*'];
      // the longest valid path is well under this; refuse before parsing, with the tile code
      if (rest.length > MAX_TILE_PATH)
        throw new VerifierError('TILE_PATH_INVALID', `invalid tile path: longer than ${MAX_TILE_PATH} characters`, {
          length: rest.length,
          max: MAX_TILE_PATH,
        });
      const { body } = log.tiles.read(`tile/${rest}`, log.sequencer.current.size);
      answers.remember(req.url, body, TILE_HEADERS);
      reply.headers(TILE_HEADERS).send(body);
    },
  );
  // A tile path as it is (no escapes, no query) that the tree holds is answered before fastify
  // routes it, with the same bytes; anything else goes through the route above and its codes.
  answers.makeWith('/tile/', (url) => {
    if (url.length > MAX_TILE_PATH + 6 || !PLAIN_TILE_PATH.test(url)) return null;
    return { body: log.tiles.read(url.slice(1), log.sequencer.current.size).body, headers: TILE_HEADERS };
  });
}
