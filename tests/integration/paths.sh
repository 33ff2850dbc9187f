# SPDX-License-Identifier: LGPL-2.1-only
# Sourced first by tests/integration/test-*.sh (bash): where the test,
# the sources and the build are, and the programs under test as
# absolute paths (a test changes directory and starts daemons).
#   here   this folder          src  XLMIG_SRCDIR, else the checkout
#   bld    XLMIG_BUILDDIR, else $src/build
#   XLMIG  XLMIG_BIN, else $bld/san/xlmig
#   XE     XLMIG_XE_BIN, else $bld/san/xlmig-xe
#   XLMIGD XLMIGD_BIN, else $bld/san/xlmigd
here=$(cd "$(dirname "$0")" && pwd)
src=${XLMIG_SRCDIR:-$(cd "$here/../.." && pwd)}
bld=${XLMIG_BUILDDIR:-$src/build}

# PATH made absolute against the directory the test started in.
abs_path() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

XLMIG=$(abs_path "${XLMIG_BIN:-$bld/san/xlmig}")
XE=$(abs_path "${XLMIG_XE_BIN:-$bld/san/xlmig-xe}")
XLMIGD=$(abs_path "${XLMIGD_BIN:-$bld/san/xlmigd}")
