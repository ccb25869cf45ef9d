/**
 * Immutable answers kept as bytes ready to write. The exact URL of a tile, an entry bundle or an
 * inclusion proof that the log once answered 200 answers the same bytes forever (the tree only
 * grows, and each of those names a fixed part of it), so the HTTP server writes later requests
 * for that URL straight from here, with precomputed headers, before fastify parses or routes
 * them. Nothing whose answer can change (checkpoint, entry status, lookups, status statements,
 * errors) is ever kept. Bounded by bytes; when full it starts again empty.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

interface Answer {
  body: Buffer;
  /** Headers as node's flat raw list ([name, value, …]): written without building an object. */
  head: string[];
}

export class ImmutableAnswers {
  private readonly answers = new Map<string, Answer>();
  private bytes = 0;

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /** Keeps the 200 answer for GET `url`; the caller vouches that it can never change. */
  remember(url: string, body: Buffer, headers: Record<string, string>): void {
    if (this.answers.has(url) || body.length > this.maxBytes / 64) return;
    if (this.bytes + body.length > this.maxBytes) {
      this.answers.clear();
      this.bytes = 0;
    }
    const head = Object.entries(headers).flat();
    head.push('content-length', String(body.length));
    this.answers.set(url, { body, head });
    this.bytes += body.length;
  }

  /** Writes the kept answer to a GET of `req.url` and returns true, or returns false. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || req.url === undefined) return false;
    const a = this.answers.get(req.url);
    if (a === undefined) return false;
    res.writeHead(200, a.head);
    res.end(a.body);
    return true;
  }
}
