/**
 * Request bodies as text, strictly: the bytes must be well-formed UTF-8. fastify's
 * `parseAs: 'string'` decodes with replacement characters, silently repairing a body into one
 * the client never sent (and a bundle whose bytes differ from what was signed or logged); here
 * the body is read as bytes and refused (MALFORMED_REQUEST) unless it decodes exactly.
 */
import { isUtf8 } from 'node:buffer';
import { LogError } from '../errors.ts';

/** A fastify content-type parser body (use with `parseAs: 'buffer'`). */
export function strictUtf8Body(
  _req: unknown,
  body: string | Buffer,
  done: (err: Error | null, body?: unknown) => void,
): void {
  if (typeof body === 'string') done(null, body);
  else if (!isUtf8(body))
    done(new LogError('MALFORMED_REQUEST', 'the request body is not well-formed UTF-8', { bytes: body.length }));
  else done(null, body.toString('utf8'));
}
