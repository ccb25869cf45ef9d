/**
 * KMS key policies as dev-kms enforces them: the IAM policy grammar's subset a key policy
 * needs, parsed strictly at CreateKey/PutKeyPolicy (anything outside the subset is refused as
 * KMS_MALFORMED_POLICY rather than silently ignored), and evaluated like IAM: an explicit Deny
 * wins, otherwise some Allow must match, otherwise deny.
 *
 * Supported: Version 2012-10-17; Effect; Principal "*" or {AWS|Service: …} (an account id or
 * `arn:aws:iam::<acct>:root` stands for every principal of that account, since dev-kms has no
 * IAM to delegate to — which is how the classic `kms:*` root grant reaches everyone); Action or
 * NotAction and Resource with `*`/`?` wildcards; Condition operators StringEquals,
 * StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike,
 * StringNotLike, Bool and Null, each optionally …IfExists. Condition keys match
 * case-insensitively; several values for one key are OR, several keys and operators are AND.
 * Not supported (refused): NotPrincipal, NotResource, ForAnyValue:/ForAllValues:, other operators.
 */
import { EnclaveError } from '../common/errors.ts';

export const MAX_POLICY_BYTES = 32 * 1024;
const VERSION = '2012-10-17';
const OPERATORS = new Set([
  'stringequals',
  'stringnotequals',
  'stringequalsignorecase',
  'stringnotequalsignorecase',
  'stringlike',
  'stringnotlike',
  'bool',
  'null',
]);
const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'NotAction', 'Resource', 'Condition']);

export interface Condition {
  /** lower-case operator without IfExists */
  operator: string;
  ifExists: boolean;
  /** lower-case condition key */
  key: string;
  values: string[];
}

export interface Statement {
  sid: string | null;
  effect: 'Allow' | 'Deny';
  /** '*' or principal strings (AWS ARNs / account ids; Service principals prefixed "service:") */
  principals: '*' | string[];
  actions: string[];
  /** true when the statement used NotAction */
  notAction: boolean;
  resources: string[];
  conditions: Condition[];
}

export interface KeyPolicy {
  statements: Statement[];
}

/** What a request brings to policy evaluation. */
export interface RequestContext {
  /** the caller's principal ARN */
  principal: string;
  /** e.g. "kms:Decrypt" */
  action: string;
  /** the key ARN */
  resource: string;
  /** condition keys (any case) → values */
  context: Record<string, string | string[]>;
}

const bad = (message: string, evidence: Record<string, unknown> = {}): EnclaveError =>
  new EnclaveError('KMS_MALFORMED_POLICY', message, evidence);

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 2048))
    throw bad(`${what} must be a non-empty string or list of strings`, { field: what });
  return list as string[];
}

function principals(v: unknown): '*' | string[] {
  if (v === '*') return '*';
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw bad('Principal must be "*" or an object', { field: 'Principal' });
  const out: string[] = [];
  for (const [kind, list] of Object.entries(v)) {
    if (kind === 'AWS') {
      for (const p of strings(list, 'Principal.AWS')) {
        if (p === '*') return '*';
        if (!/^(\d{12}|arn:aws[a-z-]*:(iam|sts)::\d{12}:[\x21-\x7e]+)$/.test(p))
          throw bad('a Principal.AWS entry is neither an account id nor an IAM ARN', { principal: p });
        out.push(p);
      }
    } else if (kind === 'Service') out.push(...strings(list, 'Principal.Service').map((s) => `service:${s}`));
    else throw bad(`Principal kind ${kind} is not supported`, { field: `Principal.${kind}` });
  }
  if (out.length === 0) throw bad('Principal names no one', { field: 'Principal' });
  return out;
}

function conditions(v: unknown): Condition[] {
  if (v === undefined) return [];
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw bad('Condition must be an object', { field: 'Condition' });
  const out: Condition[] = [];
  for (const [op, block] of Object.entries(v)) {
    const lower = op.toLowerCase();
    const ifExists = lower.endsWith('ifexists') && lower !== 'null';
    const operator = ifExists ? lower.slice(0, -'ifexists'.length) : lower;
    if (!OPERATORS.has(operator)) throw bad(`condition operator ${op} is not supported by dev-kms`, { operator: op });
    if (block === null || typeof block !== 'object' || Array.isArray(block) || Object.keys(block).length === 0)
      throw bad(`Condition.${op} must be a non-empty object`, { operator: op });
    for (const [key, values] of Object.entries(block)) {
      const vals = (Array.isArray(values) ? values : [values]).map((x) => (typeof x === 'boolean' ? String(x) : x));
      out.push({ operator, ifExists, key: key.toLowerCase(), values: strings(vals, `Condition.${op}.${key}`) });
    }
  }
  return out;
}

