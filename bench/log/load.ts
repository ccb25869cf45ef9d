/**
 * A small closed-loop HTTP load generator on node:http with keep-alive: `clients` loops, each
 * sending its next request as soon as the previous answer arrives. Returns throughput and
 * latency percentiles. Kept deliberately cheap so the client steals little CPU from the server.
 */
import http from 'node:http';

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

/** Runs until `next()` returns null or `seconds` pass. */
export async function runLoad(base: string, clients: number, seconds: number, next: (i: number) => Req | null): Promise<LoadResult> {
  const url = new URL(base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const lat: number[] = [];
  const statuses: Record<number, number> = {};
  let issued = 0;
  let ok = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const one = (r: Req) =>
    new Promise<number>((resolve, reject) => {
      const headers: Record<string, string | number> = r.body ? { 'content-type': 'application/json', 'content-length': r.body.length } : {};
      const req = http.request({ host: url.hostname, port: url.port, path: r.path, method: r.method, agent, headers }, (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(r.body);
    });
  const loop = async () => {
    while (performance.now() < deadline) {
      const r = next(issued++);
      if (!r) return;
      const s = performance.now();
      const status = await one(r);
      lat.push(performance.now() - s);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) ok++;
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0;
  return { requests: lat.length, ok, seconds: elapsed, perSecond: ok / elapsed, p50ms: pct(0.5), p99ms: pct(0.99), statuses };
}
