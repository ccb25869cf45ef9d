/**
 * The registry of output formats: one line per format module (the contract and how to add one:
 * format.ts). Everything that depends on a request's format looks it up here.
 */
import { VerifierError } from '../../../src/errors.ts';
import { FORMAT_NAMES, type DeliveryFormat, type FormatName } from './format.ts';
import { kdm } from './kdm.ts';
import { rawHpke } from './raw-hpke.ts';
import { rawRsaOaep } from './raw-rsa-oaep.ts';

const REGISTRY: { readonly [N in FormatName]: DeliveryFormat<N> } = {
  kdm,
  'raw-rsa-oaep': rawRsaOaep,
  'raw-hpke': rawHpke,
};

/** Every format, in FORMAT_NAMES order. */
export const DELIVERY_FORMATS: readonly DeliveryFormat[] = FORMAT_NAMES.map((n) => REGISTRY[n]);

/** The format named `name` (a name the request, rules or receipt parsers already accepted). */
export function deliveryFormat(name: FormatName): DeliveryFormat {
  const f = Object.hasOwn(REGISTRY, name) ? REGISTRY[name] : undefined;
  if (!f) throw new VerifierError('MALFORMED', `unknown output format ${JSON.stringify(name)}`, { format: name });
  return f;
}

export { FORMAT_NAMES, type FormatName };
export type {
  DeliveryBinding,
  DeliveryFormat,
  FormatRecipient,
  FormatRequest,
  OpenedDelivery,
  PreparedFormat,
} from './format.ts';
export { kdmTime } from './kdm.ts';
