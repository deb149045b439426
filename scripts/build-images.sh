#!/usr/bin/env bash
# Builds outrigger's container images on one machine with no image registry:
#   outrigger/proxy-init      Dockerfile.init             `outrigger init` + iptables (both backends) + iproute2
#   outrigger/outrigger       Dockerfile.outrigger        injector, CNI installer and the outrigger-cni binary
#   outrigger/stand-in-proxy  Dockerfile.stand-in-proxy   test/demo stand-in for Envoy (uid 1337, 15001/15006)
#
# When the base image (BASE_IMAGE, default outrigger/debian-base:bookworm) is missing from the
# engine, it is made from Debian packages: `debootstrap --variant=minbase` from the configured
# Debian mirror into a cache directory, packed once into a tarball and imported. Reruns reuse the
# tarball and the engine's layer cache, so a second run takes seconds.
#
# Engine: podman when installed (the end-to-end test runs pods with `podman kube play`, so the
# images must be in podman's store), else Docker (Debian's docker.io); OUTRIGGER_IMAGE_ENGINE
# forces one. With Docker and no daemon answering, dockerd is started in the background with
# --iptables=false --bridge=none (builds use the host network), so the host's firewall is untouched.
#
# Environment: OUTRIGGER_IMAGE_ENGINE (podman|docker), OUTRIGGER_IMAGE_TAG (default: package.json's version, as the manifests use),
# BASE_IMAGE, OUTRIGGER_DEBIAN_MIRROR (default: the first Debian URI in apt's sources),
# OUTRIGGER_CACHE_DIR (default /var/cache/outrigger), OUTRIGGER_NO_CACHE=1 (rebuild every layer; the
# base tarball is still reused). Needs root (debootstrap, dockerd).
# Prints one line per image: name, size.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
tag="${OUTRIGGER_IMAGE_TAG:-$version}"
base="${BASE_IMAGE:-outrigger/debian-base:bookworm}"
cache="${OUTRIGGER_CACHE_DIR:-/var/cache/outrigger}"
suite=bookworm
log() { echo "build-images: $*" >&2; }
die() { log "$*"; exit 1; }

engine="${OUTRIGGER_IMAGE_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v podman >/dev/null; then engine=podman
  elif command -v docker >/dev/null; then engine=docker
  else die "neither podman nor docker is installed (run OUTRIGGER_WITH_CONTAINERS=1 bash scripts/setup-host.sh)"; fi
fi
case "$engine" in podman|docker) ;; *) die "OUTRIGGER_IMAGE_ENGINE must be podman or docker, not '$engine'";; esac
command -v "$engine" >/dev/null || die "$engine is not installed"

# Docker: start a daemon when none answers (this machine has no systemd). Left running for later
# builds; its log and pid are in the cache directory.
if [ "$engine" = docker ] && ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || die "no Docker daemon answers and dockerd is not installed (Debian package docker.io)"
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers; starting dockerd needs root"
  mkdir -p "$cache"
  log "no Docker daemon answers; starting dockerd (log: $cache/dockerd.log)"
  nohup dockerd --iptables=false --ip-masq=false --bridge=none >"$cache/dockerd.log" 2>&1 &
  echo $! >"$cache/dockerd.pid"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || die "dockerd did not answer within 30 s; see $cache/dockerd.log"
fi

image_exists() { "$engine" image inspect "$1" >/dev/null 2>&1; }

