#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# Build the nested Xen test host's boot files, caching the expensive parts.
#
# What it produces (all under $XENHOST_CACHE, default $REPO/.cache/xenhost):
#   debs/           downloaded .debs of the hypervisor and the kernel
#   xen-<ver>       the hypervisor, gunzipped (QEMU -kernel loads it as multiboot)
#   kernel-<kver>/  the kernel .deb extracted with dpkg -x (never installed)
#   rootfs-<hash>/  debootstrap'ed bookworm dom0, upgraded to bookworm-security
#   stage-<hash>/   trimmed rootfs + the kernel modules dom0 needs + the guest
#                   kernel and initramfs (everything that does not change
#                   between runs)
#   out/            this run's files: dom0.cpio (stage + /init + overlay +
#                   test scripts) and image.env (paths for run.sh)
#
# The cached directories are keyed by a hash of what they are built from, so
# changing the package list or a build step rebuilds exactly what depends on
# it.  The overlay and test scripts are applied on every run (seconds).
#
# Usage: build-image.sh [--overlay DIR] [--file SRC=DEST]... [--no-output]
#   --overlay DIR    copied onto dom0's root (e.g. `make install DESTDIR=DIR`)
#   --file SRC=DEST  put SRC at DEST (absolute path) in dom0's root
#   --no-output      only fill the cache, do not assemble out/dom0.cpio
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${XENHOST_CACHE:-$REPO/.cache/xenhost}

# Debian mirrors: the ones this machine's apt already uses.
SOURCES=/etc/apt/sources.list.d/debian.sources
MIRROR=${MIRROR:-$(sed -n 's/^URIs: *//p' "$SOURCES" | grep -v -- -security | head -1)}
SECMIRROR=${SECMIRROR:-$(sed -n 's/^URIs: *//p' "$SOURCES" | grep -- -security | head -1)}
: "${MIRROR:=http://deb.debian.org/debian}"
: "${SECMIRROR:=http://deb.debian.org/debian-security}"

# dom0 packages.  xen-utils must match the hypervisor (both from
# bookworm-security); python3 runs Xen's verify-stream-v2; the lib* packages
# are what the project's binaries link against.
DOM0_PKGS="xen-utils-4.17 xenstore-utils kmod iproute2 busybox procps
qemu-system-xen qemu-system-common qemu-utils socat python3
libyajl2 libssl3 zlib1g libzstd1 liblz4-1 libxxhash0 libnbd0"

# Kernel modules dom0 loads (dependencies are resolved from modules.dep):
# Xen backends and device nodes, virtio-net and e1000 for the link between
# the two hosts, 9p over virtio for the shared directory, loop for images.
DOM0_MODULES="xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs
xen-blkback xen-netback xen-pciback loop tun bridge
virtio_pci virtio_net e1000 e1000e 9p 9pnet_virtio"

log() { printf '[build-image +%ss] %s\n' "$SECONDS" "$*"; }
die() { printf 'build-image: error: %s\n' "$*" >&2; exit 1; }

# hash_of STRING...: short content hash used as a cache key.
hash_of() { printf '%s\n' "$@" | sha256sum | cut -c1-12; }

# ---------------------------------------------------------------- downloads

