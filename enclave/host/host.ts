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
 *
 * First boot is two-phase and create-once: the enclave hands out a *pending* identity it does
 * not serve; the host creates identity.json with putIfAbsent; only if it created it does it
 * confirm (SHA-256 of the sealed blob) and the enclave start serving. If another host (another
 * instance booting at the same moment) created it first, this host passes the winner's artefact
 * back and the enclave drops its pending keys and unseals the winner's: one identity, however
 * many boot at once. A host that dies between the phases leaves an identity nobody was served.
 *
 * The outcome reports what the enclave says about its gate: a log that cannot be reached is
 * reported as the round's code, never as a shut door the enclave does not have.
 */
import { createHash } from 'node:crypto';
import { EnclaveError } from '../common/errors.ts';
import type { ArtefactStore } from './store.ts';
import type { EnclaveClient, EnclaveStatusBody } from './enclave-client.ts';
import type { ProofSource } from './proof-source.ts';
import type { DeliveryLog } from './deliveries.ts';

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
  private roundGateOpen = false;

  constructor(
    private readonly d: {
      enclave: EnclaveClient;
      source: ProofSource;
      store: ArtefactStore;
      log?: (line: string) => void;
      /** run at the start of every round, e.g. handing the enclave its credentials token; never throws */
      beforeRound?: () => Promise<void>;
      /** told each round's outcome code (null: open and ready) */
      onRound?: (code: string | null) => void;
      /** registers the enclave's identity on the log once it is ready, when it requires logged deliveries (issue 19) */
      deliveries?: DeliveryLog;
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
      // the enclave's own word on its gate, as last read this round (false when it did not answer)
      out = { at, gateOpen: this.roundGateOpen, code, identity: 'waiting' };
      this.d.log?.(`refresh failed: ${code}`);
    }
    if (this.last?.gateOpen !== out.gateOpen || this.last?.code !== out.code)
      this.d.log?.(`enclave gate ${out.gateOpen ? 'open' : `closed (${out.code})`}, identity ${out.identity}`);
    this.last = out;
    this.d.onRound?.(out.code);
    return out;
  }

  private async step(at: number): Promise<RefreshOutcome> {
    this.roundGateOpen = false;
    await this.d.beforeRound?.();
    const s = (await this.d.enclave.status()).body as EnclaveStatusBody;
    this.roundGateOpen = s.gate.open;
    let gate = s.gate;
    let logCode: string | null = null;
    let bundle = null;
    try {
      bundle = await this.d.source.bundleFor(s.pcr0, s.gate.heldSize);
    } catch (e) {
      // the log is down or lying: say so, but the door is what the enclave says it is
      if (!(e instanceof EnclaveError)) throw e;
      logCode = e.code;
      this.d.log?.(`refresh: no proof from the log: ${e.code}`);
    }
    if (bundle) {
      const g = await this.d.enclave.gate(bundle);
      if (g.status === 200 || g.status === 503) gate = (await this.d.enclave.status()).body.gate;
      this.roundGateOpen = gate.open;
    }
    if (!gate.open)
      return {
        at,
        gateOpen: false,
        code: gate.refusal?.code ?? logCode ?? (bundle ? 'GATE_CLOSED' : 'PROOF_MISSING'),
        identity: 'waiting',
      };
    if (s.identity.ready) {
      await this.registerIdentity(s);
      return { at, gateOpen: true, code: logCode, identity: 'ready' };
    }
    return { at, gateOpen: true, code: logCode, identity: await this.establish() };
  }

  /** Before the first delivery: the identity entry (a fresh attestation) on the log. A failure is retried next round and before each forward. */
  private async registerIdentity(s: EnclaveStatusBody): Promise<void> {
    if (!s.deliveries?.required || !this.d.deliveries || !s.identity.receiptsEd25519) return;
    try {
      await this.d.deliveries.ensureIdentity(this.d.enclave, s.identity.receiptsEd25519);
    } catch (e) {
      this.d.log?.(`identity entry not on the log yet: ${e instanceof EnclaveError ? e.code : 'INTERNAL'}`);
    }
  }

  private async establish(): Promise<RefreshOutcome['identity']> {
    const stored = await this.storedIdentity();
    if (stored) return this.unseal(stored);
    const r = await this.d.enclave.identity({});
    if (r.status === 409) return 'ready';
    if (r.status !== 200 || r.body.pending !== true) throw failure(r);
    const st = r.body.stored as { sealed: string; ciphertextBlob: string };
    const artefact = new TextEncoder().encode(
      JSON.stringify({ sealed: st.sealed, ciphertextBlob: st.ciphertextBlob }) + '\n',
    );
    if (!(await this.d.store.putIfAbsent(IDENTITY_ARTEFACT, artefact))) {
      // another instance's first boot stored its identity first: that one is the identity
      this.d.log?.(`identity: another first boot stored ${IDENTITY_ARTEFACT} first; unsealing that one`);
      const winner = await this.storedIdentity();
      if (!winner)
        throw new EnclaveError('STORE_FAILED', `${IDENTITY_ARTEFACT} exists but cannot be read back`, {
          name: IDENTITY_ARTEFACT,
        });
      return this.unseal(winner);
    }
    const digest = createHash('sha256').update(Buffer.from(st.sealed, 'base64')).digest('hex');
    const c = await this.d.enclave.identity({ confirm: digest });
    if (c.status !== 200) throw failure(c);
    return 'created';
  }

  private async unseal(body: { sealed: string; ciphertextBlob: string }): Promise<RefreshOutcome['identity']> {
    const r = await this.d.enclave.identity(body);
    if (r.status === 409) return 'ready';
    if (r.status !== 200) throw failure(r);
    return 'unsealed';
  }

  private async storedIdentity(): Promise<{ sealed: string; ciphertextBlob: string } | null> {
    const stored = await this.d.store.get(IDENTITY_ARTEFACT);
    if (!stored) return null;
    try {
      const j = JSON.parse(Buffer.from(stored).toString('utf8')) as { sealed: unknown; ciphertextBlob: unknown };
      if (typeof j.sealed !== 'string' || typeof j.ciphertextBlob !== 'string') throw new Error('shape');
      return { sealed: j.sealed, ciphertextBlob: j.ciphertextBlob };
    } catch {
      throw new EnclaveError(
        'STORE_FAILED',
        `${IDENTITY_ARTEFACT} in the store is unreadable; refusing to create a second identity`,
        { name: IDENTITY_ARTEFACT },
      );
    }
  }
}

function failure(r: { status: number; body: Record<string, unknown> }): RoundFailure {
  return new RoundFailure(typeof r.body.code === 'string' ? r.body.code.slice(0, 64) : `HTTP_${r.status}`);
}
