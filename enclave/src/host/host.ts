/**
 * The host's duty cycle, on the parent instance: ask the enclave what it is (PCR0) and which
 * tree it holds, fetch the newest proof bundle for it from the log (extending that tree), hand
 * it to the enclave's gate, and once the gate is open make sure the enclave holds its identity
 * — passing back the sealed identity and KMS CiphertextBlob from the store, or storing the ones
 * a first boot hands out. Nothing here is trusted by the enclave; it only carries bytes.
 *
 * The sealed identity and its CiphertextBlob are stored together in one artefact
 * (`identity.json`: { sealed, ciphertextBlob }, base64), written atomically, so a crash can
 * never leave one without the other and tempt a second first boot.
 */
import { EnclaveError } from '../errors.ts';
import type { ArtefactStore } from './store.ts';
import type { EnclaveClient, EnclaveStatusBody } from './enclave-client.ts';
import type { ProofSource } from './proof-source.ts';

export const IDENTITY_ARTEFACT = 'identity.json';

export interface RefreshOutcome {
  at: number;
  gateOpen: boolean;
  /** the gate's refusal code while shut, or the error code of a failed round */
  code: string | null;
  identity: 'ready' | 'created' | 'unsealed' | 'waiting';
}

/** The enclave refused a step; its code is reported as the round's outcome. */
class RoundFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export class Host {
  private last: RefreshOutcome | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RefreshOutcome> | null = null;

  constructor(
    private readonly d: {
      enclave: EnclaveClient;
      source: ProofSource;
      store: ArtefactStore;
      log?: (line: string) => void;
      /** told each round's outcome code (null: open and ready) */
      onRound?: (code: string | null) => void;
    },
  ) {}

  get lastRefresh(): RefreshOutcome | null {
    return this.last;
  }

  /** One round (concurrent callers share it). Never throws: failures are in the outcome. */
  refresh(): Promise<RefreshOutcome> {
    this.running ??= this.round().finally(() => (this.running = null));
    return this.running;
  }

  schedule(ms: number): void {
    this.stop();
    this.timer = setInterval(() => void this.refresh(), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async round(): Promise<RefreshOutcome> {
    const at = Date.now();
    let out: RefreshOutcome;
    try {
      out = await this.step(at);
    } catch (e) {
      const code = e instanceof EnclaveError || e instanceof RoundFailure ? e.code : 'INTERNAL';
      out = { at, gateOpen: e instanceof RoundFailure, code, identity: 'waiting' };
      this.d.log?.(`refresh failed: ${code}`);
    }
    if (this.last?.gateOpen !== out.gateOpen || this.last?.code !== out.code)
      this.d.log?.(`enclave gate ${out.gateOpen ? 'open' : `closed (${out.code})`}, identity ${out.identity}`);
    this.last = out;
    this.d.onRound?.(out.code);
    return out;
  }

  private async step(at: number): Promise<RefreshOutcome> {
    const s = (await this.d.enclave.status()).body as EnclaveStatusBody;
    const bundle = await this.d.source.bundleFor(s.pcr0, s.gate.heldSize);
    let gate = s.gate;
    if (bundle) {
      const g = await this.d.enclave.gate(bundle);
      if (g.status === 200 || g.status === 503) gate = (await this.d.enclave.status()).body.gate;
    }
    if (!gate.open)
      return {
        at,
        gateOpen: false,
        code: gate.refusal?.code ?? (bundle ? 'GATE_CLOSED' : 'PROOF_MISSING'),
        identity: 'waiting',
      };
    if (s.identity.ready) return { at, gateOpen: true, code: null, identity: 'ready' };
    return { at, gateOpen: true, code: null, identity: await this.establish() };
  }

  private async establish(): Promise<RefreshOutcome['identity']> {
    const stored = await this.d.store.get(IDENTITY_ARTEFACT);
    let body: { sealed?: string; ciphertextBlob?: string } = {};
    if (stored) {
      try {
        const j = JSON.parse(Buffer.from(stored).toString('utf8')) as { sealed: unknown; ciphertextBlob: unknown };
        if (typeof j.sealed !== 'string' || typeof j.ciphertextBlob !== 'string') throw new Error('shape');
        body = { sealed: j.sealed, ciphertextBlob: j.ciphertextBlob };
      } catch {
        throw new EnclaveError(
          'STORE_FAILED',
          `${IDENTITY_ARTEFACT} in the store is unreadable; refusing to create a second identity`,
          { name: IDENTITY_ARTEFACT },
        );
      }
    }
    const r = await this.d.enclave.identity(body);
    if (r.status === 409) return 'ready';
    if (r.status !== 200)
      throw new RoundFailure(typeof r.body.code === 'string' ? r.body.code.slice(0, 64) : `HTTP_${r.status}`);
    if (r.body.created === true) {
      const st = r.body.stored as { sealed: string; ciphertextBlob: string };
      await this.d.store.put(
        IDENTITY_ARTEFACT,
        new TextEncoder().encode(JSON.stringify({ sealed: st.sealed, ciphertextBlob: st.ciphertextBlob }) + '\n'),
      );
      return 'created';
    }
    return 'unsealed';
  }
}
