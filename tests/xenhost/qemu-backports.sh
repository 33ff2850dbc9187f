#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# qemu-backports.sh CACHE: Debian 12 backports' qemu-system-x86 (and its
# data), unpacked into CACHE/qemu-bpo-VERSION without installing it, so
# the nested hosts can run on a newer TCG than bookworm's 7.2 while the
# machine's QEMU (the block layer the tests drive) stays as it is.
# Prints the unpacked root.  XENHOST_QEMU=backports tests/xenhost/run.sh
# uses it.
set -euo pipefail
cache=$1
mirror=${XENHOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache"
idx=$cache/bookworm-backports.Packages
if [ ! -s "$idx" ] || [ -n "$(find "$idx" -mtime +7)" ]; then
    curl -fsS --max-time 120 "$mirror/dists/bookworm-backports/main/binary-amd64/Packages.xz" |
        xz -d > "$idx.tmp" || { echo "qemu-backports: cannot read bookworm-backports' index from $mirror" >&2; exit 1; }
    mv "$idx.tmp" "$idx"
fi
field() {    # PACKAGE FIELD
    awk -v p="$1" -v f="$2:" '$1 == "Package:" { on = ($2 == p) }
        on && $1 == f { print $2; exit }' "$idx"
}
ver=$(field qemu-system-x86 Version)
[ -n "$ver" ] || { echo "qemu-backports: no qemu-system-x86 in bookworm-backports" >&2; exit 1; }
root=$cache/qemu-bpo-${ver//[^0-9A-Za-z.+-]/_}
if [ ! -x "$root/usr/bin/qemu-system-x86_64" ]; then
    rm -rf "$root.tmp"
    mkdir -p "$root.tmp"
    for p in qemu-system-x86 qemu-system-data; do
        f=$(field "$p" Filename)
        sum=$(field "$p" SHA256)
        curl -fsS --max-time 600 -o "$root.tmp/$p.deb" "$mirror/$f" ||
            { echo "qemu-backports: cannot fetch $mirror/$f" >&2; exit 1; }
        echo "$sum  $root.tmp/$p.deb" | sha256sum -c --quiet ||
            { echo "qemu-backports: $p.deb does not match the index's SHA256" >&2; exit 1; }
        dpkg-deb -x "$root.tmp/$p.deb" "$root.tmp"
        rm -f "$root.tmp/$p.deb"
    done
    missing=$(ldd "$root.tmp/usr/bin/qemu-system-x86_64" | awk '/not found/ { print $1 }')
    [ -z "$missing" ] || { echo "qemu-backports: QEMU $ver needs libraries this machine lacks: $missing" >&2; exit 1; }
    rm -rf "$root"
    mv "$root.tmp" "$root"
fi
echo "$root"
