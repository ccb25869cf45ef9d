/**
 * The log's admission hot path (log-server/src/admission.ts) against the verifier's own
 * verifyEntryBundle: on every bundle of a corpus — valid releases, rebuilds, revocations,
 * tampered, unknown-signer, wrongly typed, malformed — both accept with byte-identical leaves
 * and index fields, or both refuse with the same code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVerifierError, verifyEntryBundle } from '#verifier';
import { releasePolicy } from '../log-server/index.ts';
import { newPublisher, releaseBundle, revocationBundle } from './log-fixtures.ts';

type Admitted = {
  leaf: Uint8Array;
  kind: string;
  pcr0?: string;
  eifSha256?: string;
  commit?: string;
  revokes?: unknown;
  replayKey?: string;
};

async function outcome(f: () => Promise<Admitted> | Admitted) {
  try {
    const e = await f();
    return {
      ok: true,
      leaf: Buffer.from(e.leaf).toString('base64'),
      kind: e.kind,
      pcr0: e.pcr0,
      eif: e.eifSha256,
      commit: e.commit,
      revokes: e.revokes,
      replayKey: e.replayKey,
    };
  } catch (err) {
    assert.ok(isVerifierError(err), `only coded errors: ${String(err)}`);
    return { ok: false, code: err.code };
  }
}

test('the admission hot path, inline and on worker threads, agrees with verifyEntryBundle on every bundle of a corpus', async (t) => {
  const pub = newPublisher();
  const rebuilder = newPublisher();
  const stranger = newPublisher();
  const policy = releasePolicy({ allowedSigners: [pub.publicPem], allowedRebuilders: [rebuilder.publicPem] });
  const pooled = releasePolicy({
    allowedSigners: [pub.publicPem],
    allowedRebuilders: [rebuilder.publicPem],
    workers: 2,
  });
  t.after(() => pooled.close?.());
  const reference = { allowedSigners: [pub.publicPem], allowedRebuilders: [rebuilder.publicPem] };
  const release = releaseBundle(pub, 'a');
  const leafAt = (i: number) => (i === 0 ? verifyEntryBundle(release, reference).leaf : undefined);
  const j = JSON.parse(release);
  const mutate = (f: (b: any) => void) => {
    const c = structuredClone(j);
    f(c);
    return JSON.stringify(c);
  };
  const stmt = JSON.parse(Buffer.from(j.dsseEnvelope.payload, 'base64').toString());
  const withStatement = (s: unknown) =>
    mutate((b) => (b.dsseEnvelope.payload = Buffer.from(JSON.stringify(s)).toString('base64')));
  const corpus: Array<[string, string]> = [
    ['release', release],
    ['another release', releaseBundle(pub, 'b')],
    ['release by a rebuilder key', releaseBundle(rebuilder, 'c')],
    ['release by a stranger', releaseBundle(stranger, 'd')],
    ['release without hint', mutate((b) => delete b.verificationMaterial.publicKey.hint)],
    ['release with a wrong hint', mutate((b) => (b.verificationMaterial.publicKey.hint = 'ab'.repeat(32)))],
    ['revocation by publisher', revocationBundle(pub, 0, stmt.predicate.measurements.pcr0)],
    ['revocation by stranger', revocationBundle(stranger, 0, stmt.predicate.measurements.pcr0)],
    ['revocation with wrong pcr0', revocationBundle(pub, 0, 'ab'.repeat(48))],
    ['tampered signature', mutate((b) => (b.dsseEnvelope.signatures[0].sig = Buffer.alloc(70, 1).toString('base64')))],
    ['payload type', mutate((b) => (b.dsseEnvelope.payloadType = 'application/json'))],
    ['unknown predicate', withStatement({ ...stmt, predicateType: 'https://slsa.dev/provenance/v1' })],
    ['extra field', mutate((b) => (b.extra = 1))],
    ['message signature', mutate((b) => (b.messageSignature = {}))],
    ['malformed', '{"mediaType":'],
    ['empty object', '{}'],
  ];
  for (const [what, bundle] of corpus) {
    const mine = await outcome(() => policy.admit(bundle, { leafAt }));
    const onWorker = await outcome(() => pooled.admit(bundle, { leafAt }));
    const ref = await outcome(() => {
      const d = verifyEntryBundle(bundle, { ...reference, lookupLeaf: leafAt });
      return {
        leaf: d.leaf,
        kind: d.kind,
        pcr0: d.pcr0,
        eifSha256: d.eifSha256,
        commit: d.commit,
        revokes: d.revokes,
        replayKey: d.replayKey,
      };
    });
    assert.deepEqual(mine, ref, what);
    assert.deepEqual(onWorker, ref, `${what} (worker)`);
  }
  // All at once, twice over (more than one 16-bundle message per worker): every answer still
  // goes to its own request.
  const twice = [...corpus, ...corpus];
  const together = await Promise.all(twice.map(([, b]) => outcome(() => pooled.admit(b, { leafAt }))));
  const alone = await Promise.all(twice.map(([, b]) => outcome(() => policy.admit(b, { leafAt }))));
  twice.forEach(([what], i) => assert.deepEqual(together[i], alone[i], `${what} (batched)`));
});
