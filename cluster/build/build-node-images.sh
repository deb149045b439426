#!/usr/bin/env bash
# The test node's images, as archives containerd imports (`ctr -n k8s.io images import`): the project's
# images (scripts/build-images.sh: outrigger, proxy-init, stand-in-proxy) plus two test-only ones made
# here, outrigger/pause (our static pause program, the sandbox image) and outrigger/test-app (a tiny TCP
# app as uid 1000). Each is saved as podman names it (localhost/outrigger/NAME:TAG; the node tags it
# docker.io/outrigger/NAME:TAG after import, the name the kubelet asks for when a pod says
# outrigger/NAME:TAG; podman's own store is not given docker.io names, which would shadow later builds)
# into the cache, keyed by the image's id, so a rebuild that changed nothing is not saved again.
#   OUTRIGGER_CACHE_DIR   cache root (default /var/cache/outrigger)
# Prints one archive path per line. Needs root, podman, go.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${OUTRIGGER_CACHE_DIR:-/var/cache/outrigger}"
tag=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$repo/package.json")
log() { echo "build-node-images: $*" >&2; }
export OUTRIGGER_IMAGE_ENGINE=podman

bash "$repo/scripts/build-images.sh" >/dev/null

context="$cache/node-context"
rm -rf "$context" && mkdir -p "$context"
(cd "$here/pause" && GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$context/pause" .)
cp -p "$repo/images/stand-in-proxy.py" "$context/"
cp -p "$here/images/Dockerfile.pause" "$here/images/Dockerfile.test-app" "$context/"
for image in pause test-app; do
  podman build --network host --layers --build-arg BASE_IMAGE=outrigger/debian-base:bookworm -t "outrigger/$image:$tag" \
    -f "$context/Dockerfile.$image" "$context" >"$cache/build-node-$image.log" 2>&1 \
    || { tail -n 20 "$cache/build-node-$image.log" >&2; log "building outrigger/$image failed"; exit 1; }
done

out="$cache/node-images"
mkdir -p "$out"
for image in outrigger outrigger/proxy-init outrigger/stand-in-proxy outrigger/pause outrigger/test-app; do
  [ "$image" = outrigger ] && image=outrigger/outrigger
  id=$(podman image inspect --format '{{.Id}}' "$image:$tag" | cut -c1-12)
  archive="$out/${image##*/}-$tag-$id.tar"
  if [ ! -s "$archive" ]; then
    rm -f "$out/${image##*/}-$tag-"*.tar
    podman save --format docker-archive -o "$archive.tmp" "localhost/$image:$tag" >/dev/null 2>&1
    mv "$archive.tmp" "$archive"
    log "saved localhost/$image:$tag ($id)"
  fi
  echo "$archive"
done
