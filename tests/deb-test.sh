#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# The Debian packages (make deb) in a clean Debian 12: lintian finds no
# error in them; apt installs them into a copy of a minimal bookworm root
# (debootstrap --variant=minbase, made once and kept in .cache/deb-root);
# there the tools run (xlmig --version, xlmigd --help, xlmig-xe --help),
# the files are where the packages say, the units are installed but not
# enabled; systemd-analyze verify on this host checks the units as
# installed there; apt purges the packages again.
# Needs root (chroot, mounts) and deb.debian.org (debootstrap, apt).
# Usage: tests/deb-test.sh DIR-OF-THE-DEBS
# Prints "check-deb: N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
debs=$(cd "${1:-$top/build/deb}" && pwd)
cache=$top/.cache
pristine=$cache/deb-root
archives=$cache/deb-apt-archives      # downloaded packages, kept
mirror=http://deb.debian.org/debian
passed=0
failed=0
ok() { echo "check-deb: ok: $1"; passed=$((passed + 1)); }
bad() { echo "check-deb: FAILED: $1"; failed=$((failed + 1)); }
finish() {
    echo "check-deb: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

[ "$(id -u)" -eq 0 ] || { bad "needs root (chroot, mount)"; finish; }
set -- "$debs"/libxlmig0_*.deb "$debs"/libxlmig-dev_*.deb "$debs"/xlmig_*.deb
for f; do
    [ -f "$f" ] || { bad "no $(basename "$f") (make deb)"; finish; }
done

# ---- lintian --------------------------------------------------------------
if command -v lintian > /dev/null; then
    lintian "$@" > "$debs/lintian.log" 2>&1
    if grep -q '^E: ' "$debs/lintian.log"; then
        grep '^E: ' "$debs/lintian.log"; bad "lintian: errors"
    else
        ok "lintian: no errors ($(grep -c '^W: ' "$debs/lintian.log") warning(s), $debs/lintian.log)"
    fi
else
    bad "lintian missing (scripts/install-deps.sh installs it)"
fi

# ---- the clean root ---------------------------------------------------------
# Made once; .ready marks it whole (an interrupted debootstrap is redone).
if ! [ -e "$pristine/.ready" ]; then
    rm -rf "$pristine" "$pristine.tmp"
    mkdir -p "$cache"
    echo "check-deb: debootstrap --variant=minbase bookworm (once, a few minutes)"
    if debootstrap --variant=minbase bookworm "$pristine.tmp" "$mirror" \
            > "$cache/deb-root.log" 2>&1; then
        # Debian 12 as this host has it: the point releases and security.
        cat > "$pristine.tmp/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
        # Nothing the packages install may start a service in there.
        printf '#!/bin/sh\nexit 101\n' > "$pristine.tmp/usr/sbin/policy-rc.d"
        chmod 755 "$pristine.tmp/usr/sbin/policy-rc.d"
        mv "$pristine.tmp" "$pristine" && touch "$pristine/.ready"
    else
        tail -n 20 "$cache/deb-root.log"
        bad "debootstrap bookworm (log: $cache/deb-root.log)"
        finish
    fi
fi
ok "a minimal Debian 12 root ($pristine)"

# Each run installs into a copy; the pristine root stays clean.
root=$(mktemp -d "$cache/deb-run.XXXXXX")
mounts=()
cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        umount -l "${mounts[i]}" 2>/dev/null
    done
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mnt() {   # mount ARGS... TARGET
    mount "$@" && mounts+=("${!#}")
}

cp -a "$pristine/." "$root/"
mkdir -p "$archives/partial" "$root/tmp/debs"
cp "$@" "$root/tmp/debs/"
if ! mnt -t proc proc "$root/proc" || ! mnt --bind /dev "$root/dev" ||
   ! mnt --bind "$archives" "$root/var/cache/apt/archives"; then
    bad "mount /proc, /dev, the apt archives in the root"; finish
fi
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

# ---- install --------------------------------------------------------------
names=$(for f; do basename "$f"; done)
if in_root apt-get update -q > "$root/apt.log" 2>&1 &&
   in_root sh -c "cd /tmp/debs && apt-get install -y -q \
        --no-install-recommends $(echo ./$names | sed 's| | ./|g')" \
        >> "$root/apt.log" 2>&1; then
    ok "apt-get install ./libxlmig0 ./libxlmig-dev ./xlmig (and their dependencies)"
else
    tail -n 25 "$root/apt.log"; bad "apt-get install of the packages"; finish
fi
st=$(in_root dpkg-query -W -f '${Package}:${db:Status-Status}\n' \
        libxlmig0 libxlmig-dev xlmig 2>&1 | sort | tr '\n' ' ')
[ "$st" = "libxlmig-dev:installed libxlmig0:installed xlmig:installed " ] &&
    ok "dpkg: the three installed" || bad "dpkg status: $st"

# What xlmig recommends is there to have.
if in_root apt-get install -s -q --no-install-recommends xen-utils-4.17 \
        > "$root/recommends.log" 2>&1; then
    ok "the Recommends (xen-utils-4.17) can be installed"
else
    tail -n 5 "$root/recommends.log"; bad "xen-utils-4.17 cannot be installed"
fi

# ---- the tools run there ------------------------------------------------------
v=$(sed -n 's/^#define LIBXLMIG_VERSION_STRING "\(.*\)"/\1/p' \
        "$top/libxlmig/libxlmig.h")
out=$(in_root xlmig --version 2>&1)
case $out in
"xlmig $v (built with libxl "*")") ok "xlmig --version: $out" ;;
*) bad "xlmig --version: '$out'" ;;
esac
out=$(in_root xlmigd --help 2>&1)
[ $? -eq 0 ] && [ "${out#Usage: xlmigd}" != "$out" ] &&
    ok "xlmigd --help" || bad "xlmigd --help: '$(echo "$out" | head -n 3)'"
