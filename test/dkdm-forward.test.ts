/**
 * Keys in as a DKDM, round trip: a mastering tool (the project's KDM writer standing in) makes a
 * DKDM for the enclave's KDM decryption certificate; the studio's rules pin the mastering root and
 * the releases, and the mastering signer endorses them; the enclave opens the DKDM (openDkdm) and
 * the forwarding core makes KDMs that each projector opens to exactly the DKDM's keys. Refused,
 * with nothing opened: rules the DKDM signer did not endorse (a host's own rules pinning the
 * studio's root — the attack the endorsement exists for), an unlisted release, an unpinned signer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { decryptKdm, parseKdm, type ForwardRules } from '#verifier';
import { buildKdm, endorseRules, formatRules, kdmSigner, signRules, toHex } from '#verifier/build';
import { isVerifierError, type VerifierErrorCode, Measurement } from '#verifier';
import { deliveryFormat } from '#verifier/build';
import {
  checkRecipients,
  createSignerChain,
  forward,
  generateIdentity,
  openDkdm,
  type OpenedForward,
} from '../enclave/index.ts';
import { CPL, DAY, kdmT, rules as baseRules, world } from './forward-fixtures.ts';

const identity = generateIdentity({ release: 'test' });
const mastering = createSignerChain({ name: 'studio.mastering' });
const stranger = createSignerChain({ name: 'someone.else' });
const pcr0 = Measurement.fromHex('ab'.repeat(48));

test('DKDM → KDMs: each projector opens exactly the DKDM keys; unendorsed, unlisted, unpinned are refused', async () => {
  const w = await world(2);
  const t = w.now.getTime();
  const dkdm = (signer = mastering, keys = w.contentKeys) =>
    buildKdm({
      cplId: CPL,
      title: 'The Keycast Test Film',
      keys,
      notBefore: kdmT(t),
      notAfter: kdmT(t + 60 * DAY),
      issueDate: kdmT(t),
      recipient: identity.dkdm.chain[0]!,
      signer: kdmSigner(signer.chain, signer.privateKey),
    });
  const r = (over: Partial<ForwardRules> = {}): ForwardRules =>
    baseRules(w, {
      dkdmSigners: [Buffer.from(mastering.chain[2]!.der).toString('base64')],
      releases: { pcr0s: [pcr0.hex], publishers: [] },
      ...over,
    } as Partial<ForwardRules>);
  const digest = (rules: ForwardRules) => toHex(createHash('sha256').update(formatRules(rules)).digest());
  const input = (rules: ForwardRules, o: { dkdm?: string; endorser?: typeof mastering } = {}) => ({
    dkdm: o.dkdm ?? dkdm(),
    rules: signRules(rules, w.studio.privateKey),
    rulesKey: w.studio.pem,
    rulesEndorsement: endorseRules(digest(rules), (o.endorser ?? mastering).privateKey),
  });
  const ctx = { identity, pcr0, publishers: [] as string[], now: w.now };

  const opened = await openDkdm(input(r()), ctx);
  assert.deepEqual(
    opened.film.keys.map((k) => [k.id, k.type, toHex(k.key)]),
    w.contentKeys.map((k) => [k.id, k.type, toHex(k.key)]),
  );
  // the forwarding core, exactly as for sealed keys
  const thumbprints: Uint8Array[] = [];
  const recipients = checkRecipients(
    w.pki.projectors.map((p) => Buffer.from(p.certificate.der).toString('base64')),
    {
      rules: opened.rules.rules,
      intermediates: [Buffer.from(w.pki.intermediate.der).toString('base64')],
      now: w.now,
      format: deliveryFormat('kdm'),
      retain: true,
      onChecked: (c) => thumbprints.push(c.thumbprint),
    } as Parameters<typeof checkRecipients>[1],
  );
  const o: OpenedForward = {
    film: opened.film,
    rules: opened.rules,
    recipients,
    thumbprints,
    format: 'kdm',
    requestDigest: '00'.repeat(32),
    now: w.now,
  } as OpenedForward;
  const outputs: Uint8Array[] = [];
  await forward(o, w.enclave.keys, (out) => outputs.push(out.bytes));
  assert.equal(outputs.length, 2);
  for (const [i, bytes] of outputs.entries()) {
    const kdm = parseKdm(bytes);
    assert.deepEqual([kdm.notBefore, kdm.notAfter], [r().kdmWindow.notBefore, r().kdmWindow.notAfter]);
    const got = decryptKdm(kdm, w.pki.projectors[i]!.privateKey);
    assert.deepEqual(
      got.map((k) => [k.id, k.type, toHex(k.key)]),
      w.contentKeys.map((k) => [k.id, k.type, toHex(k.key)]),
    );
  }

  const refusedWith = async (p: Promise<unknown>, cause: string) =>
    assert.rejects(p, (e) => {
      // the verifier's own code, kept end to end
      assert.ok(isVerifierError(e, cause as VerifierErrorCode), String(e));
      return true;
    });
  // the host's own rules (its projectors, its rules key) pinning the studio's mastering root:
  // the DKDM is genuine and addressed to the enclave, but its signer never endorsed these rules
  const host = generateKeyPairSync('ed25519');
  const hostRules = r({
    recipients: {
      thumbprints: [],
      roots: [Buffer.from(w.pki.root.der).toString('base64')],
      excluded: [],
      roles: ['SM'],
    },
  } as Partial<ForwardRules>);
  await refusedWith(
    openDkdm(
      {
        ...input(hostRules, { endorser: stranger }),
        rules: signRules(hostRules, host.privateKey),
        rulesKey: host.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
      ctx,
    ),
    'DKDM_RULES_NOT_ENDORSED',
  );
  // an endorsement of other rules does not carry over
  await refusedWith(
    openDkdm(
      {
        ...input(r()),
        rulesEndorsement: endorseRules(
          digest(r({ limits: { maxKdmValidityDays: 29, maxRecipients: 100_000 } })),
          mastering.privateKey,
        ),
      },
      ctx,
    ),
    'DKDM_RULES_NOT_ENDORSED',
  );
  await refusedWith(
    openDkdm(input(r()), { ...ctx, pcr0: Measurement.fromHex('cd'.repeat(48)) }),
    'DKDM_RELEASE_NOT_ALLOWED',
  );
  await refusedWith(
    openDkdm(input(r()), { ...ctx, publishers: ['ef'.repeat(32)], pcr0: Measurement.fromHex('cd'.repeat(48)) }),
    'DKDM_RELEASE_NOT_ALLOWED',
  );
  await openDkdm(input(r({ releases: { pcr0s: [], publishers: ['ef'.repeat(32)] } } as Partial<ForwardRules>)), {
    ...ctx,
    publishers: ['ef'.repeat(32)],
  });
  await refusedWith(openDkdm(input(r(), { dkdm: dkdm(stranger), endorser: stranger }), ctx), 'DKDM_SIGNER_NOT_PINNED');
  const { dkdmSigners: _s, releases: _r, ...plain } = r();
  await refusedWith(openDkdm(input(plain as ForwardRules), ctx), 'DKDM_NOT_ALLOWED');
  // a key the rules do not name
  const extra = [
    ...w.contentKeys,
    {
      id: 'urn:uuid:cccccccc-2222-4333-8444-555555555555',
      type: 'MDSK' as const,
      key: new Uint8Array(randomBytes(16)),
    },
  ];
  await refusedWith(
    openDkdm(input(r(), { dkdm: dkdm(mastering, extra as typeof w.contentKeys) }), ctx),
    'DKDM_KEY_IDS',
  );
});
