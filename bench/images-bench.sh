#!/usr/bin/env bash
# Image build benchmark: times scripts/build-images.sh warm (layer cache and base present: what every
# `npm test` after the first pays), with no layer cache (every apt install and copy again; the base
# tarball reused), and the debootstrap of the base alone (what only a fresh machine pays), then lists
# the image sizes beside their parts. Root; podman (or OUTRIGGER_IMAGE_ENGINE). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
engine="${OUTRIGGER_IMAGE_ENGINE:-podman}"
export OUTRIGGER_IMAGE_ENGINE="$engine"
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }'; }

bash scripts/build-images.sh >/dev/null 2>&1 # make sure everything exists
warm=()
for _ in 1 2 3; do warm+=("$(seconds bash scripts/build-images.sh)"); done
cold=$(OUTRIGGER_NO_CACHE=1 seconds bash scripts/build-images.sh)
# The floor of a warm rerun: the engine answering three fully cached builds of a one-line Dockerfile
# from the same base (no context to copy, nothing to check but the cache).
floor_dir=$(mktemp -d /tmp/outrigger-floor-XXXXXX)
printf 'FROM outrigger/debian-base:bookworm\nRUN true\n' >"$floor_dir/Dockerfile"
"$engine" build -q --network host -t outrigger/bench-floor:0 "$floor_dir" >/dev/null 2>&1
floor_once() { for _ in 1 2 3; do "$engine" build -q --network host -t outrigger/bench-floor:0 "$floor_dir" >/dev/null 2>&1; done; }
floor=()
for _ in 1 2 3; do floor+=("$(seconds floor_once)"); done
"$engine" rmi outrigger/bench-floor:0 >/dev/null 2>&1 || true
rm -rf "$floor_dir"
mirror=$(grep -ohE 'https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -v security | head -n1 | tr -d ' ' || true)
target=$(mktemp -d /tmp/outrigger-debootstrap-XXXXXX)
boot=$(seconds debootstrap --variant=minbase bookworm "$target/rootfs" "${mirror:-http://deb.debian.org/debian}")
rm -rf "$target"

echo "Machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $engine $("$engine" version --format '{{.Client.Version}}' 2>/dev/null || true)"
echo
echo "| build | seconds |"
echo "|---|---|"
echo "| warm rerun (3 runs) | ${warm[*]} |"
echo "| floor: three cached one-line builds (3 runs) | ${floor[*]} |"
echo "| no layer cache, base tarball reused | $cold |"
echo "| debootstrap --variant=minbase bookworm alone (fresh machine only) | $boot |"
echo
echo "| image | size MB |"
echo "|---|---|"
for image in outrigger/debian-base:bookworm outrigger/proxy-init:0.1.0 outrigger/outrigger:0.1.0 outrigger/stand-in-proxy:0.1.0; do
  echo "| $image | $(( $("$engine" image inspect --format '{{.Size}}' "$image") / 1000000 )) |"
done
node_size=$(stat -c %s node_modules/node/bin/node)
cni_size=$(stat -c %s dist/outrigger-cni 2>/dev/null || echo 0)
echo
echo "Parts: Node binary $(( node_size / 1000000 )) MB before strip; dist/outrigger-cni $(( cni_size / 1000000 )) MB; bundle $(du -ck dist/*.mjs | tail -n1 | cut -f1) KB."
