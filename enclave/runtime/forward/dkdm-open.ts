/**
 * Keys in as a DKDM: the enclave's side. Given the DKDM, the studio's rules (DSSE, with the key
 * that signs them) and the DKDM signer's endorsement of those rules, in this order and before
 * anything is opened:
 *   rules open and are in time → they pin DKDM signers (DKDM_NOT_ALLOWED) → this release may
 *   open the DKDM (DKDM_RELEASE_NOT_ALLOWED) → every public DKDM check (#verifier checkDkdm
 *   without a key) → the rules are endorsed by the very certificate that signed the DKDM
 *   (DKDM_RULES_NOT_ENDORSED) → only then the key blocks are opened with the identity's KDM
 *   decryption key and checked (checkDkdm again, with the key).
 * The result is the film's keys (the caller wipes them) and the opened rules; the forwarding
 * core then runs exactly as for sealed keys. Every refusal keeps the verifier's code (DKDM_*,
 * RULES_*), as the request's other refusals do.
 * Pure (node:crypto only).
 */
import {
  checkDkdm,
  checkDkdmRelease,
  checkRulesEndorsement,
  checkRulesTime,
  openRules,
  type FilmKeys,
  type Measurement,
  type OpenedRules,
} from '#verifier';
import { chainValidity, dkdmRulesRoots, oaepSha1Decrypt, type KeyType } from '#verifier/build';
import type { IdentityKeys } from '../identity/keys.ts';

export interface DkdmInput {
  /** the DKDM as sent (UTF-8 XML) */
  dkdm: string | Uint8Array;
  /** the rules DSSE envelope JSON text */
  rules: string;
  /** the public key the rules are signed with (SPKI PEM) */
  rulesKey: string;
  /** base64: the DKDM signer leaf's signature over the rules digest (#verifier/build endorseRules) */
  rulesEndorsement: string;
}

export interface DkdmContext {
  /** the identity's KDM signer chain (its validity bounds the issued window) and its KDM decryption key */
  identity: Pick<IdentityKeys, 'kdm' | 'dkdm'>;
  /** this release's PCR0 */
  pcr0: Measurement;
  /** hex SPKI SHA-256 of the publishers whose signature this release's log entry carries (as the gate verified) */
  publishers: readonly string[];
  now: Date;
}

/** Opens the film's keys from a DKDM under the studio's endorsed rules; throws coded EnclaveErrors, opens nothing on refusal. */
export async function openDkdm(
  input: DkdmInput,
  ctx: DkdmContext,
): Promise<{ film: FilmKeys; rules: OpenedRules; messageId: string }> {
  const rules = openRules(input.rules, input.rulesKey);
  checkRulesTime(rules.rules, ctx.now);
  const r = rules.rules;
  const signerRoots = dkdmRulesRoots(r);
  checkDkdmRelease(r, { pcr0: ctx.pcr0.hex, publishers: ctx.publishers });
  const base = {
    dkdm: input.dkdm,
    signerRoots,
    recipient: ctx.identity.dkdm.chain[0]!,
    rules: r,
    enclaveSigner: chainValidity(ctx.identity.kdm.chain),
    at: ctx.now,
  };
  const seen = await checkDkdm(base);
  checkRulesEndorsement(rules.digest, input.rulesEndorsement, seen.signerChain[0]!);
  const key = ctx.identity.dkdm.privateKey;
  const opened = await checkDkdm({ ...base, decrypt: (c) => oaepSha1Decrypt(c, key) });
  const keys = opened.keys!;
  return {
    film: { cplId: r.film.cplId, keys: keys.map((k) => ({ id: k.id, type: k.type as KeyType, key: k.key })) },
    rules,
    messageId: opened.kdm.messageId,
  };
}
