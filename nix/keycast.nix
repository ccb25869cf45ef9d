# The derivations behind flake.nix; plain Nix (no flake features) so it also works with
# `nix-build nix/keycast.nix --arg pkgs 'import <nixpkgs> {}' --arg repo ./.`.
#   keycast  – this repository's sources + production node_modules (npm ci --omit=dev,
#              offline, from package-lock.json's integrity hashes) and a Node 22 runtime.
#              The TypeScript runs with Node's --experimental-transform-types (no tsx).
#   app      – the enclave service: `keycast enclave run` over the tree above.
#   rootfs   – the runtime closure (/nix/store/...) plus the layout enclave/deploy/enclave/image.json
#              names: /app, /bin/keycast, /bin/sh, /bin/sleep, /sbin/ip, /usr/bin/socat, /usr/bin/node.
#   blobs    – kernel, kernel config, init, nsm.ko and cmdline from aws-nitro-enclaves-cli.
#   eif      – `keycast build` of blobs + rootfs + the pinned config (`enclaveConfig`, measured),
#              argv = image.json's (the entrypoint enclave/deploy/enclave/entrypoint.sh):
#              enclave.eif, measurements.json, builder.lock.json, describe.json.
# builder/test/nix.test.ts evaluates `argv`, `rootfsLinks` and `imageFlags` (they need no
# nixpkgs) and fails when they drift from image.json and the entrypoint.
{ pkgs, repo, enclaveConfig ? null }:
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

  app = keycast; # the enclave service is `keycast enclave run` over this same tree

  # The image's command and layout, shared with `keycast build` without Nix (enclave/deploy).
  image = builtins.fromJSON (builtins.readFile (repo + "/enclave/deploy/enclave/image.json"));
  # What init executes after chroot (absolute paths: init's PATH is fixed).
  argv = image.argv;
  # Rootfs path -> store path; the names are exactly image.json's `app` and `commands`.
  rootfsLinks = {
    "app" = "${app}/lib/keycast";
    "bin/keycast" = "${app}/bin/keycast";
    "bin/sh" = "${pkgs.busybox}/bin/sh";
    "bin/sleep" = "${pkgs.busybox}/bin/sleep";
    "sbin/ip" = "${pkgs.busybox}/bin/ip";
    "usr/bin/socat" = "${pkgs.socat}/bin/socat"; # built with VSOCK (Linux default)
    "usr/bin/node" = "${nodejs}/bin/node";
  };
  # The pinned configuration is measured with the image: no image without it.
  config =
    if enclaveConfig == null then
      throw "keycast: no pinned enclave configuration; write nix/enclave.json (format: enclave/README.md), git add it, and build again"
    else enclaveConfig;
  imageFlags = [ "--enclave-config" "${config}" ] ++ builtins.concatMap (a: [ "--arg" a ]) argv;

  closure = pkgs.closureInfo { rootPaths = [ app nodejs pkgs.busybox pkgs.socat ]; };

  rootfs = pkgs.runCommand "keycast-enclave-rootfs" { } ''
    mkdir -p $out/nix/store
    for p in $(cat ${closure}/store-paths); do cp -a "$p" $out/nix/store/; done
    ${lib.concatStringsSep "\n" (lib.mapAttrsToList (path: target: ''
      mkdir -p "$(dirname "$out/${path}")"
      ln -s ${target} "$out/${path}"
    '') rootfsLinks)}
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

  eif = pkgs.runCommand "keycast-enclave.eif" { } ''
    ${keycast}/bin/keycast build --out $out \
      --kernel ${blobs}/kernel --kernel-config ${blobs}/kernel.config \
      --init ${blobs}/init --nsm ${blobs}/nsm.ko --cmdline-file ${blobs}/cmdline \
      --rootfs ${rootfs} --arch ${arch} --format linuxkit --name keycast-enclave --version ${keycast.version} \
      ${lib.escapeShellArgs imageFlags}
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
{ inherit keycast app rootfs blobs eif fixtureCheck argv rootfsLinks imageFlags; }
