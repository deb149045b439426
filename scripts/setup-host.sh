#!/usr/bin/env bash
# Installs what outrigger's tests, demo and image builds need on a fresh Debian 12 machine (root):
# OS packages from Debian, then the npm dependencies (which bring Node 24 itself), then the test
# cluster's Kubernetes binaries (built with Go from the Go module proxy).
# Idempotent and quick when everything is already there. The container tools (podman, Docker,
# debootstrap: image builds and the end-to-end test in `npm test`) come too unless
# OUTRIGGER_WITH_CONTAINERS=0.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(iptables nftables iproute2 util-linux python3 conntrack containernetworking-plugins openssl)
if [ "${OUTRIGGER_WITH_CONTAINERS:-1}" = 1 ]; then
  packages+=(podman catatonit runc containerd docker.io debootstrap uidmap slirp4netns fuse-overlayfs)
fi
# The test cluster's binaries are built with Go (installed on these machines); openssl makes its certificates.
packages+=(openssl curl)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-host: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-host: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# podman on these VMs: containers cannot raise rlimits (default_ulimits = []), and crun refuses the
# hybrid cgroup layout (runc does not). Written once, keeping whatever else the file holds.
if [ "${OUTRIGGER_WITH_CONTAINERS:-1}" = 1 ]; then
  conf=/etc/containers/containers.conf
  mkdir -p /etc/containers
  touch "$conf"
  ensure_toml() { # section key value
    if grep -qE "^[[:space:]]*$2[[:space:]]*=" "$conf"; then return; fi
    if grep -qE "^\\[$1\\]" "$conf"; then sed -i "/^\\[$1\\]/a $2 = $3" "$conf"
    else printf '\n[%s]\n%s = %s\n' "$1" "$2" "$3" >>"$conf"; fi
  }
  ensure_toml containers default_ulimits '[]'
  ensure_toml engine runtime '"runc"'
fi

# npm dependencies (Node 24 comes in as the `node` devDependency); reinstall only when the lockfile changed.
stamp=node_modules/.outrigger-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
npm run --silent build

# The test cluster (Kubernetes v1.34.4 and etcd v3.6, built from the Go module proxy into
# /var/cache/outrigger, once per machine: ~10 minutes cold on 2 cores, see the README). kubectl from the
# same build renders the manifests. OUTRIGGER_WITH_CLUSTER=0 skips it (the cluster tests then fail).
if [ "${OUTRIGGER_WITH_CLUSTER:-1}" = 1 ]; then
  command -v go >/dev/null || { echo "setup-host: go is not installed; the test cluster is built with Go >= 1.24" >&2; exit 1; }
  bash cluster/build/build-binaries.sh >/dev/null
fi
