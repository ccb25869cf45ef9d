# The derivations behind flake.nix; plain Nix (no flake features) so it also works with
# `nix-build nix/keycast.nix --arg pkgs 'import <nixpkgs> {}' --arg repo ./.`.
#   keycast  – this repository's sources + production node_modules (npm ci --omit=dev,
#              offline, from package-lock.json's integrity hashes) and a Node 22 runtime.
#              The TypeScript runs with Node's --experimental-transform-types (no tsx).
#   app      – the enclave service: whatever enclave/ contains, started through cli/main.ts.
#   rootfs   – the app's runtime closure (/nix/store/...) plus /app -> the app, as a directory.
#   blobs    – kernel, kernel config, init, nsm.ko and cmdline from aws-nitro-enclaves-cli.
#   eif      – `keycast build` of blobs + rootfs: enclave.eif, measurements.json, builder.lock.json.
{ pkgs, repo }:
let
  lib = pkgs.lib;
  nodejs = pkgs.nodejs_22;
  arch = if pkgs.stdenv.hostPlatform.isAarch64 then "aarch64" else "x86_64";
  kernelName = if arch == "aarch64" then "Image" else "bzImage";

  src = lib.fileset.toSource {
    root = repo;
    fileset = lib.fileset.unions (map (p: repo + "/${p}") [ "package.json" "package-lock.json" "bin" "cli" "verifier" "builder" "enclave" ]);
  };

  keycast = pkgs.buildNpmPackage {
    pname = "keycast";
    version = (builtins.fromJSON (builtins.readFile (repo + "/package.json"))).version;
    inherit src nodejs;
    npmDeps = pkgs.importNpmLock { npmRoot = src; };
    npmConfigHook = pkgs.importNpmLock.npmConfigHook;
    npmFlags = [ "--omit=dev" ];
    dontNpmBuild = true;
    nativeBuildInputs = [ pkgs.python3 ]; # node-gyp for better-sqlite3 when no prebuild matches
    installPhase = ''
      mkdir -p $out/lib/keycast $out/bin
      cp -r package.json package-lock.json bin cli verifier builder enclave node_modules $out/lib/keycast/
      cat > $out/bin/keycast <<SH
      #!${pkgs.runtimeShell}
      exec ${nodejs}/bin/node --experimental-transform-types --no-warnings --input-type=module \
        -e 'const { main } = await import("$out/lib/keycast/cli/main.ts"); process.exitCode = await main(process.argv.slice(1));' -- "\$@"
      SH
      chmod +x $out/bin/keycast
    '';
  };

  app = keycast; # the enclave service is `keycast <enclave command>` over this same tree

  closure = pkgs.closureInfo { rootPaths = [ app nodejs ]; };

  rootfs = pkgs.runCommand "keycast-enclave-rootfs" { } ''
    mkdir -p $out/nix/store $out/bin
    for p in $(cat ${closure}/store-paths); do cp -a "$p" $out/nix/store/; done
    ln -s ${app}/lib/keycast $out/app
    ln -s ${app}/bin/keycast $out/bin/keycast
  '';

  # AWS's prebuilt blobs; same pin as monzo/aws-nitro-util's flake (packages.aws-nitro-cli-src).
  nitroCli = pkgs.fetchFromGitHub {
    owner = "aws";
    repo = "aws-nitro-enclaves-cli";
    rev = "v1.2.2";
    hash = "sha256-00ZSsoezkoVPGrBy3C8UA5m/+Ip+uurqLrhM2dkW/eE=";
  };
  blobs = pkgs.runCommand "nitro-blobs-${arch}" { } ''
    mkdir -p $out
    b=${nitroCli}/blobs/${arch}
    cp $b/${kernelName} $out/kernel
    cp $b/${kernelName}.config $out/kernel.config
    cp $b/init $out/init
    cp $b/nsm.ko $out/nsm.ko
    cp $b/cmdline $out/cmdline
  '';

  # The enclave's argv: what init executes after chroot (absolute path: init's PATH is fixed).
  argv = [ "/bin/keycast" "enclave" "serve" ];

  eif = pkgs.runCommand "keycast-enclave.eif" { } ''
    ${keycast}/bin/keycast build --out $out \
      --kernel ${blobs}/kernel --kernel-config ${blobs}/kernel.config \
      --init ${blobs}/init --nsm ${blobs}/nsm.ko --cmdline-file ${blobs}/cmdline \
      --rootfs ${rootfs} --arch ${arch} --format linuxkit --name keycast-enclave --version ${keycast.version} \
      ${lib.concatMapStringsSep " " (a: "--arg ${lib.escapeShellArg a}") argv}
    ${keycast}/bin/keycast describe-eif $out/enclave.eif > $out/describe.json
  '';

  fixtureCheck = pkgs.runCommand "keycast-fixture-pcrs" { nativeBuildInputs = [ pkgs.jq ]; } ''
    cp -r ${./fixture} fixture
    chmod -R u+w fixture
    ${keycast}/bin/keycast build --lock fixture/builder.lock.json --out out --json > got.json
    want=$(jq -r '[.pcr0,.pcr1,.pcr2,.eifSha256] | join(" ")' fixture/expected.json)
    got=$(jq -r '[.measurements.PCR0,.measurements.PCR1,.measurements.PCR2,.sha256] | join(" ")' got.json)
    if [ "$want" != "$got" ]; then echo "fixture PCRs changed:"; echo " want $want"; echo " got  $got"; exit 1; fi
    cp got.json $out
  '';
in
{ inherit keycast app rootfs blobs eif fixtureCheck; }
