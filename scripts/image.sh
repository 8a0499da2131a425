#!/usr/bin/env bash
# Build the container image with buildah (Containerfile; docs/deployment.md).
#
#   scripts/image.sh build    the image, from $BASE_IMAGE (default python:3.11-slim, from Docker Hub);
#                             BASE_IMAGE=local builds it on a Debian base made here (below)
#   scripts/image.sh base     the local Debian base only, and print its name
#
# The local base is for machines that reach Debian's package mirror but no image registry: debootstrap
# makes a minimal Debian bookworm (the release python:3.11-slim is built on, with the same Python 3.11)
# with python3 and its venv module, imported into buildah's storage as
# localhost/switchpoint-base:bookworm-<recipe>. It is made once (~40 s) and kept there: later builds
# reuse it until this recipe changes. debootstrap keeps the packages it fetched in
# $SWITCHPOINT_CACHE/debootstrap (default ~/.cache/switchpoint), so remaking the base downloads nothing.
#
# buildah runs the build's steps with --isolation chroot (no user namespaces or container runtime
# needed; root, as CI and the development machines run). Settings: IMAGE (default
# localhost/switchpoint:latest), BASE_IMAGE, DEBIAN_MIRROR (default: the first mirror apt uses here),
# BUILD_CA_BUNDLE (default the system's, /etc/ssl/certs/ca-certificates.crt), STORAGE_DRIVER (buildah's
# own variable: vfs where overlay mounts are refused).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-localhost/switchpoint:latest}
BASE_IMAGE=${BASE_IMAGE:-docker.io/library/python:3.11-slim}
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,ca-certificates
CACHE=${SWITCHPOINT_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/cache}/.cache}/switchpoint}
export BUILDAH_ISOLATION=chroot

need() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || {
    echo "$1 is not installed: run scripts/system-deps.sh (installs buildah and debootstrap)" >&2
    exit 1
  }
}

# The mirror apt uses on this machine (deb822 sources or sources.list), else Debian's own.
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}';
          grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}') |
        grep -v -- '-security' | grep '/debian/*$' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

base_name() {
  local recipe
  recipe=$(printf '%s %s %s' "$SUITE" "$BASE_PACKAGES" "$(sed -n '/^make_base()/,/^}/p' "$0")" | sha256sum | cut -c1-12)
  echo "localhost/switchpoint-base:$SUITE-$recipe"
}

make_base() {
  local name=$1 work
  need debootstrap
  mkdir -p "$CACHE/debootstrap"
  work=$(mktemp -d "$CACHE/base.XXXXXX")
  echo "making the local base image $name with debootstrap from $(debian_mirror)..." >&2
  if ! debootstrap --variant=minbase --include="$BASE_PACKAGES" --cache-dir="$CACHE/debootstrap" \
        "$SUITE" "$work/rootfs" "$(debian_mirror)" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    echo "debootstrap failed (log above)" >&2
    rm -rf "$work"
    return 1
  fi
  # No package lists or caches in the image: it installs nothing at run time.
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/var/cache/apt/*.bin \
         "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/log/*.log
  tar -C "$work/rootfs" --numeric-owner -cf "$work/rootfs.tar" .
  printf 'FROM scratch\nADD rootfs.tar /\nENV LANG=C.UTF-8\nCMD ["python3"]\n' > "$work/Containerfile"
  buildah bud --quiet --isolation chroot --format docker -f "$work/Containerfile" -t "$name" "$work" >/dev/null
  rm -rf "$work"
}

base() {
  need buildah
  local name
  name=$(base_name)
  mkdir -p "$CACHE"
  # One maker at a time: a second build waits for the first and then finds the base made.
  exec 9>"$CACHE/base.lock"
  flock 9
  if ! buildah inspect --type image "$name" >/dev/null 2>&1; then
    make_base "$name"
  fi
  flock -u 9
  echo "$name"
}

build() {
  need buildah
  local from=$BASE_IMAGE
  if [ "$from" = local ]; then
    from=$(base)
  fi
  echo "building $IMAGE from $from..." >&2
  # --format docker keeps HEALTHCHECK (the OCI image format has no field for it); --layers reuses the
  # steps whose inputs did not change.
  # pip in the build trusts what this host trusts (a TLS-inspecting proxy's CA, say): a build secret,
  # not kept in the image.
  local ca=${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt} secret=()
  [ -s "$ca" ] && secret=(--secret "id=ca,src=$ca")
  if ! buildah bud --isolation chroot --format docker --layers --build-arg BASE_IMAGE="$from" "${secret[@]}" \
      -f Containerfile -t "$IMAGE" .; then
    [ "$BASE_IMAGE" = local ] || echo "the build failed; if $from cannot be pulled here (no image registry)," \
      "build on a local Debian base instead: BASE_IMAGE=local $0 build (make image BASE_IMAGE=local)" >&2
    return 1
  fi
}

case "${1:-build}" in
  base) base ;;
  build) build ;;
  *) echo "usage: $0 [build|base]" >&2; exit 2 ;;
esac
