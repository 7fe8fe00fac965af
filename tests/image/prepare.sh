#!/usr/bin/env bash
# What `make test-image` needs before pytest, on a Debian machine that reaches Debian's and
# PyPI's package servers but no container registry:
#   1. podman, debootstrap and runc from Debian's packages, installed only when missing;
#   2. a base image to build on: a minimal Debian bookworm with python3 (debootstrap), cached
#      as a tarball under .image-cache/ (gitignored) and imported into podman's store, where
#      it stays between runs. Rebuilt only when the recipe below changes.
# WFSIDECAR_IMAGE_BASE names the image (default localhost/wfsidecar-base:bookworm); a
# machine that can pull python:3.11-slim may set it to that and skip all of this.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=${WFSIDECAR_IMAGE_BASE:-localhost/wfsidecar-base:bookworm}
CACHE=.image-cache
SUITE=bookworm
INCLUDE=python3,python3-venv,ca-certificates
# Slimmed: no package caches or lists, docs, man pages or translations (~130 MB left).
SLIM="var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* usr/share/doc/*
      usr/share/man/* usr/share/info/* usr/share/locale/*"
KEY="debootstrap --variant=minbase --include=$INCLUDE $SUITE; slim $(tr -s ' \n' ' ' <<<"$SLIM")"
TARBALL=$CACHE/debian-py-$SUITE.tar

say() { echo "test-image: $*" >&2; }

missing=()
for pkg in podman debootstrap runc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) != 0 ]]; then
        say "needs ${missing[*]}: run 'apt-get install ${missing[*]}' as root"; exit 1
    fi
    say "installing ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [[ $BASE != localhost/wfsidecar-base:* ]]; then
    exit 0  # someone else's base image: podman build pulls or finds it
fi
have=$(podman image inspect --format '{{index .Labels "wfsidecar.base-recipe"}}' "$BASE" \
       2>/dev/null || true)
if [[ $have == "$KEY" ]]; then
    exit 0
fi

if [[ ! -f $TARBALL || $(cat "$TARBALL.recipe" 2>/dev/null) != "$KEY" ]]; then
    mkdir -p "$CACHE"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    say "debootstrap $SUITE with $INCLUDE (about a minute; cached in $TARBALL)"
    if ! debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" \
            >"$CACHE/debootstrap.log" 2>&1; then
        tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1
    fi
    # shellcheck disable=SC2086 # the patterns are globbed inside the rootfs
    (cd "$rootfs" && rm -rf $SLIM)
    tar -C "$rootfs" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    echo "$KEY" >"$TARBALL.recipe"
    rm -rf "$rootfs"
fi

say "importing $TARBALL as $BASE"
podman rmi "$BASE" >/dev/null 2>&1 || true
podman import --quiet --change "LABEL wfsidecar.base-recipe=\"$KEY\"" "$TARBALL" "$BASE" >/dev/null
