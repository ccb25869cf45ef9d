# Keycast reproducible enclave build (issue #4). Use from the repository root:
#   nix build 'git+file:.?dir=nix#eif'      # the enclave image, its measurements and lock
#   nix flake check 'git+file:.?dir=nix'    # fixture image PCRs pinned in fixture/expected.json
# `?dir=nix` fetches the whole git tree, so this flake can read ../package-lock.json etc.
# Everything is pinned: nixpkgs by rev + narHash in flake.lock; npm packages by the
# `integrity` hashes in ../package-lock.json (importNpmLock, no extra hash to maintain);
# AWS's kernel/init/nsm.ko blobs by fetchFromGitHub's hash. See README.md.
{
  description = "Keycast: byte-reproducible Nitro Enclave images";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (system: pkgs:
        let
          k = import ./keycast.nix {
            inherit pkgs;
            repo = ../.;
            # the deployment's pinned configuration (log, witnesses, publishers, KMS key): measured
            enclaveConfig = if builtins.pathExists ./enclave.json then ./enclave.json else null;
          };
        in
        {
          inherit (k) keycast app rootfs blobs eif;
          default = k.eif;
        });

      checks = forAll (system: pkgs:
        let k = import ./keycast.nix { inherit pkgs; repo = ../.; }; in
        {
          # Builds nix/fixture with the Nix-built builder and compares with fixture/expected.json.
          fixture-pcrs = k.fixtureCheck;
        });
    };
}
