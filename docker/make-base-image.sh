#!/usr/bin/env bash
# Builds the local Docker base image `iomodels-debian12-base`: Debian 12
# (bookworm) made with debootstrap from the Debian mirror apt already uses,
# plus every package scripts/install-deps.sh lists, then `docker import`ed.
#
# Why not `FROM debian:12`: on machines that reach Debian's package mirror
# but no container registry, no image can be pulled; debootstrap needs only
# the mirror. With the packages already inside, `docker build` needs no
# network at all (install-deps.sh finds everything and does nothing).
#
#   docker/make-base-image.sh            build it unless the image exists
#   docker/make-base-image.sh --force    rebuild even if it exists
#
# Needs root, debootstrap and a running Docker engine. The root file system is
# built in a temporary folder that is removed on exit, also on failure. Its
# tar is kept in $IOMODELS_BASE_CACHE (default /var/cache/iomodels/) so a
# fresh engine (new data root) imports it in seconds instead of
# debootstrapping again for ten minutes; --force ignores the cache.
set -euo pipefail

IMAGE=${IOMODELS_BASE_IMAGE:-iomodels-debian12-base}
CACHE=${IOMODELS_BASE_CACHE:-/var/cache/iomodels}/$IMAGE.tar
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
repo=$(cd "$(dirname "$0")/.." && pwd)

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "make-base-image.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "make-base-image.sh: needs root (debootstrap, chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "make-base-image.sh: apt-get install debootstrap" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "make-base-image.sh: no Docker engine answers (start dockerd)" >&2; exit 1; }

# The image remembers which install-deps.sh it was made from. A newer list
# still builds (the Dockerfile's install-deps.sh step adds what is missing,
# over the network) but every build then repeats that step: say so.
deps_sum=$(sha256sum "$repo/scripts/install-deps.sh" | cut -c1-16)
if [ "$force" -eq 0 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  made_from=$(docker image inspect -f '{{index .Config.Labels "iomodels.deps"}}' "$IMAGE" 2>/dev/null || true)
  echo "make-base-image: $IMAGE exists (use --force to rebuild)"
  [ "$made_from" = "$deps_sum" ] ||
    echo "make-base-image: note: scripts/install-deps.sh changed since $IMAGE was made; --force brings it up to date"
  exit 0
fi

import_image() {
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
    --change "LABEL iomodels.deps=$deps_sum" - "$IMAGE" >/dev/null
  docker image ls "$IMAGE"
}
if [ "$force" -eq 0 ] && [ -s "$CACHE" ] && [ "$(cat "$CACHE.deps" 2>/dev/null)" = "$deps_sum" ]; then
  echo "make-base-image: importing $CACHE as $IMAGE"
  import_image <"$CACHE"
  exit 0
fi

# Build on the same file system as apt's cache so its .deb files can be
# hard-linked in instead of downloaded again.
rootfs=$(mktemp -d /var/tmp/iomodels-rootfs.XXXXXX)
cleanup() {
  # A chroot'ed apt may have left mounts behind if it was interrupted.
  for m in proc dev/pts; do mountpoint -q "$rootfs/$m" && umount -l "$rootfs/$m"; done
  rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

echo "make-base-image: debootstrap $SUITE from $MIRROR into $rootfs"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$rootfs.log" 2>&1 ||
  { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"

# The same suites as a stock Debian 12, so package versions match the host's.
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb ${MIRROR%/debian}/debian-security $SUITE-security main
EOF
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
cp -l /var/cache/apt/archives/*.deb "$rootfs/var/cache/apt/archives/" 2>/dev/null || true

# install-deps.sh is the one list of what the project needs; it runs as root
# in the chroot and installs everything missing.
cp "$repo/scripts/install-deps.sh" "$rootfs/tmp/install-deps.sh"
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  bash /tmp/install-deps.sh
umount "$rootfs/proc"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs/tmp/install-deps.sh"
: >"$rootfs/etc/resolv.conf"   # Docker writes its own at run time

echo "make-base-image: importing as $IMAGE (root file system kept in $CACHE)"
mkdir -p "$(dirname "$CACHE")"
tar -C "$rootfs" --numeric-owner -cf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
echo "$deps_sum" >"$CACHE.deps"
import_image <"$CACHE"
