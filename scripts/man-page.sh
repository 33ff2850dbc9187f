#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Build one man page from its Markdown source in docs/man/ with pandoc.
#
#   scripts/man-page.sh SOURCE.md OUT VERSION [PROGRAM --man]
#
# With a PROGRAM, its output (the sections its own tables give: the
# commands and their options, as each --help prints them) takes the
# place of the line "<!-- --man -->" of SOURCE, which must have it.
# In the page, every "-" of the text is "\-": options neither break at a
# line's end nor turn into hyphens.
set -eu

if [ $# -lt 3 ]; then
    echo "usage: $0 SOURCE.md OUT VERSION [PROGRAM --man]" >&2
    exit 2
fi
src=$1 out=$2 version=$3
shift 3
if ! command -v pandoc > /dev/null; then
    echo "$0: pandoc is missing (scripts/install-deps.sh installs it)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ $# -gt 0 ]; then
    "$@" > "$tmp/generated.md"
    if ! grep -qx '<!-- --man -->' "$src"; then
        echo "$0: $src has no line '<!-- --man -->' for $*" >&2
        exit 1
    fi
    sed -e "/^<!-- --man -->\$/{r $tmp/generated.md" -e 'd' -e '}' \
        "$src" > "$tmp/page.md"
else
    cp "$src" "$tmp/page.md"
fi
pandoc -s -f markdown-smart -t man --wrap=none -M hyphenate=false \
    -M adjusting=l -M footer="libxlmig $version" -o "$tmp/page.roff" \
    "$tmp/page.md"
sed -e "/^[.']/!s/-/\\\\-/g" "$tmp/page.roff" > "$tmp/page"
mv "$tmp/page" "$out"
