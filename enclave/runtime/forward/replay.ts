/**
 * Replay guard for forward requests: a request (by its digest) is served once. Contract:
 * `claim(digest, until)` returns true the first time a digest is claimed and false afterwards
 * until `until` has passed (the request's expiry, or the rules' forwarding window if sooner:
 * after it the request is refused as expired anyway). `release(digest)` undoes a claim whose
 * answer was never delivered (the request failed after it, or the host hung up before the
 * answer was written), so the retry is served instead of refused as a replay.
 * MemoryReplayGuard is the in-memory implementation the enclave holds (its process's life); what
 * outlives the process and spans instances is the host's store of served answers
 * (host/server.ts, created with putIfAbsent).
 */
export interface ReplayGuard {
  claim(digest: string, until: Date, now: Date): boolean;
  release(digest: string): void;
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

  release(digest: string): void {
    this.seen.delete(digest);
  }
}