debian_mirror() {
  if [ -n "${OUTRIGGER_DEBIAN_MIRROR:-}" ]; then echo "$OUTRIGGER_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v '^[[:space:]]*#' \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# The base image: debootstrap once into the cache, pack it, import it.
if ! image_exists "$base"; then
  [ "$base" = outrigger/debian-base:bookworm ] || die "BASE_IMAGE $base is not in $engine's store"
  tarball="$cache/debian-base-$suite.tar"
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (run OUTRIGGER_WITH_CONTAINERS=1 bash scripts/setup-host.sh)"
    [ "$(id -u)" = 0 ] || die "making the base image with debootstrap needs root"
    mirror=$(debian_mirror)
    rootfs="$cache/rootfs-$suite"
    mkdir -p "$cache"
    if [ ! -x "$rootfs/bin/sh" ] || [ ! -f "$rootfs/.outrigger-complete" ]; then
      rm -rf "$rootfs" "$rootfs.tmp"
      log "debootstrap --variant=minbase $suite from $mirror (once; cached in $cache)"
      debootstrap --variant=minbase "$suite" "$rootfs.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1 \
        || die "debootstrap failed; see $cache/debootstrap.log"
      mv "$rootfs.tmp" "$rootfs"
      touch "$rootfs/.outrigger-complete"
    fi
    # Smaller and reproducible enough: no apt lists, caches, logs or docs.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/var/log/*.log "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
    # apt in the image must not keep what it downloads, nor ship docs.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/01-outrigger-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
    echo 'APT::Keep-Downloaded-Packages "false"; APT::Install-Recommends "false";' >"$rootfs/etc/apt/apt.conf.d/01-outrigger"
    printf 'deb %s %s main\n' "$mirror" "$suite" >"$rootfs/etc/apt/sources.list"
    tar --numeric-owner --exclude=./.outrigger-complete -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
  fi
  log "importing $tarball as $base"
  "$engine" import --change 'CMD ["/bin/bash"]' "$tarball" "$base" >/dev/null
fi

# A build context with only what the images need: the Node 24 binary (from the npm registry's
# `node` package, as everywhere in this project), the CLI bundle, the CNI plugin executable.
node_bin=node_modules/node/bin/node
[ -x "$node_bin" ] || die "$node_bin is missing (run bash scripts/setup-host.sh)"
[ -f dist/outrigger.mjs ] || npm run --silent build
if [ ! -x dist/outrigger-cni ] && [ -f scripts/build-cni.mjs ]; then
  PATH="$PWD/node_modules/.bin:$PATH" node scripts/build-cni.mjs >&2
fi
context="$cache/context"
rm -rf "$context"
mkdir -p "$context/dist" "$context/dist-init" "$context/bin"
cp -p "$node_bin" "$context/node"
cp -p dist/*.mjs "$context/dist/"
cp -p dist/*.LEGAL.txt "$context/dist/" 2>/dev/null || true
cp -p dist/envoy-schema.json "$context/dist/" # the injector checks proxy.bootstrapOverride against it
# proxy-init holds NET_ADMIN: it gets only the bundle files `outrigger init` reaches (no injector,
# CNI installer, fastify or Kubernetes client, no explain), with their license notices.
for file in $("$node_bin" scripts/bundle-closure.mjs dist --exclude inject-command- --exclude injector-command- --exclude cni-command- --exclude explain-command-); do
  cp -p "dist/$file" "$context/dist-init/"
  [ -f "dist/$file.LEGAL.txt" ] && cp -p "dist/$file.LEGAL.txt" "$context/dist-init/"
done
if [ -x dist/outrigger-cni ]; then cp -p dist/outrigger-cni "$context/bin/outrigger-cni"
else log "dist/outrigger-cni is not built here (no scripts/build-cni.mjs); the outrigger image ships without it"; fi
cp -p images/stand-in-proxy.py "$context/stand-in-proxy.py"
cp -p Dockerfile.init Dockerfile.outrigger Dockerfile.stand-in-proxy "$context/"

build() { # image dockerfile
  log "building $1:$tag ($2, $engine)"
  local args=(build --network host --build-arg "BASE_IMAGE=$base" -t "$1:$tag" -f "$context/$2")
  [ "$engine" = podman ] && args+=(--layers)
  [ "${OUTRIGGER_NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
  "$engine" "${args[@]}" "$context" >"$cache/build-${1##*/}.log" 2>&1 || { tail -n 30 "$cache/build-${1##*/}.log" >&2; die "building $1 failed; see $cache/build-${1##*/}.log"; }
}
build outrigger/proxy-init Dockerfile.init
build outrigger/outrigger Dockerfile.outrigger
build outrigger/stand-in-proxy Dockerfile.stand-in-proxy

for image in outrigger/proxy-init outrigger/outrigger outrigger/stand-in-proxy; do
  size=$("$engine" image inspect --format '{{.Size}}' "$image:$tag")
  printf '%s:%s %s MB\n' "$image" "$tag" "$(( size / 1000000 ))"
done