out=$(in_root xlmig-xe --help 2>&1)
[ $? -eq 0 ] && [ -n "$out" ] && ok "xlmig-xe --help" ||
    bad "xlmig-xe --help: '$(echo "$out" | head -n 3)'"
lib=$(in_root ldconfig -p | grep -c 'libxlmig\.so\.0 ')
[ "$lib" -ge 1 ] && ok "ldconfig knows libxlmig.so.0" ||
    bad "libxlmig.so.0 not in ldconfig's cache"
# libxlmig.pc's Requires.private are the -dev packages libxlmig-dev
# depends on: pkg-config finds them all.
if in_root apt-get install -y -q --no-install-recommends pkg-config \
        >> "$root/apt.log" 2>&1 &&
   out=$(in_root pkg-config --modversion libxlmig 2>&1) &&
   [ "$out" = "$v" ] &&
   flags=$(in_root pkg-config --static --cflags --libs libxlmig 2>&1); then
    ok "pkg-config libxlmig: $out; --static --cflags --libs resolve ($(echo $flags | wc -w) flags)"
else
    bad "pkg-config libxlmig: '$out' '${flags:-}'"
fi

# ---- where the files are ---------------------------------------------------------
ma=$(in_root dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
     echo x86_64-linux-gnu)
for f in usr/bin/xlmig usr/bin/xlmig-xe usr/bin/xlmigd \
         lib/systemd/system/xlmigd.service \
         lib/systemd/system/xlmig-channel-listen@.service \
         usr/share/bash-completion/completions/xlmig \
         usr/share/bash-completion/completions/xlmig-xe \
         usr/include/libxlmig.h "usr/lib/$ma/libxlmig.so.0" \
         "usr/lib/$ma/libxlmig.so" "usr/lib/$ma/libxlmig.a" \
         "usr/lib/$ma/pkgconfig/libxlmig.pc" \
         usr/share/doc/xlmig/copyright usr/share/doc/xlmig/xlmigd.md; do
    [ -e "$root/$f" ] || missing="${missing:-} /$f"
done
[ -z "${missing:-}" ] && ok "the files of the three packages are in place" ||
    bad "missing:$missing"
own=$(in_root dpkg -S /usr/bin/xlmigd /usr/include/libxlmig.h \
        "/usr/lib/$ma/libxlmig.so.0" 2>&1 | cut -d: -f1 | tr '\n' ' ')
[ "$own" = "xlmig libxlmig-dev libxlmig0 " ] &&
    ok "xlmigd in xlmig, the header in libxlmig-dev, the library in libxlmig0" ||
    bad "owners: $own"
if [ -e "$root/etc/xlmig/xlmigd.conf" ]; then
    grep -qx /etc/xlmig/xlmigd.conf "$root/var/lib/dpkg/info/xlmig.conffiles" &&
        ok "/etc/xlmig/xlmigd.conf is a conffile of xlmig" ||
        bad "/etc/xlmig/xlmigd.conf is not a conffile"
fi
if ls "$root"/etc/systemd/system/*.wants/xlmig* > /dev/null 2>&1; then
    bad "a unit was enabled at install"
else
    ok "the units are installed, not enabled"
fi

# ---- the units, as installed there -----------------------------------------------
"$top/tests/verify-units.sh" "$root" lib/systemd/system "$root/verify"
case $? in
0) ok "systemd-analyze verify of the installed units" ;;
2) bad "systemd-analyze missing on this host" ;;
*) bad "systemd-analyze verify of the installed units" ;;
esac

# ---- and away again --------------------------------------------------------------
if in_root apt-get purge -y -q xlmig libxlmig-dev libxlmig0 \
        > "$root/purge.log" 2>&1 &&
   ! [ -e "$root/usr/bin/xlmigd" ] && ! [ -e "$root/usr/include/libxlmig.h" ]; then
    ok "apt-get purge removes them"
else
    tail -n 10 "$root/purge.log"; bad "apt-get purge"
fi

finish