# fetch_debs: download the hypervisor and kernel .debs (not installed) and
# extract them.  Sets XEN_VER, XEN_BIN, KVER, KDIR.
fetch_debs() {
    XEN_VER=$(apt-cache policy xen-hypervisor-4.17-amd64 |
        awk '/Candidate:/ {print $2}')
    KVER=$(apt-cache depends linux-image-amd64 |
        sed -n 's/.*Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -1)
    [ -n "$XEN_VER" ] && [ "$XEN_VER" != "(none)" ] ||
        die "apt knows no xen-hypervisor-4.17-amd64 (run apt-get update)"
    [ -n "$KVER" ] || die "cannot resolve linux-image-amd64"

    mkdir -p "$CACHE/debs"
    local xdeb kdeb
    xdeb="$CACHE/debs/xen-hypervisor-4.17-amd64_${XEN_VER//:/%3a}_amd64.deb"
    if [ ! -f "$xdeb" ]; then
        log "downloading xen-hypervisor-4.17-amd64 $XEN_VER"
        (cd "$CACHE/debs" &&
         timeout 600 apt-get download -q "xen-hypervisor-4.17-amd64=$XEN_VER")
    fi
    kdeb=$(ls "$CACHE"/debs/linux-image-"${KVER}"_*_amd64.deb 2>/dev/null | head -1 || true)
    if [ -z "$kdeb" ]; then
        log "downloading linux-image-$KVER"
        (cd "$CACHE/debs" && timeout 600 apt-get download -q "linux-image-$KVER")
        kdeb=$(ls "$CACHE"/debs/linux-image-"${KVER}"_*_amd64.deb | head -1)
    fi

    XEN_BIN="$CACHE/xen-$XEN_VER"
    if [ ! -f "$XEN_BIN" ]; then
        local t="$CACHE/tmp-xen"
        rm -rf "$t"; mkdir -p "$t"
        dpkg -x "$xdeb" "$t"
        # A multiboot ELF; QEMU's -kernel does not take it gzipped.
        zcat "$t/boot/xen-4.17-amd64.gz" > "$XEN_BIN.tmp"
        mv "$XEN_BIN.tmp" "$XEN_BIN"
        rm -rf "$t"
    fi

    KDIR="$CACHE/kernel-$KVER"
    if [ ! -f "$KDIR/.done" ]; then
        log "extracting linux-image-$KVER"
        rm -rf "$KDIR"; mkdir -p "$KDIR"
        dpkg -x "$kdeb" "$KDIR"
        touch "$KDIR/.done"
    fi
}

# ---------------------------------------------------------------- rootfs

# build_rootfs DIR: debootstrap a minbase bookworm and upgrade it from
# bookworm-updates and bookworm-security (xen-utils then matches XEN_VER).
build_rootfs() {
    local dir=$1 logf=$CACHE/logs/rootfs.log
    log "debootstrap bookworm -> $dir (log: $logf)"
    rm -rf "$dir"
    timeout 1200 debootstrap --variant=minbase \
        --include="$(echo $DOM0_PKGS | tr ' ' ,)" \
        bookworm "$dir" "$MIRROR" > "$logf" 2>&1 ||
        { tail -n 30 "$logf"; die "debootstrap failed"; }

    cat > "$dir/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECMIRROR bookworm-security main
SRC
    # The mirror may serve snapshots whose Release files have expired.
    cat > "$dir/etc/apt/apt.conf.d/90xenhost" <<'APT'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT
    # Keep package scripts from starting daemons in the chroot.
    printf '#!/bin/sh\nexit 101\n' > "$dir/usr/sbin/policy-rc.d"
    chmod +x "$dir/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$dir/etc/resolv.conf"

    log "upgrading rootfs from bookworm-updates and bookworm-security"
    {
        timeout 600 chroot "$dir" apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive timeout 900 \
            chroot "$dir" apt-get -y -q dist-upgrade
    } >> "$logf" 2>&1 || { tail -n 30 "$logf"; die "rootfs upgrade failed"; }
    chroot "$dir" apt-get clean
    rm -f "$dir/usr/sbin/policy-rc.d"
    touch "$dir/.done"
}

# ---------------------------------------------------------------- guest

# build_guest_initrd OUT: static busybox + xen-blkfront.ko + guest-init
# + the disk writer (guest-writer.c, built static).
build_guest_initrd() {
    local out=$1 g="$CACHE/tmp-guest"
    rm -rf "$g"
    mkdir -p "$g/bin" "$g/proc" "$g/sys" "$g/dev" "$g/tmp"
    cp /bin/busybox "$g/bin/busybox"
    local a
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -s busybox "$g/bin/$a"
    done
    gcc -static -O2 -Wall -Wextra -Werror -o "$g/bin/tickwriter" \
        "$HERE/guest-writer.c" || die "cannot build the guest's tickwriter"
    cp "$HERE/guest-init.sh" "$g/init"
    chmod 755 "$g/init"
    cp "$(find "$KDIR/lib/modules/$KVER" -name xen-blkfront.ko)" "$g/"
    (cd "$g" && find . | cpio -o -H newc --quiet | gzip -9) > "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$g"
}

# ---------------------------------------------------------------- stage

# install_modules ROOT: put DOM0_MODULES and their dependencies into ROOT.
# The .deb ships no modules.dep (its postinst makes it) and this machine may
# have no kmod, so the rootfs's own depmod/modprobe do the resolving.
install_modules() {
    local root=$1 mdir="lib/modules/$KVER" keep f
    rm -rf "$root/lib/modules"
    mkdir -p "$root/lib/modules"
    cp -a "$KDIR/$mdir" "$root/$mdir"
    chroot "$root" depmod -a "$KVER"
    # --show-depends prints "insmod /path" for each module to load,
    # dependencies first; builtin modules print "builtin NAME".
    keep=$(for m in $DOM0_MODULES; do
               chroot "$root" modprobe -S "$KVER" --show-depends "$m"
           done | awk '$1 == "insmod" {print $2}' | sort -u)
    # The shared directory and the link cannot work without these.
    for m in 9p 9pnet_virtio virtio_pci virtio_net xen-blkback; do
        printf '%s\n' "$keep" | grep -q "/$m\.ko" ||
            die "kernel $KVER has no module $m"
    done
    find "$root/$mdir/kernel" -name '*.ko*' | while read -r f; do
        case "$keep" in
            *"${f#"$root"}"*) ;;
            *) rm -f "$f" ;;
        esac
    done
    find "$root/$mdir/kernel" -type d -empty -delete
    chroot "$root" depmod -a "$KVER"
}

