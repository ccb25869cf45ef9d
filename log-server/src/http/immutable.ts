/**
 * Immutable answers kept as bytes ready to write. The exact URL of a tile, an entry bundle or an
 * inclusion proof that the log once answered 200 answers the same bytes forever (the tree only
 * grows, and each of those names a fixed part of it), so the HTTP server writes later requests
 * for that URL straight from here, with precomputed headers, before fastify parses or routes
 * them. Nothing whose answer can change (checkpoint, entry status, lookups, status statements,
 * errors) is ever kept. Bounded by bytes; when full it starts again empty.
 *
 * A route may also register a `Maker` for its URLs: a URL not kept yet that is in the route's
 * plain canonical form and answerable now is answered (and kept) here too, without fastify.
 * Anything else — another spelling, a refusal, an error — the maker declines (null) and
 * fastify's route answers it, with its validation and error codes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

interface Answer {
  body: Buffer;
  /** Headers as node's flat raw list ([name, value, …]): written without building an object. */
  head: string[];
}

/** The 200 answer to GET `url`, or null to leave the request to fastify. Must not throw. */
export type Maker = (url: string) => { body: Buffer; headers: Record<string, string> } | null;

export class ImmutableAnswers {
  private readonly answers = new Map<string, Answer>();
  private readonly makers: Array<{ prefix: string; make: Maker }> = [];
  private bytes = 0;

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /** Keeps the 200 answer for GET `url`; the caller vouches that it can never change. */
  remember(url: string, body: Buffer, headers: Record<string, string>): Answer {
    const kept = this.answers.get(url);
    if (kept) return kept;
    const head = Object.entries(headers).flat();
    head.push('content-length', String(body.length));
    const a = { body, head };
    if (body.length > this.maxBytes / 64) return a;
    if (this.bytes + body.length > this.maxBytes) {
      this.answers.clear();
      this.bytes = 0;
    }
    this.answers.set(url, a);
    this.bytes += body.length;
    return a;
  }

  /** Registers `make` for GETs whose URL starts with `prefix` (see the header). */
  makeWith(prefix: string, make: Maker): void {
    this.makers.push({ prefix, make });
  }

  /** Writes the kept (or made) answer to a GET of `req.url` and returns true, or returns false. */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || req.url === undefined) return false;
    const a = this.answers.get(req.url) ?? this.make(req.url);
    if (a === undefined) return false;
    res.writeHead(200, a.head);
    res.end(a.body);
    return true;
  }

  private make(url: string): Answer | undefined {
    for (const m of this.makers) {
      if (!url.startsWith(m.prefix)) continue;
      let made: ReturnType<Maker>;
      try {
        made = m.make(url);
      } catch {
        made = null; // fastify's route answers it, with its error code
      }
      return made === null ? undefined : this.remember(url, made.body, made.headers);
    }
    return undefined;
  }
}
