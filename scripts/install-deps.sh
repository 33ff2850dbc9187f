#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Install the Debian 12 packages that building, testing and the nested Xen
# test host need.  Idempotent: it does nothing when everything is present.
# Usage: scripts/install-deps.sh [--check]
#   --check   only report what is missing; exit 1 if anything is.
set -eu

PKGS="
build-essential pkg-config
libxen-dev libyajl-dev zlib1g-dev libssl-dev libzstd-dev liblz4-dev
libxxhash-dev libcmocka-dev libnbd-dev libcurl4-openssl-dev
etcd-server etcd-client
clang libclang-rt-14-dev
qemu-utils qemu-system-x86 qemu-system-common
debootstrap cpio busybox-static zstd lz4 socat gzip xz-utils
debhelper lintian
iproute2 openssl python3 ca-certificates bash-completion systemd
pandoc man-db groff-base
"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing="$missing $p"
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
if [ "${1:-}" = --check ]; then
    echo "install-deps: missing:$missing"
    exit 1
fi

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
echo "install-deps: done"
