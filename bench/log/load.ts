/**
 * A small closed-loop HTTP/1.1 load generator: `clients` keep-alive connections, each sending
 * its next request as soon as the previous answer is complete. Returns throughput and latency
 * percentiles. It shares the machine's two cores with the server under test, so it is kept
 * as cheap as a wrk-style client: raw sockets, requests written as prebuilt bytes, responses
 * read only as far as the status line and Content-Length (every server measured here —
 * fastify, the log — answers with a Content-Length; anything else counts as an error).
 * node:http's client cost ~150 µs of CPU per request here, a fifth of an append's budget.
 */
import net from 'node:net';

export interface LoadResult {
  requests: number;
  ok: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  statuses: Record<number, number>;
}

export interface Req {
  method: 'GET' | 'POST';
  path: string;
  body?: Buffer;
}

const CRLF2 = Buffer.from('\r\n\r\n');

function requestBytes(host: string, r: Req): Buffer {
  const head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host}\r\n${r.body ? `content-type: application/json\r\ncontent-length: ${r.body.length}\r\n` : ''}\r\n`;
  return r.body ? Buffer.concat([Buffer.from(head), r.body]) : Buffer.from(head);
}

/** Parses one response from the front of `buf`: its status and total length, or null when incomplete. */
function parseResponse(buf: Buffer): { status: number; length: number } | null {
  const end = buf.indexOf(CRLF2);
  if (end < 0) return null;
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const m = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (!m) throw new Error(`response without content-length (status ${status})`);
  const length = end + 4 + Number(m[1]);
  return buf.length >= length ? { status, length } : null;
}

/** Runs until `next()` returns null or `seconds` pass. */
export async function runLoad(
  base: string,
  clients: number,
  seconds: number,
  next: (i: number) => Req | null,
): Promise<LoadResult> {
  const url = new URL(base);
  const host = url.host;
  const lat: number[] = [];
  const statuses: Record<number, number> = {};
  let issued = 0;
  let ok = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const loop = () =>
    new Promise<void>((resolve, reject) => {
      const sock = net.connect({ host: url.hostname, port: Number(url.port), noDelay: true });
      let buf: Buffer = Buffer.alloc(0);
      let sent = 0;
      const send = () => {
        const r = performance.now() < deadline ? next(issued++) : null;
        if (!r) {
          done = true;
          sock.end();
          return resolve();
        }
        sent = performance.now();
        sock.write(requestBytes(host, r));
      };
      let done = false;
      sock.on('connect', send);
      // The server closes a connection after SERVER_LIMITS.maxRequestsPerSocket requests: reconnect.
      sock.on('close', () => {
        if (!done) loop().then(resolve, reject);
      });
      sock.on('data', (d: Buffer) => {
        buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
        const res = parseResponse(buf);
        if (!res) return;
        buf = buf.subarray(res.length);
        lat.push(performance.now() - sent);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === 200) ok++;
        send();
      });
      sock.on('error', (e) => {
        done = true;
        reject(e);
      });
    });
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return {
    requests: lat.length,
    ok,
    seconds: elapsed,
    perSecond: ok / elapsed,
    p50ms: pct(0.5),
    p99ms: pct(0.99),
    statuses,
  };
}
