#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# `make install` into a scratch DESTDIR, then build and run a program
# against the installed header, shared library and pkg-config file, and
# check that only the public API (libxlmig_*) is exported; the bash
# completion loads from where it is installed, the man pages are in
# MANDIR, and `make uninstall` removes them.
# Prints "install: N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { echo "install: ok: $1"; passed=$((passed + 1)); }
bad() { echo "install: FAILED: $1"; failed=$((failed + 1)); }

if make -C "$top" --no-print-directory -s install DESTDIR="$tmp/root" \
        PREFIX=/usr >"$tmp/install.log" 2>&1; then
    ok "make install DESTDIR PREFIX=/usr"
else
    cat "$tmp/install.log"; bad "make install"
fi

# A package build runs make and make install and may not install
# packages: neither reaches scripts/install-deps.sh (the deps target).
if make -C "$top" --no-print-directory -n all install DESTDIR="$tmp/n" \
        PREFIX=/usr > "$tmp/dry.log" 2>&1 &&
   ! grep -q 'install-deps' "$tmp/dry.log"; then
    ok "make all install: scripts/install-deps.sh not run"
else
    bad "make all install would run scripts/install-deps.sh (or fails)"
fi

for f in usr/bin/xlmig usr/bin/xlmig-xe usr/bin/xlmigd \
         usr/include/libxlmig.h usr/lib/libxlmig.a usr/lib/libxlmig.so.0 \
         usr/lib/pkgconfig/libxlmig.pc etc/xlmig/xlmigd.conf \
         usr/share/bash-completion/completions/xlmig \
         usr/share/bash-completion/completions/xlmig-xe \
         usr/share/man/man1/xlmig.1 usr/share/man/man1/xlmig-xe.1 \
         usr/share/man/man5/xlmigd.conf.5 usr/share/man/man8/xlmigd.8; do
    [ -e "$tmp/root/$f" ] && ok "$f installed" || bad "$f missing"
done
cmp -s "$top/etc/xlmigd.conf" "$tmp/root/etc/xlmig/xlmigd.conf" &&
    ok "etc/xlmig/xlmigd.conf is etc/xlmigd.conf" ||
    bad "etc/xlmig/xlmigd.conf differs from etc/xlmigd.conf"
# An existing configuration is the host's: install keeps it, uninstall
# leaves it.
echo "# mine" > "$tmp/root/etc/xlmig/xlmigd.conf"
make -C "$top" --no-print-directory -s install DESTDIR="$tmp/root" \
    PREFIX=/usr > "$tmp/install2.log" 2>&1 &&
    [ "$(cat "$tmp/root/etc/xlmig/xlmigd.conf")" = "# mine" ] &&
    ok "make install again keeps etc/xlmig/xlmigd.conf" ||
    bad "make install again replaced etc/xlmig/xlmigd.conf"
if bash -n "$tmp/root/usr/share/bash-completion/completions/xlmig-xe" &&
   bash -c '. "$1" && complete -p xlmig-xe xlmig' _ \
        "$tmp/root/usr/share/bash-completion/completions/xlmig-xe" \
        > /dev/null 2>&1; then
    ok "the completion file loads and completes xlmig-xe and xlmig"
else
    bad "the installed completion file does not load"
fi

# The systemd units as installed, then systemd-analyze verify of them
# (tests/verify-units.sh).
for u in xlmigd.service xlmig-channel-listen@.service; do
    if grep -q '^ExecStart=/usr/bin/xlmig' \
            "$tmp/root/usr/lib/systemd/system/$u" 2>/dev/null; then
        ok "$u installed, ExecStart= in /usr/bin"
    else
        bad "$u missing or its ExecStart= not in /usr/bin"
    fi
done
"$top/tests/verify-units.sh" "$tmp/root" usr/lib/systemd/system "$tmp/units"
case $? in
0) ok "systemd-analyze verify: xlmigd.service, xlmig-channel-listen@8022.service" ;;
2) bad "systemd-analyze missing (scripts/install-deps.sh installs systemd)" ;;
*) bad "systemd-analyze verify of the units" ;;
esac

cat > "$tmp/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <libxlmig.h>
int main(void)
{
    libxlmig_ctx *ctx = NULL;
    if (libxlmig_ctx_new(NULL, LIBXLMIG_LOG_CRITICAL, &ctx)) return 1;
    libxlmig_ctx_free(ctx);
    printf("%s %s\n", libxlmig_version(),
           libxlmig_strerror_name(LIBXLMIG_ERR_VDI_CBT_ENABLED));
    return 0;
}
C
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_LIBDIR="$tmp/root/usr/lib/pkgconfig:/usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig"
if cc -std=c11 -Wall -Werror -o "$tmp/use" "$tmp/use.c" \
        $(pkg-config --cflags libxlmig) \
        -L"$tmp/root/usr/lib" -lxlmig 2>"$tmp/cc.log"; then
    ok "builds with pkg-config --cflags libxlmig"
else
    cat "$tmp/cc.log"; bad "build against the installed library"
fi
out=$(LD_LIBRARY_PATH="$tmp/root/usr/lib" "$tmp/use" 2>&1)
[ "$out" = "0.1.0 VDI_CBT_ENABLED" ] && ok "runs against libxlmig.so.0" \
    || bad "program output '$out'"

so="$tmp/root/usr/lib/libxlmig.so.0"
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}')
strays=$(printf '%s\n' "$exported" | grep -v '^libxlmig_' || true)
[ -z "$strays" ] && [ -n "$exported" ] && ok "only libxlmig_* exported" \
    || bad "unexpected exports: $strays"
soname=$(readelf -d "$so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libxlmig.so.0 ] && ok "SONAME libxlmig.so.0" \
    || bad "SONAME is '$soname'"

if MANPATH="$tmp/root/usr/share/man" man -w xlmigd.conf 2>/dev/null |
        grep -qx "$tmp/root/usr/share/man/man5/xlmigd.conf.5"; then
    ok "man finds the installed pages in MANDIR"
else
    bad "man -w xlmigd.conf does not find the installed page"
fi

if make -C "$top" --no-print-directory -s uninstall DESTDIR="$tmp/root" \
        PREFIX=/usr > "$tmp/uninstall.log" 2>&1 &&
   [ ! -e "$tmp/root/usr/bin/xlmigd" ] &&
   [ "$(cat "$tmp/root/etc/xlmig/xlmigd.conf")" = "# mine" ]; then
    ok "make uninstall removes the files, leaves etc/xlmig/xlmigd.conf"
else
    cat "$tmp/uninstall.log"; bad "make uninstall"
fi
! [ -e "$tmp/root/usr/share/bash-completion/completions/xlmig" ] &&
! [ -L "$tmp/root/usr/share/bash-completion/completions/xlmig-xe" ] \
    && ok "make uninstall removes the completion files" \
    || bad "completion files left by make uninstall"
left=$(find "$tmp/root/usr/share/man" -type f 2>/dev/null)
[ -z "$left" ] && ok "make uninstall removes the man pages" \
    || bad "man pages left by make uninstall: $left"

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
