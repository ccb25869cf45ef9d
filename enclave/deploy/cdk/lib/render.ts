/**
 * The parent instance's files, rendered for one stack from the files in enclave/deploy/host (read
 * verbatim; only what differs between deployments is filled in), and the user data that installs
 * them, fetches the release's EIF and the host bundle by URI and SHA-256, starts the units and
 * signals CloudFormation once the enclave's gate is open and its identity is ready.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceConfig } from './config.ts';

/** enclave/deploy/host, beside this package. */
export const HOST_DIR = join(import.meta.dirname, '..', '..', 'host');

/** The units installed into /etc/systemd/system, in start order. */
export const UNITS = [
  'keycast-vsock-proxy.service',
  'keycast-enclave.service',
  'keycast-enclave-bridge.service',
  'keycast-host.service',
  'keycast-credentials-bridge.service',
] as const;

export const hostFile = (name: string): string => readFileSync(join(HOST_DIR, name), 'utf8');

/** vsock-proxy.yaml with `${KEYCAST_REGION}` filled in: KMS of this region and nothing else. */
export function renderAllowlist(region: string): string {
  if (!/^[a-z0-9-]+$/.test(region)) throw new Error(`not a region: ${region}`);
  // the systemd-style placeholder of the deploy file, not a JavaScript template
  const out = hostFile('vsock-proxy.yaml').replace(/\$\{KEYCAST_REGION\}/g, region);
  if (out.includes('${')) throw new Error('vsock-proxy.yaml names a variable the CDK does not render');
  return out;
}

/**
 * keycast.env with every variable it lists set for this stack. A variable the template lists and
 * the stack does not set (or the other way round) is an error, so the two cannot drift apart.
 */
