#!/usr/bin/env bash
# Builds the Driftless container images (agent and hub) with buildah — no
# Docker daemon — and writes them as OCI archives:
#   OUT/driftless-agent-VERSION.tar   (image driftless/agent:VERSION)
#   OUT/driftless-hub-VERSION.tar     (image driftless/hub:VERSION)
#
# Usage: deploy/images/build.sh [--out DIR] [--base auto|local|IMAGE]
#   --out   where the archives go (default dist/images)
#   --base  the image with Node 24 to build on. IMAGE is any reference buildah
#           can pull (default docker.io/library/node:24-bookworm-slim). local
#           builds one from Debian packages with mmdebstrap plus the Node 24
#           binary of .toolchain/ (cached in $DRIFTLESS_CACHE/images). auto
#           (the default) pulls the usual base and falls back to local.
# Environment: DRIFTLESS_IMAGE_STORAGE, a folder for buildah's storage
# (default: buildah's own, /var/lib/containers); DRIFTLESS_CACHE as in the Makefile.
# Needs: buildah, and for a local base mmdebstrap. helm and kustomize are
# taken from PATH (make tools builds them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/dist/images
base=auto
while (($#)); do
  case $1 in
    --out) out=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) echo "build.sh: unknown argument $1 (see the comment at the top of $0)" >&2; exit 2 ;;
  esac
done
usual_base=docker.io/library/node:24-bookworm-slim
debian_suite=bookworm
cache=${DRIFTLESS_CACHE:-$HOME/.cache/driftless}/images
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
buildah=(buildah)
if [[ -n ${DRIFTLESS_IMAGE_STORAGE:-} ]]; then
  buildah+=(--root "$DRIFTLESS_IMAGE_STORAGE/root" --runroot "$DRIFTLESS_IMAGE_STORAGE/run")
fi
log() { echo "[image] $*" >&2; }

# The Node 24 binary for a local base: the npm registry's node package in .toolchain/.
node_binary() {
  local candidate
  for candidate in "$root/.toolchain/node_modules/node/bin/node" "$(command -v node)"; do
    if [[ -x $candidate ]] && "$candidate" -e 'process.exit(process.versions.node.split(".")[0] === "24" ? 0 : 1)'; then
      readlink -f "$candidate"
      return
    fi
  done
  echo "build.sh: no Node 24 binary for the local base: run make setup (.toolchain/) or put Node 24 on PATH" >&2
  exit 1
}

# A Debian root filesystem plus Node 24, as an OCI archive in the cache, keyed by
# the suite and the Node version. Returns the archive's reference.
local_base() {
  local node archive work
  node=$(node_binary)
  archive=$cache/base-$debian_suite-node$("$node" -p process.versions.node).tar
  if [[ ! -f $archive ]]; then
    command -v mmdebstrap >/dev/null || { echo "build.sh: mmdebstrap is needed for a local base (apt-get install mmdebstrap)" >&2; exit 1; }
    log "building a local base from Debian $debian_suite packages (a few minutes, once)"
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/base.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    # Like Debian's slim images: no recommends, no docs, man pages or translations.
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
      --aptopt='APT::Install-Recommends "false"' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/log/*.log "$1"/var/log/apt/*' \
      "$debian_suite" "$work/rootfs.tar" ${DEBIAN_MIRROR:+"$DEBIAN_MIRROR"}
    cp "$node" "$work/node"
    "${buildah[@]}" build --quiet --layers=false -f "$root/deploy/images/Containerfile.base" \
      -t localhost/driftless/base:node24-$debian_suite "$work" >/dev/null
    "${buildah[@]}" push --quiet localhost/driftless/base:node24-$debian_suite "oci-archive:$archive.part:driftless/base:node24-$debian_suite"
    mv "$archive.part" "$archive"
    rm -rf "$work"
  fi
  echo "oci-archive:$archive"
}

# Step 1: the base.
case $base in
  auto)
    if "${buildah[@]}" pull --quiet "$usual_base" >/dev/null 2>&1; then
      base=$usual_base
    else
      log "cannot pull $usual_base; using a base made from Debian packages"
      base=$(local_base)
    fi
    ;;
  local) base=$(local_base) ;;
esac
if [[ $base == oci-archive:* ]]; then
  "${buildah[@]}" pull --quiet "$base" >/dev/null
  base=localhost/driftless/base:node24-$debian_suite
elif ! "${buildah[@]}" inspect --type image "$base" >/dev/null 2>&1; then
  "${buildah[@]}" pull --quiet "$base" >/dev/null
fi
log "base: $base"

# Step 2: the build context — bundles, dashboard and the agent's renderers.
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
node "$root/deploy/bundle.ts" --out "$context/dist"
mkdir -p "$context/bin"
for tool in helm kustomize; do
  path=$(command -v "$tool") || { echo "build.sh: $tool not on PATH: run make tools" >&2; exit 1; }
  cp "$(readlink -f "$path")" "$context/bin/$tool"
done

# Step 3: build both targets and write each as an OCI archive.
mkdir -p "$out"
for program in agent hub; do
  image=driftless/$program:$version
  archive=$out/driftless-$program-$version.tar
  log "building $image"
  "${buildah[@]}" build --quiet --layers --pull=never --isolation chroot \
    --build-arg "BASE=$base" --target "$program" -f "$root/deploy/images/Containerfile" \
    -t "localhost/$image" "$context" >/dev/null
  rm -f "$archive"
  "${buildah[@]}" push --quiet "localhost/$image" "oci-archive:$archive:$image"
  log "$archive: $(du -m "$archive" | cut -f1) MB archive, $("${buildah[@]}" images --format '{{.Size}}' "localhost/$image") unpacked"
done
