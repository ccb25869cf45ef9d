/** Key-policy evaluation as IAM does it: explicit Deny wins, Allow needed, conditions AND across keys and OR across values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy, parseKeyPolicy, wildcard } from '../kms-policy/policy.ts';

const P = 'arn:aws:iam::111122223333:role/enclave';
const KEY = 'arn:aws:kms:us-east-1:111122223333:key/k';
const pol = (...Statement: object[]) => parseKeyPolicy(JSON.stringify({ Version: '2012-10-17', Statement }));
const ask = (p: ReturnType<typeof pol>, action: string, context: Record<string, string> = {}, principal = P) =>
  evaluatePolicy(p, { principal, action, resource: KEY, context }).decision;

test('Allow needs a match; Deny wins; NotAction allows everything it does not name', () => {
  const p = pol({ Effect: 'Allow', Principal: { AWS: P }, Action: 'kms:Generate*', Resource: '*' });
  assert.equal(ask(p, 'kms:GenerateDataKey'), 'allow');
  assert.equal(ask(p, 'kms:generatedatakey'), 'allow', 'actions match case-insensitively');
  assert.equal(ask(p, 'kms:Decrypt'), 'deny');
  assert.equal(ask(p, 'kms:GenerateDataKey', {}, 'arn:aws:iam::111122223333:role/other'), 'deny');
  const withDeny = pol(
    { Effect: 'Allow', Principal: '*', Action: 'kms:*' },
    { Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt' },
  );
  assert.equal(ask(withDeny, 'kms:Decrypt'), 'deny');
  assert.equal(ask(withDeny, 'kms:Encrypt'), 'allow');
  const notAction = pol({ Effect: 'Allow', Principal: { AWS: '111122223333' }, NotAction: 'kms:Encrypt' });
  assert.equal(ask(notAction, 'kms:Decrypt'), 'allow');
  assert.equal(ask(notAction, 'kms:Encrypt'), 'deny');
  assert.equal(
    ask(notAction, 'kms:Decrypt', {}, 'arn:aws:iam::444455556666:role/x'),
    'deny',
    'an account id covers only that account',
  );
});

test('conditions: IgnoreCase, OR over values, AND over keys, absent keys, IfExists and Null', () => {
  const cond = (Condition: object) => pol({ Effect: 'Allow', Principal: { AWS: P }, Action: 'kms:Decrypt', Condition });
  const p = cond({
    StringEqualsIgnoreCase: {
      'kms:RecipientAttestation:ImageSha384': ['AA', 'bb'],
      'kms:RecipientAttestation:PCR1': 'cc',
    },
  });
  assert.equal(
    ask(p, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': 'aa', 'kms:RecipientAttestation:PCR1': 'CC' }),
    'allow',
  );
  assert.equal(
    ask(p, 'kms:Decrypt', { 'kms:recipientattestation:imagesha384': 'BB', 'kms:RecipientAttestation:PCR1': 'cc' }),
    'allow',
    'condition keys are case-insensitive',
  );
  assert.equal(ask(p, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': 'aa' }), 'deny', 'every key must hold');
  assert.equal(
    ask(p, 'kms:Decrypt', { 'kms:RecipientAttestation:ImageSha384': 'dd', 'kms:RecipientAttestation:PCR1': 'cc' }),
    'deny',
  );
  assert.equal(ask(p, 'kms:Decrypt'), 'deny', 'absent keys fail positive operators');
  assert.equal(
    ask(cond({ StringEquals: { 'kms:RecipientAttestation:ImageSha384': 'AA' } }), 'kms:Decrypt', {
      'kms:RecipientAttestation:ImageSha384': 'aa',
    }),
    'deny',
    'StringEquals is case-sensitive',
  );
  assert.equal(
    ask(cond({ StringNotEquals: { x: 'a' } }), 'kms:Decrypt'),
    'allow',
    'absent keys satisfy negated operators',
  );
  assert.equal(ask(cond({ StringEqualsIfExists: { x: 'a' } }), 'kms:Decrypt'), 'allow');
  assert.equal(ask(cond({ Null: { x: 'true' } }), 'kms:Decrypt'), 'allow');
  assert.equal(ask(cond({ Null: { x: 'false' } }), 'kms:Decrypt'), 'deny');
  assert.equal(ask(cond({ StringLike: { x: 'a*c' } }), 'kms:Decrypt', { x: 'abbc' }), 'allow');
});

test('wildcards escape regex syntax', () => {
  assert.equal(wildcard('kms:Re*', 'kms:ReEncryptFrom'), true);
  assert.equal(wildcard('a.c', 'abc'), false);
  assert.equal(wildcard('a?c', 'abc'), true);
  assert.equal(wildcard('(x)', '(x)'), true);
});

test('wildcard matching stays linear on hostile patterns', () => {
  const value = 'a'.repeat(8000);
  const t0 = Date.now();
  assert.equal(wildcard('*a*a*a*a*a*a*a*a*a*a*b', value), false);
  assert.equal(wildcard('*a*a*a*a*a*a*a*a*a*a*', value), true);
  assert.ok(Date.now() - t0 < 500);
  assert.equal(wildcard('', ''), true);
  assert.equal(wildcard('*', ''), true);
  assert.equal(wildcard('?', ''), false);
  assert.equal(wildcard('kms:*Key*', 'kms:GenerateDataKeyPair'), true);
  assert.equal(wildcard('a*b?c', 'aXXbYc'), true);
  assert.equal(wildcard('a*b?c', 'aXXbc'), false);
});
