/**
 * Folding a refresh's cosignatures into the checkpoint the log serves. A refresh asks every
 * witness to cosign the same checkpoint again (c2sp.org/tlog-witness: old = size, no proof), and
 * each answer carries a newer timestamp. A witness that answered replaces its own older line; one
 * that did not (down, slow) keeps its previous line, which stays valid for the same tree head
 * until its timestamp ages out under the verifier's freshness rule. So a witness outage costs
 * only that witness's freshness, never the others'.
 */
import { splitNote } from '#verifier/build';

/**
 * `note` plus the lines in `fresh` (one per witness key, newest), then the lines of `served`
 * (the note's currently served cosigned form) from keys that sent nothing fresh. Returns null
 * when `served` is not a cosigned form of `note` (the checkpoint moved meanwhile).
 */
export function mergeCosignatures(note: string, served: string, fresh: string[]): string | null {
  if (!served.startsWith(note)) return null;
  const lines = fresh.map((l) => (l.endsWith('\n') ? l : `${l}\n`));
  const key = (s: { name: string; keyId: number }) => `${s.name}\n${s.keyId}`;
  const freshKeys = new Set(splitNote(note + lines.join('')).signatures.map(key));
  const logKeys = new Set(splitNote(note).signatures.map(key));
  const kept = splitNote(served)
    .signatures.filter((s) => !freshKeys.has(key(s)) && !logKeys.has(key(s)))
    .map((s) => `${s.line}\n`);
  return note + lines.join('') + kept.join('');
}