function statement(s: unknown, i: number): Statement {
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw bad(`Statement ${i} must be an object`, { statement: i });
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o))
    if (!STATEMENT_KEYS.has(k))
      throw bad(`Statement ${i} has ${k}, which dev-kms does not support`, { statement: i, field: k });
  if (o.Effect !== 'Allow' && o.Effect !== 'Deny')
    throw bad(`Statement ${i}: Effect must be Allow or Deny`, { statement: i });
  if (o.Sid !== undefined && typeof o.Sid !== 'string')
    throw bad(`Statement ${i}: Sid must be a string`, { statement: i });
  if ((o.Action === undefined) === (o.NotAction === undefined))
    throw bad(`Statement ${i} needs exactly one of Action and NotAction`, { statement: i });
  if (o.Principal === undefined) throw bad(`Statement ${i} has no Principal (key policies need one)`, { statement: i });
  return {
    sid: (o.Sid as string | undefined) ?? null,
    effect: o.Effect,
    principals: principals(o.Principal),
    actions: strings(o.Action ?? o.NotAction, 'Action'),
    notAction: o.NotAction !== undefined,
    resources: strings(o.Resource ?? '*', 'Resource'),
    conditions: conditions(o.Condition),
  };
}

/** Parses a key policy document; KMS_MALFORMED_POLICY on anything outside the subset. */
export function parseKeyPolicy(text: string): KeyPolicy {
  if (typeof text !== 'string' || text.length === 0) throw bad('the policy is empty');
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES)
    throw bad('the policy is larger than 32 KiB', { bytes: Buffer.byteLength(text) });
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad('the policy is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('the policy must be a JSON object');
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d))
    if (!['Version', 'Id', 'Statement'].includes(k)) throw bad(`the policy has ${k}`, { field: k });
  if (d.Version !== VERSION) throw bad(`Version must be ${VERSION}`, { version: d.Version ?? null });
  const list = Array.isArray(d.Statement) ? d.Statement : d.Statement === undefined ? [] : [d.Statement];
  if (list.length === 0) throw bad('the policy has no Statement');
  return { statements: list.map(statement) };
}

/**
 * IAM-style wildcard match (`*` any run, `?` one character), in linear time: the classic
 * two-pointer glob with one backtrack point, so no pattern can make a long value expensive.
 */
export function wildcard(pattern: string, value: string, ignoreCase = false): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < v.length) {
    if (i < p.length && (p[i] === '?' || p[i] === v[j])) {
      i++;
      j++;
    } else if (i < p.length && p[i] === '*') {
      star = i++;
      mark = j;
    } else if (star >= 0) {
      i = star + 1;
      j = ++mark;
    } else return false;
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

const accountOf = (arn: string): string | null => /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1] ?? null;

function principalMatches(list: '*' | string[], caller: string): boolean {
  if (list === '*') return true;
  const acct = accountOf(caller);
  return list.some((p) => p === caller || (acct !== null && (p === acct || p === `arn:aws:iam::${acct}:root`)));
}

function conditionHolds(c: Condition, ctx: Map<string, string[]>): boolean {
  const got = ctx.get(c.key);
  if (c.operator === 'null') {
    const want = c.values.map((v) => v.toLowerCase());
    return want.some((w) => (w === 'true' ? got === undefined : w === 'false' ? got !== undefined : false));
  }
  if (got === undefined) return c.ifExists || c.operator.includes('not');
  const anyEq = (ic: boolean) =>
    got.some((g) => c.values.some((w) => (ic ? g.toLowerCase() === w.toLowerCase() : g === w)));
  const anyLike = () => got.some((g) => c.values.some((w) => wildcard(w, g)));
  switch (c.operator) {
    case 'stringequals':
      return anyEq(false);
    case 'stringnotequals':
      return !anyEq(false);
    case 'stringequalsignorecase':
      return anyEq(true);
    case 'stringnotequalsignorecase':
      return !anyEq(true);
    case 'stringlike':
      return anyLike();
    case 'stringnotlike':
      return !anyLike();
    case 'bool':
      return got.some((g) => c.values.some((w) => w.toLowerCase() === g.toLowerCase()));
    default:
      return false;
  }
}

function statementMatches(s: Statement, r: RequestContext, ctx: Map<string, string[]>): boolean {
  if (!principalMatches(s.principals, r.principal)) return false;
  const named = s.actions.some((a) => wildcard(a, r.action, true));
  if (named === s.notAction) return false;
  if (!s.resources.some((res) => res === '*' || wildcard(res, r.resource))) return false;
  return s.conditions.every((c) => conditionHolds(c, ctx));
}

/** 'allow' only when some Allow matches and no Deny does (IAM evaluation logic). */
export function evaluatePolicy(policy: KeyPolicy, r: RequestContext): { decision: 'allow' | 'deny'; reason: string } {
  const ctx = new Map<string, string[]>();
  for (const [k, v] of Object.entries(r.context)) ctx.set(k.toLowerCase(), Array.isArray(v) ? v : [v]);
  const deny = policy.statements.find((s) => s.effect === 'Deny' && statementMatches(s, r, ctx));
  if (deny) return { decision: 'deny', reason: `explicit deny${deny.sid ? ` (${deny.sid})` : ''}` };
  const allow = policy.statements.find((s) => s.effect === 'Allow' && statementMatches(s, r, ctx));
  if (allow) return { decision: 'allow', reason: `allowed${allow.sid ? ` by ${allow.sid}` : ''}` };
  return { decision: 'deny', reason: 'no statement allows it' };
}