export function renderEnvFile(values: Record<string, string>): string {
  const seen = new Set<string>();
  const out = hostFile('keycast.env')
    .split('\n')
    .map((line) => {
      const m = /^([A-Z_][A-Z0-9_]*)=/.exec(line);
      if (!m) return line;
      const v = values[m[1]!];
      if (v === undefined) throw new Error(`keycast.env sets ${m[1]}, which the stack does not render`);
      // a CDK token (${Token[…]}) becomes a reference at synth; any other $ would be expanded by systemd
      if (/[\s"'\\`]|\$(?!\{Token\[)/.test(v)) throw new Error(`${m[1]}: a value with spaces, quotes or $ is refused`);
      seen.add(m[1]!);
      return `${m[1]}=${v}`;
    })
    .join('\n');
  for (const k of Object.keys(values)) if (!seen.has(k)) throw new Error(`keycast.env has no ${k}`);
  return out;
}

/** /etc/nitro_enclaves/allocator.yaml: what the allocator reserves for enclaves at boot. */
export function renderAllocator(cpus: number, memoryMiB: number): string {
  return `---\n# rendered by the Keycast CDK app: reserved for the enclave at boot\nmemory_mib: ${memoryMiB}\ncpu_count: ${cpus}\n`;
}

export interface InstanceFiles {
  /** absolute path on the instance → content and mode */
  files: { path: string; content: string; mode: string }[];
}

export function instanceFiles(region: string, s: ServiceConfig, storeBucket: string): InstanceFiles {
  const env = renderEnvFile({
    KEYCAST_REGION: region,
    AWS_REGION: region,
    KEYCAST_LOG: s.logUrl,
    KEYCAST_LOG_KEY: '/etc/keycast/log.vkey',
    KEYCAST_STORE: `s3://${storeBucket}/${s.storePrefix}`,
    KEYCAST_EIF: '/opt/keycast/enclave.eif',
    KEYCAST_ENCLAVE_CPUS: String(s.enclaveCpus),
    KEYCAST_ENCLAVE_MEMORY: String(s.enclaveMemoryMiB),
  });
  return {
    files: [
      {
        path: '/etc/nitro_enclaves/allocator.yaml',
        content: renderAllocator(s.enclaveCpus, s.enclaveMemoryMiB),
        mode: '0644',
      },
      { path: '/etc/keycast/keycast.env', content: env, mode: '0644' },
      { path: '/etc/keycast/log.vkey', content: `${s.logKey}\n`, mode: '0644' },
      { path: '/etc/keycast/vsock-proxy.yaml', content: renderAllowlist(region), mode: '0644' },
      { path: '/opt/keycast/keycast-enclave-watch.sh', content: hostFile('keycast-enclave-watch.sh'), mode: '0755' },
      ...UNITS.map((u) => ({ path: `/etc/systemd/system/${u}`, content: hostFile(u), mode: '0644' })),
    ],
  };
}

const EOF_MARK = 'KEYCAST_FILE_EOF';

/**
 * The user data (bash). `asgLogicalId`/`stackName` name the resource cfn-signal reports to: the
 * auto-scaling group's creation and rolling-update policies wait for each new instance to say its
 * gate is open and its identity ready (or that it failed) before going on.
 */
export function userDataLines(
  region: string,
  s: ServiceConfig,
  storeBucket: string,
  signal: { stackName: string; asgLogicalId: string },
): string[] {
  const lines = [
    'set -euo pipefail',
    'exec > >(tee -a /var/log/keycast-user-data.log) 2>&1',
    `signal() { /opt/aws/bin/cfn-signal -e "$1" --stack '${signal.stackName}' --resource '${signal.asgLogicalId}' --region '${region}' || :; }`,
    "trap 'signal 1' ERR",
    // Amazon Linux 2023: nitro-cli and vsock-proxy, socat (VSOCK), Node.js 22, cfn-signal
    'dnf install -y -q aws-nitro-enclaves-cli socat nodejs22 aws-cfn-bootstrap',
    '[ -x /usr/bin/node ] || ln -s /usr/bin/node-22 /usr/bin/node',
    'install -d -m 0755 /etc/keycast /opt/keycast /etc/nitro_enclaves',
  ];
  for (const f of instanceFiles(region, s, storeBucket).files) {
    if (f.content.split('\n').includes(EOF_MARK)) throw new Error(`${f.path} contains the heredoc marker`);
    lines.push(`cat > '${f.path}' <<'${EOF_MARK}'`, ...f.content.replace(/\n$/, '').split('\n'), EOF_MARK);
    lines.push(`chmod ${f.mode} '${f.path}'`);
  }
  lines.push(
    // fetch by URI, keep only what has the release's SHA-256
    'fetch_verified() {',
    '  local uri=$1 want=$2 dest=$3 got',
    '  case "$uri" in',
    `    s3://*) aws s3 cp --only-show-errors --region '${region}' "$uri" "$dest.part" ;;`,
    '    https://*) curl -fsSL --proto \'=https\' --retry 5 -o "$dest.part" "$uri" ;;',
    '    *) echo "keycast: $uri: only s3:// and https:// are fetched" >&2; return 1 ;;',
    '  esac',
    '  got=$(sha256sum "$dest.part" | cut -d" " -f1)',
    '  if [ "$got" != "$want" ]; then',
    '    echo "keycast: $uri has SHA-256 $got, the release says $want: refused" >&2',
    '    rm -f "$dest.part"; return 1',
    '  fi',
    '  mv "$dest.part" "$dest"',
    '}',
    `fetch_verified '${s.hostBundle.uri}' '${s.hostBundle.sha256}' /opt/keycast/host-bundle.tar.gz`,
    'tar -xzf /opt/keycast/host-bundle.tar.gz -C /opt/keycast --no-same-owner',
    'test -f /opt/keycast/bin/keycast.mjs',
    `fetch_verified '${s.eif.uri}' '${s.eif.sha256}' /opt/keycast/enclave.eif`,
    'systemctl daemon-reload',
    'systemctl enable --now nitro-enclaves-allocator.service',
    `systemctl enable --now ${UNITS.join(' ')}`,
    // ready = the host answers 200 (gate open) and the enclave's identity is ready (created or unsealed)
    'ready() {',
    '  node -e \'fetch("http://127.0.0.1:8080/v1/status").then(async (r) => { const j = await r.json(); process.exit(r.status === 200 && j.enclave?.identity?.ready === true ? 0 : 1); }, () => process.exit(1))\'',
    '}',
    `deadline=$(( $(date +%s) + ${s.readyTimeoutMinutes * 60} ))`,
    'until ready; do',
    '  if [ "$(date +%s)" -ge "$deadline" ]; then echo "keycast: the gate did not open or the identity is not ready" >&2; signal 1; exit 1; fi',
    '  sleep 10',
    'done',
    'signal 0',
  );
  return lines;
}
