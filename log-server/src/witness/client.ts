/**
 * The log's side of c2sp.org/tlog-witness v1.0.0: implements the Witnesses port by POSTing
 * `add-checkpoint` to every configured witness in parallel (as tessera's witness client does).
 *
 * - The client remembers the size each witness last cosigned; when it differs from the size
 *   the sequencer assumes (a witness was down, or restarted), it asks the log for a proof from
 *   the witness's size instead.
 * - 409 (text/x.tlog.size): the witness is at another size; the client reads it, asks the log
 *   for a consistency proof from that size (`prove`), and retries once.
 * - Every returned cosignature is verified with the witness's cosignature/v1 vkey before it is
 *   accepted; lines from other keys are dropped.
 * - A witness that is down, slow (timeout), or refuses contributes nothing: logged, never fatal.
 * - Its answer is read through the verifier's capped reader under the same timeout, so a witness
 *   that streams an endless or huge body costs at most MAX_WITNESS_ANSWER bytes and the timeout.
 */
import { openNote, cosignatureVerifier, parseCheckpoint, errorText } from '#verifier';
import { formatAddCheckpoint, formatSignatureLine, splitNote, parseTreeSize, readCapped } from '#verifier/build';
import type { CosignatureVerifier } from '#verifier';
import type { Witnesses } from '../ports.ts';

export interface WitnessEndpoint {
  /** The witness's cosignature/v1 verifier key (type 0x04). */
  vkey: string;
  /** Submission prefix: the request goes to `${url}/add-checkpoint`. */
  url: string;
}

export interface WitnessClientOptions {
  witnesses: WitnessEndpoint[];
  /** RFC 6962 consistency proof between two sizes of this log (old = 0 needs none; not called). */
  prove(oldSize: number, newSize: number): Uint8Array[] | Promise<Uint8Array[]>;
  /** Per-request timeout in milliseconds (default 3000; tessera uses 1000). */
  timeoutMs?: number;
  log?: (msg: string) => void;
}

interface Target {
  url: string;
  verifier: CosignatureVerifier;
  /** The size this witness last cosigned, as far as we know (undefined: unknown). */
  size: number | undefined;
}

class WitnessRefused extends Error {}

/** A witness answers a few cosignature lines, a size, or a short error: far below this. */
export const MAX_WITNESS_ANSWER = 64 * 1024;

export class WitnessClient implements Witnesses {
  private readonly targets: Target[];
  private readonly timeoutMs: number;

  constructor(private readonly opts: WitnessClientOptions) {
    this.targets = opts.witnesses.map((w) => ({
      url: w.url.replace(/\/+$/, ''),
      verifier: cosignatureVerifier(w.vkey),
      size: undefined,
    }));
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  async cosign(signedCheckpoint: string, oldSize: number, consistencyProof: Uint8Array[]): Promise<string[]> {
    let text: string;
    let size: number;
    try {
      text = splitNote(signedCheckpoint).text;
      size = parseCheckpoint(text).size;
    } catch (e) {
      this.say(`witness: not submitting a malformed checkpoint: ${errorText(e)}`);
      return [];
    }
    const results = await Promise.all(
      this.targets.map((t) => this.submit(t, signedCheckpoint, text, size, oldSize, consistencyProof)),
    );
    return results.flatMap((r) => (r === null ? [] : [r]));
  }

  /** One witness: submit, resync once on 409, verify. Resolves to a cosignature line or null. */
  private async submit(
    t: Target,
    note: string,
    text: string,
    size: number,
    oldSize: number,
    proof: Uint8Array[],
  ): Promise<string | null> {
    try {
      let from = t.size ?? oldSize;
      let hashes = from === oldSize ? proof : await this.proofFrom(from, size);
      for (let attempt = 0; ; attempt++) {
        const r = await this.post(t, formatAddCheckpoint({ oldSize: from, proof: hashes, checkpoint: note }));
        if (r.status === 200) {
          const line = this.verify(t, text, r.body);
          t.size = size;
          return line;
        }
        if (r.status !== 409 || attempt > 0) throw new WitnessRefused(`HTTP ${r.status}: ${r.body.slice(0, 200)}`);
        const theirs = parseTreeSize(r.body.replace(/\n$/, ''));
        if (theirs === undefined || theirs > size)
          throw new WitnessRefused(`409 with an unusable size ${JSON.stringify(r.body.slice(0, 40))}`);
        from = theirs;
        hashes = await this.proofFrom(from, size);
      }
    } catch (e) {
      t.size = undefined;
      this.say(`witness ${t.verifier.name} at ${t.url}: no cosignature for size ${size}: ${errorText(e)}`);
      return null;
    }
  }

  private async proofFrom(from: number, size: number): Promise<Uint8Array[]> {
    return from === 0 ? [] : await this.opts.prove(from, size);
  }

  private async post(t: Target, body: string): Promise<{ status: number; body: string }> {
    const url = new URL(`${t.url}/add-checkpoint`);
    const signal = AbortSignal.timeout(this.timeoutMs);
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body,
      signal,
    });
    const bytes = await readCapped(r, MAX_WITNESS_ANSWER, signal, url);
    return { status: r.status, body: new TextDecoder().decode(bytes) };
  }

  /** The witness's own cosignature line from a 200 body, verified over the checkpoint text. */
  private verify(t: Target, text: string, body: string): string {
    let opened;
    try {
      opened = openNote(`${text}\n${body.endsWith('\n') ? body : body + '\n'}`, [t.verifier]);
    } catch (e) {
      throw new WitnessRefused(`returned no valid cosignature (${(e as Error).message.slice(0, 120)})`);
    }
    const sig = opened.sigs[0]!;
    return formatSignatureLine(sig.name, sig.keyId, sig.sig) + '\n';
  }

  private say(msg: string): void {
    this.opts.log?.(msg);
  }
}
