#!/usr/bin/env bash
# Builds the pinned binaries the test harness runs (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok, kustomize, helm, nats-server, the
# distribution OCI registry, and Jaeger v2 as the OTLP trace backend)
# from their Go modules into a cache outside the repository, keyed by version.
# Idempotent: a binary already in the cache is not built again.
set -euo pipefail

K8S_VERSION=1.34.4
ETCD_VERSION=3.6.4
KWOK_VERSION=0.7.0
KUSTOMIZE_VERSION=5.8.1
HELM_VERSION=3.21.4
NATS_VERSION=2.14.5
DISTRIBUTION_VERSION=3.1.2
JAEGER_VERSION=1.76.0

CACHE="${DRIFTLESS_CACHE:-$HOME/.cache/driftless}"
export GOFLAGS="${GOFLAGS:-} -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

say() { printf '[tools] %s\n' "$*" >&2; }

# build_once NAME VERSION COMMAND...: runs COMMAND with $OUT set to the cache
# folder unless $OUT/NAME already exists.
build_once() {
  local name=$1 version=$2; shift 2
  OUT="$CACHE/bin/$name-$version"
  if [[ -x "$OUT/$name" ]]; then return 0; fi
  local start=$SECONDS
  say "building $name $version into $OUT"
  mkdir -p "$OUT.tmp"
  OUT="$OUT.tmp" "$@"
  rm -rf "$CACHE/bin/$name-$version"
  mv "$CACHE/bin/$name-$version.tmp" "$CACHE/bin/$name-$version"
  say "built $name $version in $((SECONDS - start))s"
}

build_kubernetes() {
  local mod="$CACHE/src/kubernetes-$K8S_VERSION"
  mkdir -p "$mod"
  local minor=${K8S_VERSION#*.}; minor=${minor%%.*}
  {
    echo "module driftless.dev/harness/kubernetes"
    echo
    echo "go 1.24.0"
    echo
    echo "godebug default=go1.24"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go \
      cloud-provider cluster-bootstrap code-generator component-base component-helpers \
      controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation \
      endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy \
      kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver; do
      echo "replace k8s.io/$m => k8s.io/$m v0.$minor.${K8S_VERSION##*.}"
    done
  } > "$mod/go.mod"
  cat > "$mod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
  local v="v$K8S_VERSION"
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$mod" && go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$OUT/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler)
}

build_etcd() {
  local mod="$CACHE/src/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  printf 'module driftless.dev/harness/etcd\n\ngo 1.24.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > "$mod/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$mod/tools.go"
  (cd "$mod" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3)
}

# Jaeger's go.mod has a replace line, so `go install …@v` refuses it: build inside a
# writable copy of the downloaded module instead. The UI assets are not in the module;
# the binary serves Jaeger's placeholder page and the full query API.
build_jaeger() {
  local src="$CACHE/src/jaeger-$JAEGER_VERSION" dir
  dir=$(cd / && go mod download -json "github.com/jaegertracing/jaeger@v$JAEGER_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$dir" "$src"; chmod -R u+w "$src"
  (cd "$src" && go build -trimpath \
    -ldflags "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=v$JAEGER_VERSION" \
    -o "$OUT/jaeger" ./cmd/jaeger)
}

go_install() { GOBIN="$OUT" go install -trimpath "$@"; }

build_once kube-apiserver "$K8S_VERSION" build_kubernetes
build_once etcd "$ETCD_VERSION" build_etcd
build_once kwok "$KWOK_VERSION" go_install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
build_once kustomize "$KUSTOMIZE_VERSION" go_install -ldflags "-s -w" "sigs.k8s.io/kustomize/kustomize/v5@v$KUSTOMIZE_VERSION"
build_once helm "$HELM_VERSION" go_install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
build_once nats-server "$NATS_VERSION" go_install -ldflags "-s -w" "github.com/nats-io/nats-server/v2@v$NATS_VERSION"
# The OCI registry that serves charts in the chart-source tests.
build_once registry "$DISTRIBUTION_VERSION" go_install -ldflags "-s -w" "github.com/distribution/distribution/v3/cmd/registry@v$DISTRIBUTION_VERSION"
# The OTLP receiver and query API the trace tests read spans back from.
build_once jaeger "$JAEGER_VERSION" build_jaeger

# One folder with every binary, which the harness puts first on PATH.
mkdir -p "$CACHE/bin/current"
for d in "$CACHE"/bin/*-*/; do
  for f in "$d"*; do [[ -x "$f" ]] && ln -sf "$f" "$CACHE/bin/current/$(basename "$f")"; done
done
say "binaries ready in $CACHE/bin/current"
