/**
 * The host's client for the enclave's API (runtime/server.ts), over an injected fetch to the
 * enclave's base URL (loopback locally; on AWS the socat VSOCK-CONNECT bridge). Answers come
 * back as status + parsed body; only transport failures throw (ENCLAVE_UNREACHABLE).
 */
import type { ProofBundle } from '#verifier';
import { formatProofBundle } from '#verifier/build';
import { EnclaveError } from '../common/errors.ts';
import type { Fetch } from './proof-source.ts';

export interface EnclaveAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface EnclaveStatusBody {
  gate: {
    open: boolean;
    heldSize: number | null;
    refusal: { code: string; message: string } | null;
    release: { index: number; pcr0: string } | null;
    freshUntil?: number | null;
  };
  identity: { ready: boolean; hpkeX25519?: string; receiptsEd25519?: string };
  pcr0: string;
  /** whether the pinned config requires logged deliveries (issue 19; absent from older enclaves) */
  deliveries?: { required: boolean };
}

const MAX_ANSWER_BYTES = 1024 * 1024;
const MAX_FORWARD_ANSWER_BYTES = 512 * 1024 * 1024;

export class EnclaveClient {
  private readonly base: string;

  constructor(
    enclaveUrl: string,
    private readonly fetchFn: Fetch & ((u: string, i?: RequestInit) => Promise<Response>) = fetch,
    private readonly timeoutMs = 15_000,
  ) {
    this.base = enclaveUrl.replace(/\/+$/, '');
  }

  private async call(
    path: string,
    init: RequestInit = {},
    cap = MAX_ANSWER_BYTES,
    timeoutMs = this.timeoutMs,
  ): Promise<{ status: number; bytes: Uint8Array; type: string }> {
    let r: Response;
    try {
      r = await this.fetchFn(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new EnclaveError('ENCLAVE_UNREACHABLE', `the enclave did not answer ${path.split('?')[0]}`, {
        path: path.split('?')[0],
        reason: (e as Error).name,
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await r.arrayBuffer());
    } catch (e) {
      throw new EnclaveError('ENCLAVE_UNREACHABLE', `the enclave's answer to ${path.split('?')[0]} did not arrive`, {
        path: path.split('?')[0],
        reason: (e as Error).name,
      });
    }
    if (bytes.length > cap)
      throw new EnclaveError('ENCLAVE_UNREACHABLE', 'the enclave answered too much', { size: bytes.length });
    return { status: r.status, bytes, type: r.headers.get('content-type') ?? '' };
  }

  private async json<T>(path: string, init?: RequestInit): Promise<EnclaveAnswer<T>> {
    const r = await this.call(path, init);
    try {
      return { status: r.status, body: JSON.parse(Buffer.from(r.bytes).toString('utf8')) as T };
    } catch {
      throw new EnclaveError(
        'ENCLAVE_UNREACHABLE',
        `the enclave answered ${path.split('?')[0]} with something other than JSON`,
        { status: r.status },
      );
    }
  }

  status(): Promise<EnclaveAnswer<EnclaveStatusBody>> {
    return this.json('/v1/status');
  }

  /** The enclave's counters (runtime/metrics.ts), relayed by the host's GET /metrics. */
  metrics(): Promise<EnclaveAnswer<unknown>> {
    return this.json('/v1/metrics');
  }

  gate(bundle: ProofBundle): Promise<EnclaveAnswer> {
    return this.json('/v1/gate', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: formatProofBundle(bundle),
    });
  }

  identity(body: { sealed?: string; ciphertextBlob?: string; confirm?: string }): Promise<EnclaveAnswer> {
    return this.json('/v1/identity', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** A forward request (JSON bytes, passed through unparsed); the enclave's answer as bytes. `timeoutMs` covers the whole answer. */
  async forward(body: Uint8Array, timeoutMs = this.timeoutMs): Promise<{ status: number; bytes: Uint8Array }> {
    const r = await this.call(
      '/v1/forward',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: body as unknown as BodyInit },
      MAX_FORWARD_ANSWER_BYTES,
      timeoutMs,
    );
    return { status: r.status, bytes: r.bytes };
  }

  /** Hands the log's answer for a pending delivery to the enclave (issue 19): `{ key }` once it proves the delivery. */
  release(body: { requestDigest: string; transparencyLogEntry: unknown }): Promise<EnclaveAnswer> {
    return this.json('/v1/forward/release', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** The enclave's public KDM signer and decryption chains (GET /v1/certificates), passed through. */
  certificates(): Promise<EnclaveAnswer> {
    return this.json('/v1/certificates');
  }

  /** The attestation document bytes, or the enclave's error answer. */
  async attestation(
    nonceHex: string,
  ): Promise<{ status: number; document?: Uint8Array; body?: Record<string, unknown> }> {
    const r = await this.call(`/v1/attestation?nonce=${nonceHex}`);
    if (r.status === 200 && r.type.startsWith('application/cbor')) return { status: 200, document: r.bytes };
    try {
      return { status: r.status, body: JSON.parse(Buffer.from(r.bytes).toString('utf8')) as Record<string, unknown> };
    } catch {
      throw new EnclaveError(
        'ENCLAVE_UNREACHABLE',
        'the enclave answered the attestation request with something unreadable',
        { status: r.status },
      );
    }
  }
}
