#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# docs/cli.md, the table of every option of xlmig, xlmig-xe and xlmigd,
# against the programs: every option or key that `--complete` offers for
# each command of xlmig and xlmig-xe, and every option of xlmigd's
# --help, is on the page in backquotes (`--codec`, `params=`, `vdi:`);
# and every `--option` on the page is one a program takes, or one the
# page's section "Hidden" lists, which must then be in a long-option
# table of tools/ or xe-plugin/ (a renamed option is noticed both ways).
# Ends with "integration-cli-doc: N passed, N failed".
#
# Environment: XLMIG_BIN, XLMIG_XE_BIN, XLMIGD_BIN (default
# build/san/...), XLMIG_BUILDDIR, XLMIG_SRCDIR.
set -u
export LC_ALL=C

. "$(dirname "$0")/paths.sh"
DOC=$src/docs/cli.md

d=$(mktemp -d /tmp/xlmig-cli-doc.XXXXXX)
LABEL=integration-cli-doc
. "$here/lib.sh"

for b in "$XLMIG" "$XE" "$XLMIGD"; do
    if [ ! -x "$b" ]; then
        not_ok "missing $b: run make check's build first"
        finish
    fi
done
if [ ! -s "$DOC" ]; then
    not_ok "missing $DOC"
    finish
fi

# The page's backquoted spans, one a line (a span does not cross lines).
grep -o '`[^`]*`' "$DOC" > "$d/spans"
# Every word of the page's spans, one a line: a span's words are split at
# blanks, commas, slashes and bars, so `--tls-cert F`, `--tls-key F`
# gives --tls-cert and --tls-key, `vdi:VDI=SR` gives vdi:VDI=SR.
tr -d '`' < "$d/spans" | tr ' ,/|\\()' '\n\n\n\n\n\n\n' | grep -v '^$' \
    > "$d/words"

# on_page WORD: WORD ("--codec", "params", "vdi:") begins a word of a
# span, followed by nothing, "=", or (for a WORD ending in ":") anything.
on_page() {
    awk -v w="$1" '
        (w ~ /:$/ && index($0, w) == 1) || $0 == w ||
        index($0, w "=") == 1 { found = 1; exit }
        END { exit !found }' "$d/words"
}

# ---- each program's options or keys are on the page --------------------
: > "$d/known"
for p in "xlmig $XLMIG options" "xlmig-xe $XE keys"; do
    read -r name bin what <<< "$p"
    : > "$d/$name.lost"
    if ! "$bin" --complete commands > "$d/$name.commands" 2> "$d/$name.err" ||
       [ ! -s "$d/$name.commands" ]; then
        not_ok "$name --complete commands failed" "$d/$name.err"
        continue
    fi
    n=0
    while read -r c; do
        if ! "$bin" --complete $what "$c" > "$d/$name.$c" 2> "$d/$name.err"
        then
            echo "$c: --complete $what $c failed" >> "$d/$name.lost"
            continue
        fi
        while read -r w; do
            w=${w%=}
            [ -n "$w" ] || continue
            case $w in --*) echo "$w" >> "$d/known" ;; esac
            n=$((n + 1))
            on_page "$w" || {
                echo "$c: $w" >> "$d/$name.lost"
                not_ok "$name $c: $w is not in docs/cli.md"
            }
        done < "$d/$name.$c"
    done < "$d/$name.commands"
    nc=$(wc -l < "$d/$name.commands")
    [ ! -s "$d/$name.lost" ] &&
        ok "$name: every ${what%s} of its $nc commands ($n) is in docs/cli.md"
    # What the program's own --help names (--version, --help, --complete).
    "$bin" --help 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' >> "$d/known"
done

# xlmigd has no --complete: its options are its --help's "  --NAME" lines.
if "$XLMIGD" --help > "$d/xlmigd.help" 2>&1; then
    grep -oE -- '^  --[a-z][a-z0-9-]*' "$d/xlmigd.help" | sed 's/^ *//' \
        > "$d/xlmigd.options"
    grep -oE -- '--[a-z][a-z0-9-]*' "$d/xlmigd.help" >> "$d/known"
    : > "$d/xlmigd.lost"
    while read -r w; do
        on_page "$w" || {
            echo "$w" >> "$d/xlmigd.lost"
            not_ok "xlmigd: $w is not in docs/cli.md"
        }
    done < "$d/xlmigd.options"
    if [ ! -s "$d/xlmigd.options" ]; then
        not_ok "xlmigd --help lists no option" "$d/xlmigd.help"
    elif [ ! -s "$d/xlmigd.lost" ]; then
        n=$(wc -l < "$d/xlmigd.options")
        ok "xlmigd: every option of its --help ($n) is in docs/cli.md"
    fi
else
    not_ok "xlmigd --help failed" "$d/xlmigd.help"
fi

# ---- the page's hidden spellings are real ones -------------------------
# The options of the first column of section "## Hidden"'s table: taken
# but offered by no --help or --complete.  Each must be in an option
# table ({ "NAME", ...) or compared as "--NAME" in tools/*.c or
# xe-plugin/*.c.
awk -F '|' '/^## / { on = ($0 == "## Hidden"); next }
           on && /^\|/ { print $2 }' "$DOC" | grep -o '`[^`]*`' |
    grep -oE -- '(^|[^a-z0-9-])--[a-z][a-z0-9-]*' | sed 's/^[^-]*//' |
    sort -u > "$d/hidden"
: > "$d/hidden.lost"
while read -r h; do
    grep -qE -- "\\{ *\"${h#--}\"|\"$h\"" "$src"/tools/*.c \
        "$src"/xe-plugin/*.c || echo "$h" >> "$d/hidden.lost"
done < "$d/hidden"
if [ ! -s "$d/hidden" ]; then
    not_ok "docs/cli.md has no section \"## Hidden\" listing options"
elif [ ! -s "$d/hidden.lost" ]; then
    n=$(wc -l < "$d/hidden")
    ok "docs/cli.md: its $n hidden options are in tools/ or xe-plugin/"
else
    not_ok "docs/cli.md: hidden options found in no option table" \
        "$d/hidden.lost"
fi

# ---- every --option on the page is one a program takes ------------------
sort -u "$d/known" "$d/hidden" > "$d/allowed"
tr -d '`' < "$d/spans" | grep -oE -- '(^|[^a-z0-9-])--[a-z][a-z0-9-]*' |
    sed 's/^[^-]*//' | sort -u > "$d/doc.options"
comm -23 "$d/doc.options" "$d/allowed" > "$d/doc.stale"
if [ ! -s "$d/doc.options" ]; then
    not_ok "docs/cli.md names no --option in backquotes"
elif [ ! -s "$d/doc.stale" ]; then
    n=$(wc -l < "$d/doc.options")
    ok "docs/cli.md: each of its $n --options is taken by a program"
else
    while read -r o; do
        not_ok "docs/cli.md: $o is taken by no program (renamed? or list it under \"## Hidden\")"
    done < "$d/doc.stale"
fi

finish
