#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# The man pages (docs/man/*.md, built by `make man` into build/man/):
# each renders with `man --warnings` as Debian's lintian renders it,
# without a warning and within 80 columns; its name line is one whatis
# reads; each page is what its source and the tested program's own
# tables (PROGRAM --man) give now; the COMMANDS of xlmig(1) and
# xlmig-xe(1) are the programs' commands (--complete commands), each with
# every option or key the program offers for it; xlmigd.conf(5) lists
# the keys the configuration parser takes (libxlmig/poolconf.c); and
# --version works on every program.  A missing pandoc, man or groff is a
# failure, not a reason to skip.
# Ends with "integration-man: N passed, N failed".
#
# Environment: XLMIG_BIN, XLMIG_XE_BIN, XLMIGD_BIN (default
# build/san/...), XLMIG_BUILDDIR, XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"
MAN=$bld/man

d=$(mktemp -d /tmp/xlmig-man.XXXXXX)
LABEL=integration-man
. "$here/lib.sh"

missing=
for t in pandoc man groff lexgrog; do
    command -v $t > /dev/null || missing="$missing $t"
done
if [ -n "$missing" ]; then
    not_ok "missing:$missing (scripts/install-deps.sh installs them)"
    finish
fi
for b in "$XLMIG" "$XE" "$XLMIGD"; do
    if [ ! -x "$b" ]; then
        not_ok "missing $b: run make check's build first"
        finish
    fi
done
version=$(sed -n 's/^#define LIBXLMIG_VERSION_STRING "\(.*\)"$/\1/p' \
    "$src/libxlmig/libxlmig.h")

# ---- --version ---------------------------------------------------------
for p in "xlmig $XLMIG" "xlmig-xe $XE" "xlmigd $XLMIGD"; do
    name=${p%% *} bin=${p#* }
    out=$("$bin" --version 2> "$d/version.err")
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$d/version.err" ] &&
       [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
       [[ $out == "$name $version" || $out == "$name $version "* ]]; then
        ok "$name --version: $out"
    else
        not_ok "$name --version: exit $rc, '$out', want '$name $version'" \
            "$d/version.err"
    fi
done

# ---- each page ---------------------------------------------------------
# page PROGRAM (none for a page without generated part)
pages="xlmig.1:$XLMIG xlmig-xe.1:$XE xlmigd.8:$XLMIGD xlmigd.conf.5:"
for pp in $pages; do
    page=${pp%%:*} bin=${pp#*:}
    f=$MAN/$page
    if [ ! -s "$f" ]; then
        not_ok "$page: $f is missing (make man)"
        continue
    fi
    LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
        man --warnings -E UTF-8 -l "$f" > "$d/$page.txt" 2> "$d/$page.err"
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$d/$page.err" ] && [ -s "$d/$page.txt" ]; then
        ok "$page renders with man --warnings, no warning"
    else
        not_ok "$page: man --warnings exit $rc, or warnings" "$d/$page.err"
    fi
    awk 'length > 80 { print FILENAME ":" FNR ": " $0 }' "$d/$page.txt" \
        > "$d/$page.wide"
    [ ! -s "$d/$page.wide" ] && ok "$page: every line within 80 columns" \
        || not_ok "$page: lines wider than 80 columns" "$d/$page.wide"
    if lexgrog "$f" > "$d/$page.whatis" 2>&1 &&
       grep -q ": \"${page%.*} - " "$d/$page.whatis"; then
        ok "$page: whatis reads its NAME"
    else
        not_ok "$page: lexgrog cannot read its NAME" "$d/$page.whatis"
    fi
    if "$src/scripts/man-page.sh" "$src/docs/man/$page.md" "$d/$page" \
            "$version" ${bin:+"$bin" --man} 2> "$d/$page.gen" &&
       cmp -s "$d/$page" "$f"; then
        from=docs/man/$page.md${bin:+ and ${bin##*/} --man}
        ok "$page is built from $from as they are now"
    else
        diff "$f" "$d/$page" >> "$d/$page.gen" 2>&1
        not_ok "$page is not what its source and program give now" \
            "$d/$page.gen"
    fi
done

# ---- the commands: the program's, with their options or keys ------------
# The subsection headings of section COMMANDS of a rendered page.
commands_of() {
    awk '/^[A-Z]/ { in_c = ($0 == "COMMANDS"); next }
         in_c && /^   [^ ]/ { sub(/^ +/, ""); print }' "$1"
}
# The lines of command $2's subsection of rendered page $1.
section_of() {
    awk -v c="$2" '/^[A-Z]/ { in_c = ($0 == "COMMANDS"); next }
         in_c && /^   [^ ]/ { name = $0; sub(/^ +/, "", name); next }
         in_c && name == c' "$1"
}

for p in "xlmig.1 $XLMIG options" "xlmig-xe.1 $XE keys"; do
    read -r page bin what <<< "$p"
    [ -s "$d/$page.txt" ] || continue
    "$bin" --complete commands > "$d/$page.want" 2>&1
    commands_of "$d/$page.txt" > "$d/$page.got"
    if [ -s "$d/$page.got" ] && cmp -s "$d/$page.want" "$d/$page.got"; then
        n=$(wc -l < "$d/$page.got")
        ok "$page: COMMANDS are ${bin##*/} --complete commands ($n, in order)"
    else
        diff "$d/$page.want" "$d/$page.got" > "$d/$page.diff"
        not_ok "$page: COMMANDS differ from ${bin##*/} --complete commands" \
            "$d/$page.diff"
    fi
    : > "$d/$page.lost"
    while read -r c; do
        section_of "$d/$page.txt" "$c" > "$d/section"
        "$bin" --complete $what "$c" | while read -r w; do
            case $w in params=|--minimal|--help) continue ;; esac
            grep -qF -- "${w%=}" "$d/section" ||
                echo "$c: $w" >> "$d/$page.lost"
        done
    done < "$d/$page.want"
    [ ! -s "$d/$page.lost" ] \
        && ok "$page: every command's $what are in its section" \
        || not_ok "$page: $what missing from their command's section" \
               "$d/$page.lost"
done

# ---- xlmigd.conf(5): the parser's keys ----------------------------------
awk '/pool_keys\[K_COUNT\] = \{/ { on = 1 } on { print } on && /\};/ { exit }' \
    "$src/libxlmig/poolconf.c" | grep -o '"[a-z-]*"' | tr -d '"' | sort \
    > "$d/keys.want"
awk '/^[A-Z]/ { on = ($0 == "KEYS"); next }
     on && /^       [a-z-]+ = / { print $1 }' "$d/xlmigd.conf.5.txt" \
    2> /dev/null | sort > "$d/keys.got"
if [ -s "$d/keys.want" ] && cmp -s "$d/keys.want" "$d/keys.got"; then
    ok "xlmigd.conf.5: KEYS are the parser's ($(wc -l < "$d/keys.got"))"
else
    diff "$d/keys.want" "$d/keys.got" > "$d/keys.diff"
    not_ok "xlmigd.conf.5: KEYS differ from libxlmig/poolconf.c's" \
        "$d/keys.diff"
fi

finish
