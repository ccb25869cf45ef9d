/**
 * The enclave's ST 430-2 chains: the KDM signer chain made at first boot (profile, chain, the
 * sealed export round trip) and the projector test PKI (SM leaves chaining to the maker root).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDcProfile, verifyDcChain } from '#verifier';
import { cnRoles, nameValue } from '#verifier/build';
import { createSignerChain, exportSignerChain, importSignerChain, createProjectorPki } from '../index.ts';

test('the signer chain is a valid ST 430-2 chain whose leaf is a CS signer; export/import keeps it', () => {
  const s = createSignerChain({ name: 'keycast.test' });
  const [leaf, int, root] = s.chain;
  checkDcProfile(leaf!, 'leaf');
  checkDcProfile(int!, 'ca');
  checkDcProfile(root!, 'ca');
  assert.deepEqual(cnRoles(nameValue(leaf!.subjectRdns, 'CN')!), ['CS']);
  assert.equal(root!.basicConstraints?.pathLen, 3);
  assert.equal(verifyDcChain(leaf!, { intermediates: [int!], roots: [root!], at: new Date() }).length, 3);
  // the leaf's key never chains to anyone else's root, and the CA keys are gone: only the leaf key is returned
  const j = exportSignerChain(s);
  assert.equal(j.chain.length, 3);
  assert.equal((j.privateKey.match(/BEGIN PRIVATE KEY/g) ?? []).length, 1);
  const back = importSignerChain(JSON.parse(JSON.stringify(j)));
  assert.deepEqual(
    back.chain.map((c) => c.thumbprint),
    s.chain.map((c) => c.thumbprint),
  );
  assert.throws(() => importSignerChain({ ...j, format: 'x' as never }), TypeError);
});

test('projector PKI: SM leaves chain to the maker root; a key pool still gives distinct certificates', () => {
  const p = createProjectorPki({ count: 4, keyPool: 2, maker: 'TEST-MAKER' });
  const thumbs = new Set(p.projectors.map((x) => Buffer.from(x.certificate.thumbprint).toString('hex')));
  assert.equal(thumbs.size, 4);
  for (const x of p.projectors) {
    assert.equal(
      verifyDcChain(x.certificate, {
        intermediates: [p.intermediate],
        roots: [p.root],
        at: new Date(),
        requiredRole: 'SM',
      }).length,
      3,
    );
    assert.ok(nameValue(x.certificate.subjectRdns, 'CN')!.startsWith('LE SPB MD SM.PROJECTOR-'));
  }
});
