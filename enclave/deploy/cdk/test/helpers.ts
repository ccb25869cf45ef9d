/** Shared by the CDK tests: the example context, and reading the user data back out of a template. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const PKG = join(import.meta.dirname, '..');
/** the repository root (bin/keycast.mjs) */
export const REPO = join(PKG, '..', '..', '..');

/** cdk.json's example context (keyPolicyFile resolved from the package). */
export function exampleContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const c = (JSON.parse(readFileSync(join(PKG, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
  return { ...c, keyPolicyFile: join(PKG, c.keyPolicyFile as string), ...overrides };
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** The launch template's user data as text; a CloudFormation reference shows as «Ref:Name». */
export function userDataOf(t: Template): string {
  const lt = Object.values(t.Resources).find((r) => r.Type === 'AWS::EC2::LaunchTemplate')!;
  const ud = (lt.Properties!.LaunchTemplateData as { UserData: { 'Fn::Base64': unknown } }).UserData['Fn::Base64'];
  const part = (p: unknown): string =>
    typeof p === 'string'
      ? p
      : typeof p === 'object' && p !== null && 'Ref' in p
        ? `«Ref:${(p as { Ref: string }).Ref}»`
        : `«${JSON.stringify(p)}»`;
  if (typeof ud === 'string') return ud;
  const [sep, parts] = (ud as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts.map(part).join(sep);
}

/** The files the user data writes (`cat > PATH <<'KEYCAST_FILE_EOF'`), path → content. */
export function filesOf(userData: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /^cat > '([^']+)' <<'KEYCAST_FILE_EOF'\n([\s\S]*?)\nKEYCAST_FILE_EOF$/gm;
  for (const m of userData.matchAll(re)) out.set(m[1]!, `${m[2]}\n`);
  return out;
}
