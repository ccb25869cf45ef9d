/**
 * `keycast dkdm check DKDM.xml --enclave ENCLAVE.json --rules RULES.dsse --rules-key PUB`: offline,
 * will the attested enclave accept this DKDM under these rules? Runs the enclave's own public
 * checks (#verifier checkDkdm without a decryption key): well-formed, signature, signer a CA:false
 * leaf chaining to a root the rules pin (`dkdmSigners`), addressed to the enclave's bound KDM
 * decryption certificate (from the verified-enclave record), CPL and key ids exactly the rules',
 * windows. The key blocks can only be opened inside the enclave; the enclave checks them again.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { checkDkdm, checkDkdmRelease, openRules, parseVerifiedEnclave } from '../index.ts';
import {
  chainValidity,
  dkdmRulesRoots,
  enclaveCertificatesFromRecord,
  certificateThumbprint,
  endorseRules,
  DKDM_ENDORSEMENT_CONTEXT,
} from '../build.ts';
import { requireFlag as need, parseFlags, stringFlag as str, usageError, type Command } from '../kit/flags.ts';

export const dkdmCheck: Command = {
  path: ['dkdm', 'check'],
  summary: "say offline whether an attested enclave will accept a DKDM under the studio's rules, and why not",
  help: `keycast dkdm check DKDM.xml --enclave ENCLAVE.json --rules RULES.dsse --rules-key PUB [--at TIME] [--json]

Checks a DKDM (a mastering tool's KDM addressed to the enclave) as the enclave will before it opens
anything: a well-formed ETM/KDM (DOCTYPE refused, size capped), its XML signature, a signer that is a
CA:false leaf whose dnQualifier matches its key, a valid ST 430-2 signer chain ending in a root the
rules pin (dkdmSigners), a Recipient that is the enclave's KDM decryption certificate (bound by its
attestation, from keycast verify enclave --out), CompositionPlaylistId and key ids exactly the rules'
film.cplId and contentKeyIds, the DKDM window inside its signer chain, and the rules' kdmWindow
inside the DKDM window and the enclave signer chain. The enclave's release must be one the rules'
releases list by PCR0 (a release allowed only through a publisher is checked by the enclave).
The key blocks are sealed to the enclave: only it can open and check them.

  --at TIME     the time the signer chain must be valid at (default now)

Exit 0 accepted, 1 refused (a DKDM_* code with its evidence), 2 bad flags, 6 a file cannot be read.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(
      args,
      {
        enclave: { type: 'string' },
        rules: { type: 'string' },
        'rules-key': { type: 'string' },
        at: { type: 'string' },
      },
      1,
    );
    const file = positionals[0];
    if (file === undefined) throw usageError('give the DKDM file');
    const at = str(v, 'at') ? new Date(str(v, 'at')!) : new Date();
    if (Number.isNaN(at.getTime())) throw usageError('--at must be an ISO time');
    const ek = parseVerifiedEnclave(readFileSync(need(v, 'enclave')));
    const certs = enclaveCertificatesFromRecord(ek.record, ek.binding, at);
    const rules = openRules(readFileSync(need(v, 'rules'), 'utf8'), readFileSync(need(v, 'rules-key'), 'utf8')).rules;
    const roots = dkdmRulesRoots(rules);
    const byPcr0Only = (rules.releases?.publishers.length ?? 0) === 0;
    let release = 'allowed by PCR0';
    if (byPcr0Only) checkDkdmRelease(rules, { pcr0: ek.record.pcr0, publishers: [] });
    else if (!rules.releases!.pcr0s.includes(ek.record.pcr0)) release = 'to be checked by the enclave (publishers)';
    const verdict = await checkDkdm({
      dkdm: new Uint8Array(readFileSync(file)),
      signerRoots: roots,
      recipient: certs.decryptionChain[0]!,
      rules,
      enclaveSigner: chainValidity(certs.signerChain),
      at,
    });
    const k = verdict.kdm;
    const view = {
      accepted: true,
      messageId: k.messageId,
      cplId: k.cplId,
      keyIds: k.keyIds,
      dkdmWindow: [k.notBefore, k.notAfter],
      issuedWindow: [verdict.window.notBefore, verdict.window.notAfter],
      signerChain: verdict.signerChain.map((c) => ({ subject: c.subject, thumbprint: certificateThumbprint(c) })),
      recipient: certs.decryptionChain[0]!.subject,
      enclavePcr0: ek.record.pcr0,
      release,
      keyBlocks: 'sealed to the enclave: checked when it opens them',
    };
    if (v.json === true) console.log(JSON.stringify(view, null, 2));
    else
      console.log(
        [
          `OK DKDM ${k.messageId} will be accepted (public checks; the enclave checks the key blocks)`,
          `  CPL         ${k.cplId}  "${k.title}"`,
          `  key ids     ${k.keyIds.map((x) => `${x.type} ${x.id}`).join('\n              ')}`,
          `  signer      ${verdict.signerChain.map((c) => c.subject).join('\n           ← ')}`,
          `  recipient   ${view.recipient}`,
          `  windows     DKDM ${k.notBefore} → ${k.notAfter}; issued ${verdict.window.notBefore} → ${verdict.window.notAfter}`,
          `  release     ${ek.record.pcr0.slice(0, 16)}… ${release}`,
        ].join('\n'),
      );
    return 0;
  },
};

export const rulesEndorse: Command = {
  path: ['rules', 'endorse'],
  summary: "endorse signed rules with the DKDM signer's key, so the enclave takes that DKDM's keys under them",
  help: `keycast rules endorse RULES.dsse --rules-key PUB --key DKDM-SIGNER.key --out ENDORSEMENT [--json]

Run by whoever signs the DKDMs (the mastering tool's KDM signer certificate's private key, RSA):
checks RULES.dsse with the studio's rules key, and writes the base64 endorsement of exactly those
rules — an RSA-SHA256 signature over "${DKDM_ENDORSEMENT_CONTEXT}", the rules payload's SHA-256.
keycast forward --dkdm sends it with the DKDM; the enclave takes a DKDM's keys only under rules its
own signer endorsed, so nobody else (the host included) can pin the studio's mastering root in
rules of their own and name their own projectors.

Exit 0 written, 1 the rules do not verify, 2 bad flags, 6 a file cannot be read.`,
  async run(args) {
    const { values: v, positionals } = parseFlags(
      args,
      { 'rules-key': { type: 'string' }, key: { type: 'string' }, out: { type: 'string' } },
      1,
    );
    const file = positionals[0];
    if (file === undefined) throw usageError('give the rules file');
    const opened = openRules(readFileSync(file, 'utf8'), readFileSync(need(v, 'rules-key'), 'utf8'));
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(need(v, 'key')));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') throw e;
      throw usageError('--key must be a PEM private key');
    }
    if (key.asymmetricKeyType !== 'rsa') throw usageError('--key must be the DKDM signer certificate’s RSA key');
    const endorsement = endorseRules(opened.digest, key);
    writeFileSync(need(v, 'out'), `${endorsement}\n`);
    const view = { out: need(v, 'out'), rulesDigest: opened.digest, cplId: opened.rules.film.cplId };
    console.log(
      v.json === true ? JSON.stringify(view, null, 2) : `endorsed rules ${opened.digest} (${view.cplId}) → ${view.out}`,
    );
    return 0;
  },
};
