#!/usr/bin/env bash
# Refreshes test/fixtures/conformance from the workplace's shared/conformance (beside the repository,
# or the folder given), then shows what changed with git. Usage: scripts/sync-conformance.sh [SHARED_CONFORMANCE_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source_dir=${1:-$repo/../shared/conformance}
[ -d "$source_dir/istio-iptables" ] && [ -d "$source_dir/istio-nftables" ] || { echo "sync-conformance: no istio-iptables/ and istio-nftables/ in $source_dir" >&2; exit 2; }
for data in istio-iptables istio-nftables; do
  rm -rf "${repo:?}/test/fixtures/conformance/$data"
  cp -r "$source_dir/$data" "$repo/test/fixtures/conformance/$data"
  chmod -R u+w "$repo/test/fixtures/conformance/$data"
done
git -C "$repo" status --short -- test/fixtures/conformance
