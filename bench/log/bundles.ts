/**
 * Signed Keycast release bundles for the benchmark (Sigstore v0.3 DSSE bundles over in-toto
 * release statements, ECDSA P-256), so the log pays its real admission cost per append.
 */
import { createHash, generateKeyPairSync, sign } from 'node:crypto';

const TYPE = 'application/vnd.in-toto+json';
const h = (alg: string, s: string) => createHash(alg).update(s).digest('hex');

export function benchPublisher() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hint = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const bundle = (seed: string): Buffer => {
    const eif = h('sha256', `eif-${seed}`);
    const payload = Buffer.from(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'enclave.eif', digest: { sha256: eif } }],
        predicateType: 'https://keycast.dev/release/v1',
        predicate: {
          eif: { sha256: eif },
          measurements: {
            pcr0: h('sha384', `0-${seed}`),
            pcr1: h('sha384', `1-${seed}`),
            pcr2: h('sha384', `2-${seed}`),
          },
          source: { repo: 'https://github.com/keycast/bench', commit: h('sha1', seed) },
          lock: { sha256: h('sha256', `lock-${seed}`) },
          builder: { version: 'keycast-bench' },
        },
      }),
    );
    const pae = Buffer.concat([Buffer.from(`DSSEv1 ${TYPE.length} ${TYPE} ${payload.length} `), payload]);
    return Buffer.from(
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { publicKey: { hint }, tlogEntries: [] },
        dsseEnvelope: {
          payloadType: TYPE,
          payload: payload.toString('base64'),
          signatures: [{ sig: sign('sha256', pae, privateKey).toString('base64') }],
        },
      }),
    );
  };
  return { publicPem, bundle };
}
