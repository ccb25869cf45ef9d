/**
 * Replay guard for forward requests: a request (by its digest) is served once. Contract:
 * `claim(digest, until)` returns true the first time a digest is claimed and false afterwards
 * until `until` has passed (after which the rules' forwarding window is closed anyway, so the
 * request would be refused as expired). The runtime may back this with sealed durable storage;
 * MemoryReplayGuard is the in-memory implementation (tests, single-process runtimes).
 */
export interface ReplayGuard {
  claim(digest: string, until: Date, now: Date): boolean;
}

export class MemoryReplayGuard implements ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = 100_000) {}

  claim(digest: string, until: Date, now: Date): boolean {
    const t = now.getTime();
    const prev = this.seen.get(digest);
    if (prev !== undefined && prev >= t) return false;
    if (this.seen.size >= this.max) for (const [d, u] of this.seen) if (u < t) this.seen.delete(d);
    if (this.seen.size >= this.max) return false; // full of live entries: refuse rather than forget one
    this.seen.set(digest, until.getTime());
    return true;
  }
}
