/**
 * What ties a studio's rules to its DKDM. Rules are signed with the studio's rules key, but that
 * key is not what the enclave can trust for a DKDM: anyone (the host included) can sign rules
 * that pin the studio's mastering root and name their own projectors. The DKDM's own signer —
 * the mastering tool's leaf, the party that held the content keys — must therefore endorse the
 * exact rules: an RSASSA-PKCS1-v1_5 SHA-256 signature, by the DKDM signer leaf's key, over
 *
 *   "keycast.dev/dkdm-rules-endorsement/v1\n" ‖ <hex SHA-256 of the rules payload> ‖ "\n"
 *
 * (`keycast rules endorse`). The enclave verifies it with the public key of the certificate that
 * signed the DKDM, after that certificate's chain was checked against the rules' dkdmSigners.
 * Pure. Throws DKDM_RULES_NOT_ENDORSED.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { VerifierError } from '../errors.ts';
import { fromBase64, utf8 } from '../encoding/bytes.ts';
import { certificateThumbprint, type DcCertificate } from '../kdm/certificate.ts';

export const DKDM_ENDORSEMENT_CONTEXT = 'keycast.dev/dkdm-rules-endorsement/v1';

function message(rulesDigest: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(rulesDigest)) throw new RangeError('the rules digest is 64 lowercase hex');
  return utf8(`${DKDM_ENDORSEMENT_CONTEXT}\n${rulesDigest}\n`);
}

/** The endorsement (base64) of the rules whose payload digest is `rulesDigest`, by the DKDM signer leaf's RSA key. */
export function endorseRules(rulesDigest: string, signerKey: KeyObject): string {
  if (signerKey.type !== 'private' || signerKey.asymmetricKeyType !== 'rsa')
    throw new TypeError('endorseRules: the DKDM signer leaf’s RSA private key');
  return sign('sha256', message(rulesDigest), signerKey).toString('base64');
}

/** Throws DKDM_RULES_NOT_ENDORSED unless `endorsement` is `signer`'s signature over these rules. */
export function checkRulesEndorsement(rulesDigest: string, endorsement: string, signer: DcCertificate): void {
  let ok = false;
  try {
    const sig = fromBase64(endorsement);
    ok = sig.length === 256 && verify('sha256', message(rulesDigest), signer.publicKey, sig);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new VerifierError(
      'DKDM_RULES_NOT_ENDORSED',
      "the rules are not endorsed by the DKDM's signer: only the party that signed the DKDM can say where its keys go",
      { rulesDigest, signer: signer.subject, thumbprint: certificateThumbprint(signer) },
    );
}
