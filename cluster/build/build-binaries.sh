#!/usr/bin/env bash
# Builds the test cluster's binaries from the Go module proxy with `go build`: Kubernetes v1.34.4
# (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) through the
# wrapper module in cluster/build/kubernetes, and etcd v3.6 through cluster/build/etcd.
# Binaries go to a cache outside the work tree, keyed by version and by a hash of the wrapper module
# (go.mod, go.sum, the recipe number below), so a machine builds them once; nothing here is ever committed.
#   OUTRIGGER_CACHE   cache root (default /var/cache/outrigger)
#   --check           build nothing: print the folder and exit 0 if everything is built, else exit 3
# Prints the binaries' folder on stdout; progress goes to stderr. Limits: needs Go >= 1.24 and the Go
# module proxy; a cold build takes tens of minutes on 2 cores (README, "Test cluster").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${OUTRIGGER_CACHE:-/var/cache/outrigger}"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly

kubernetes_version=v1.34.4
etcd_version="$(cd "$here/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
[ -n "$etcd_version" ] || { echo "build-binaries: no etcd version in $here/etcd/go.mod" >&2; exit 1; }
kubernetes_components=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

command -v go >/dev/null || { echo "build-binaries: go is not installed (Go >= 1.24 is needed)" >&2; exit 127; }

# Bump when the build itself changes (flags, tags, components): the cache key holds it.
recipe=1
key_of() { # folder -> short hash of what decides its build
  { cat "$1/go.mod" "$1/go.sum"; echo "recipe=$recipe"; } | sha256sum | cut -c1-12
}

build_kubernetes() {
  local out="$cache_root/kubernetes-$kubernetes_version-$(key_of "$here/kubernetes")"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  echo "build-binaries: building Kubernetes $kubernetes_version into $out (cold: tens of minutes)" >&2
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  local minor="${kubernetes_version#v1.}"; minor="${minor%%.*}"
  local build_date
  build_date="$(cd "$here/kubernetes" && go mod download -json "k8s.io/kubernetes@$kubernetes_version" | sed -n 's/.*"Info": "\(.*\)".*/\1/p' | xargs cat | sed -n 's/.*"Time": *"\([^"]*\)".*/\1/p')"
  local ldflags="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X '$pkg.gitVersion=$kubernetes_version' -X '$pkg.gitMajor=1' -X '$pkg.gitMinor=$minor'"
    ldflags+=" -X '$pkg.gitTreeState=archive' -X '$pkg.buildDate=$build_date'"
  done
  local static=() c
  for c in "${kubernetes_components[@]}"; do [ "$c" = kubelet ] || static+=("k8s.io/kubernetes/cmd/$c"); done
  # As upstream (hack/lib/golang.sh): everything static except the kubelet, tags selinux,notest.
  (cd "$here/kubernetes" && CGO_ENABLED=0 go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$out.tmp/" "${static[@]}")
  (cd "$here/kubernetes" && go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$out.tmp/" k8s.io/kubernetes/cmd/kubelet)
  for c in "${kubernetes_components[@]}"; do [ -x "$out.tmp/$c" ] || { echo "build-binaries: $c was not built" >&2; exit 1; }; done
  touch "$out.tmp/.complete"
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "$out"
}

build_etcd() {
  local out="$cache_root/etcd-$etcd_version-$(key_of "$here/etcd")"
  if [ -f "$out/.complete" ]; then echo "$out"; return; fi
  echo "build-binaries: building etcd $etcd_version into $out" >&2
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$here/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3)
  touch "$out.tmp/.complete"
  rm -rf "$out" && mv "$out.tmp" "$out"
  echo "$out"
}

if [ "${1:-}" = --check ]; then
  bin="$cache_root/bin-$kubernetes_version-etcd-$etcd_version"
  for f in "$cache_root/kubernetes-$kubernetes_version-$(key_of "$here/kubernetes")/.complete" "$cache_root/etcd-$etcd_version-$(key_of "$here/etcd")/.complete" "$bin/kubectl" "$bin/etcd"; do
    [ -e "$f" ] || { echo "build-binaries: not built yet ($f is missing): run bash scripts/setup-host.sh" >&2; exit 3; }
  done
  echo "$bin"
  exit 0
fi

etcd_dir="$(build_etcd)"
kubernetes_dir="$(build_kubernetes)"
# One folder with links to both, named for the versions, is what the harness reads.
bin="$cache_root/bin-$kubernetes_version-etcd-$etcd_version"
mkdir -p "$bin"
for c in "${kubernetes_components[@]}"; do ln -sfn "$kubernetes_dir/$c" "$bin/$c"; done
ln -sfn "$etcd_dir/etcd" "$bin/etcd"
echo "$bin"
