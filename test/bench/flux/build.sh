#!/usr/bin/env bash
# Builds the Flux source-controller and kustomize-controller that the side-by-side
# benchmark (test/bench/flux-side-by-side.bench.ts) runs, from their Go modules, into
# the binary cache keyed by version. Only `make bench` calls this; tests never need it.
# Idempotent: a binary already in the cache is not built again.
#
# Two things the plain module zip does not give:
# - each controller's go.mod says `replace …/api => ./api`, and the module zip has no
#   ./api folder: the matching `…/api` module version is put there;
# - pins listed in PINS below: dependency versions the module proxy does not serve,
#   replaced by the nearest version it does serve (docs/benchmarks.md, "Side by side with Flux").
set -euo pipefail

FLUX_VERSION=${FLUX_VERSION:-1.9.6}

CACHE="${DRIFTLESS_CACHE:-$HOME/.cache/driftless}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

# Dependency versions the module proxy answers 403 for, each replaced by a served one.
PINS=(
  "github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0"
)

say() { printf '[flux] %s\n' "$*" >&2; }

# build_once NAME VERSION COMMAND...: runs COMMAND with $OUT set to the cache
# folder unless $OUT/NAME already exists.
build_once() {
  local name=$1 version=$2; shift 2
  OUT="$CACHE/bin/$name-$version"
  if [[ -x "$OUT/${name#flux-}" ]]; then return 0; fi
  local start=$SECONDS
  say "building $name $version into $OUT"
  rm -rf "$OUT.tmp"; mkdir -p "$OUT.tmp"
  OUT="$OUT.tmp" "$@"
  rm -rf "$CACHE/bin/$name-$version"
  mv "$CACHE/bin/$name-$version.tmp" "$CACHE/bin/$name-$version"
  say "built $name $version in $((SECONDS - start))s"
}

# module_dir MODULE@VERSION: downloads the module and prints its read-only folder.
module_dir() {
  (cd / && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

# build_controller NAME: a writable copy of github.com/fluxcd/NAME@vVERSION with its
# ./api filled in, pinned, and built to $OUT/NAME. The CRDs it installs are copied
# next to the binary (crd/), where the benchmark reads them.
build_controller() {
  local name=$1 module="github.com/fluxcd/$1" src="$CACHE/src/flux-$1-$FLUX_VERSION" dir api pin
  dir=$(module_dir "$module@v$FLUX_VERSION")
  api=$(module_dir "$module/api@v$FLUX_VERSION")
  [[ -n "$dir" && -n "$api" ]] || { say "cannot download $module v$FLUX_VERSION"; return 1; }
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  cp -r "$api" "$src/api"; chmod -R u+w "$src/api"
  for pin in "${PINS[@]}"; do
    if grep -q "^[[:space:]]*${pin%%=*} " "$src/go.mod" "$src/api/go.mod"; then
      (cd "$src" && go mod edit -replace "$pin")
    fi
  done
  # tidy also resolves test-only dependencies, some of which the proxy may not serve; the build
  # (-mod=mod) fetches what the binary needs and fails loudly if something is missing.
  (cd "$src" && go mod tidy >/dev/null 2>&1 || true)
  (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$OUT/$name" .)
  mkdir -p "$OUT/crd"
  cp "$src"/config/crd/bases/*.yaml "$OUT/crd/"
}

build_once flux-source-controller "$FLUX_VERSION" build_controller source-controller
build_once flux-kustomize-controller "$FLUX_VERSION" build_controller kustomize-controller
say "Flux $FLUX_VERSION controllers ready in $CACHE/bin/flux-*-$FLUX_VERSION"
