/**
 * Every output format's wire name: what rules, requests and receipts may name. The formats
 * themselves (how each delivers and opens) are on the build side, one module each
 * (verifier/build/forward/formats/format.ts has the contract and how to add one).
 */
export const FORMAT_NAMES = ['kdm', 'raw-rsa-oaep', 'raw-hpke'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];