# build_stage DIR ROOTFS: trimmed copy of ROOTFS plus modules, kernel and
# guest initramfs.  Nothing here depends on the overlay or the tests.
build_stage() {
    local dir=$1 rootfs=$2
    log "staging $dir"
    rm -rf "$dir"
    cp -a "$rootfs" "$dir"
    rm -f "$dir/.done"
    # Documentation, locales and apt's state are dead weight in a RAM disk.
    rm -rf "$dir"/var/cache/apt/* "$dir"/var/lib/apt/lists/* \
        "$dir"/usr/share/doc "$dir"/usr/share/man "$dir"/usr/share/info \
        "$dir"/usr/share/locale "$dir"/usr/share/i18n
    install_modules "$dir"
    cp "$KDIR/boot/vmlinuz-$KVER" "$dir/boot/vmlinuz"
    build_guest_initrd "$dir/boot/guest-initrd.cpio.gz"
    # Guest consoles go to files that the tests read.
    echo 'XENCONSOLED_ARGS="--log=guest --timestamp=guest --log-dir=/var/log/xen/console"' \
        >> "$dir/etc/default/xen"
    # The project installs its libraries under /usr/local/lib.
    echo /usr/local/lib > "$dir/etc/ld.so.conf.d/00-xlmig.conf"
    echo dom0 > "$dir/etc/hostname"
    touch "$dir/.done"
}

# ---------------------------------------------------------------- per run

# pool_tls DIR: throw-away TLS material for the xlmigd pools of the test
# hosts (tests/lib.sh, "pool"), made afresh for each run (well under a
# second), valid 2 days.  Three CAs, one per pool: "pool" (both hosts) and
# "solo1", "solo2" (host 1's and host 2's one-host pools).  Each signs a
# certificate for each host, PREFIX-hN.pem/.key, with CN hN and the SANs
# DNS:hN and IP:10.77.0.N (NBD clients check the address they dial); a
# host's certificate of the other host's one-host pool is the credential
# for migrations into that pool.  Each pool also has a pre-shared key,
# PREFIX.psk (32 bytes, hex).  The CA keys are not kept.
pool_tls() {
    local d=$1 tmp ca n
    tmp=$(mktemp -d)
    mkdir -p "$d"
    (
        umask 077
        cd "$tmp"
        for ca in pool solo1 solo2; do
            openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
                -out "$ca-ca.key" 2>/dev/null
            openssl req -x509 -new -key "$ca-ca.key" -out "$d/$ca-ca.pem" \
                -days 2 -subj "/CN=xenhost $ca CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
            for n in 1 2; do
                openssl genpkey -algorithm EC \
                    -pkeyopt ec_paramgen_curve:P-256 -out "$d/$ca-h$n.key" 2>/dev/null
                openssl req -new -key "$d/$ca-h$n.key" -out "h$n.csr" \
                    -subj "/CN=h$n" 2>/dev/null
                printf 'subjectAltName=DNS:h%s,IP:10.77.0.%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' \
                    "$n" "$n" > "h$n.ext"
                openssl x509 -req -in "h$n.csr" -CA "$d/$ca-ca.pem" \
                    -CAkey "$ca-ca.key" -CAcreateserial -out "$d/$ca-h$n.pem" \
                    -days 2 -extfile "h$n.ext" 2>/dev/null
            done
            openssl rand -hex 32 > "$d/$ca.psk"
        done
    ) || die "making the pools' TLS material failed"
    rm -rf "$tmp" "$d"/*.srl
    for n in 1 2; do
        openssl verify -CAfile "$d/pool-ca.pem" "$d/pool-h$n.pem" >/dev/null ||
            die "pool_tls: pool-h$n.pem does not verify"
    done
}

# assemble OUTDIR STAGE: stage + /init + overlay + files -> OUTDIR/dom0.cpio
assemble() {
    local out=$1 stage=$2 root=$1/root spec src dest
    rm -rf "$root"
    mkdir -p "$out"
    # A plain copy (not hard links) so the overlay cannot touch the cache.
    cp -a "$stage" "$root"
    rm -f "$root/.done"
    if [ -n "$OVERLAY" ]; then
        [ -d "$OVERLAY" ] || die "overlay $OVERLAY is not a directory"
        log "applying overlay $OVERLAY"
        cp -a --remove-destination "$OVERLAY/." "$root/"
    fi
    pool_tls "$root/etc/xlmig/tls"
    cp "$HERE/dom0-init.sh" "$root/init"
    chmod 755 "$root/init"
    mkdir -p "$root/xenhost"
    # lib.sh and the test scripts, which may source one another.
    cp "$HERE"/tests/*.sh "$root/xenhost/"
    for spec in "${FILES[@]}"; do
        src=${spec%%=*}; dest=${spec#*=}
        [ -f "$src" ] || die "--file: no such file: $src"
        mkdir -p "$root/$(dirname "$dest")"
        cp "$src" "$root/$dest"
        chmod 755 "$root/$dest"
    done
    chroot "$root" ldconfig
    # Uncompressed: decompressing 200+ MB under TCG costs more than loading.
    (cd "$root" && find . | cpio -o -H newc --quiet) > "$out/dom0.cpio.tmp"
    mv "$out/dom0.cpio.tmp" "$out/dom0.cpio"
    rm -rf "$root"
    cat > "$out/image.env" <<ENV
XEN_BIN=$XEN_BIN
XEN_VER=$XEN_VER
KVER=$KVER
DOM0_KERNEL=$KDIR/boot/vmlinuz-$KVER
DOM0_INITRD=$out/dom0.cpio
ENV
    log "dom0 initramfs: $(du -h "$out/dom0.cpio" | cut -f1)"
}

# ---------------------------------------------------------------- main

OVERLAY=""
FILES=()
OUTPUT=1
while [ $# -gt 0 ]; do
    case $1 in
        --overlay) OVERLAY=$2; shift 2 ;;
        --file) FILES+=("$2"); shift 2 ;;
        --no-output) OUTPUT=0; shift ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"

mkdir -p "$CACHE/logs"
"$REPO/scripts/install-deps.sh" >/dev/null
fetch_debs
log "xen $XEN_VER, kernel $KVER"

# The rootfs key covers its inputs: packages, mirrors and the build steps.
ROOTFS_KEY=$(hash_of "$DOM0_PKGS" "$MIRROR" "$SECMIRROR" \
    "$(declare -f build_rootfs)")
ROOTFS="$CACHE/rootfs-$ROOTFS_KEY"
[ -f "$ROOTFS/.done" ] || build_rootfs "$ROOTFS"

# The tools must be the hypervisor's version, or nothing works.
TOOLS_VER=$(chroot "$ROOTFS" dpkg-query -W -f='${Version}' xen-utils-4.17)
[ "$TOOLS_VER" = "$XEN_VER" ] ||
    die "xen-utils-4.17 $TOOLS_VER in rootfs != hypervisor $XEN_VER"

STAGE_KEY=$(hash_of "$ROOTFS_KEY" "$KVER" "$DOM0_MODULES" \
    "$(declare -f build_stage install_modules build_guest_initrd)" \
    "$(cat "$HERE/guest-init.sh" "$HERE/guest-writer.c")")
STAGE="$CACHE/stage-$STAGE_KEY"
[ -f "$STAGE/.done" ] || build_stage "$STAGE" "$ROOTFS"

# Drop stale cache generations so the folder does not grow without bound.
for d in "$CACHE"/rootfs-* "$CACHE"/stage-*; do
    [ -d "$d" ] || continue
    [ "$d" = "$ROOTFS" ] || [ "$d" = "$STAGE" ] || rm -rf "$d"
done

[ "$OUTPUT" = 1 ] && assemble "$CACHE/out" "$STAGE"
log "done"
