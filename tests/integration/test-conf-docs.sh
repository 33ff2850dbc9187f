#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# The configurations the project shows, checked by the daemon that reads
# them (xlmigd --check-config), so that a doc that drifts from the code
# fails here:
#   every block tagged ```conf in README.md and docs/ (xlmigd.conf(5)'s
#   examples): "FILE: ok", exit status 0, nothing on stderr;
#   etc/xlmigd.conf: as installed refused (no address), its keys
#   uncommented taken, with certificates and with a pre-shared key; it
#   shows every key the loader knows;
#   bad files refused with exit status 2, one line naming the file, the
#   line and the key: unknown key, repeated key, comment-only value,
#   overlong line, NUL byte, missing required key, and more;
#   --check-config in --help, $XLMIG_CONFIG, and nothing started.
# Ends with "integration-conf-docs: N passed, N failed".
#
# Environment: XLMIGD_BIN (default build/san/xlmigd), XLMIG_BUILDDIR,
# XLMIG_SRCDIR.
set -u

. "$(dirname "$0")/paths.sh"

d=$(mktemp -d /tmp/xlmig-conf.XXXXXX)
LABEL=integration-conf-docs
. "$here/lib.sh"

[ -x "$XLMIGD" ] || { echo "missing $XLMIGD: run make first"; failed=1; finish; }

# check FILE: xlmigd --check-config on FILE; RC, OUT (stdout), ERR (stderr).
check() {
    OUT=$(timeout 20 "$XLMIGD" --check-config --config "$1" 2> "$d/err")
    RC=$?
    ERR=$(cat "$d/err")
}

# good FILE WHAT: FILE is taken.
good() {
    check "$1"
    if [ "$RC" = 0 ] && [ "$OUT" = "$1: ok" ] && [ -z "$ERR" ]; then
        ok "$2 taken"
    else
        echo "  rc $RC, stdout '$OUT', stderr '$ERR'"
        not_ok "$2 taken" "$1"
    fi
}

# bad FILE WHAT WHERE WORDS: FILE refused with one line
# "INVALID_VALUE: FILE:WHERE: WORDS..." (WHERE "" for "FILE: WORDS";
# "file" for the reader's "INVALID_VALUE: pool configuration FILE: ...
# WORDS...").
bad() {
    local want words=$4
    case $3 in
    "") want="INVALID_VALUE: $1: $4" ;;
    file) want="INVALID_VALUE: pool configuration $1: " ;;
    *) want="INVALID_VALUE: $1:$3: $4" ;;
    esac
    check "$1"
    if [ "$RC" = 2 ] && [ -z "$OUT" ] && [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] &&
       [[ "$ERR" == *"$want"* ]] && [[ "$ERR" == *"$words"* ]]; then
        ok "$2 refused: ${ERR#*INVALID_VALUE: }"
    else
        echo "  rc $RC, stdout '$OUT', stderr '$ERR'; expected '$want'"
        not_ok "$2 refused naming the file, line and key"
    fi
}

# ---------------------------------------------------------- what we show
sh "$src/tests/tools/conf-examples.sh" "$src" "$d/ex" > "$d/examples" 2> "$d/ex.err" ||
    not_ok "the examples extracted" "$d/ex.err"
docs=$(grep -c '/doc-' "$d/examples")
if [ "$docs" -ge 2 ] && grep -q '/doc-docs-man-xlmigd.conf.5-2.conf$' "$d/examples"; then
    ok "$docs examples tagged conf in the docs (xlmigd.conf(5)'s among them)"
else
    not_ok "examples tagged conf found in docs/man/xlmigd.conf.5.md" "$d/examples"
fi
while read -r f; do
    case $f in
    */default.conf) ;;
    *) good "$f" "$(basename "$f")" ;;
    esac
done < "$d/examples"
bad "$d/ex/default.conf" "etc/xlmigd.conf as installed" "" \
    "'address' is missing"

# Every key the loader knows is in etc/xlmigd.conf (test-man.sh checks
# xlmigd.conf(5)'s).
sed -n 's/^    \[K_[A-Z_]*\] = "\([a-z-]*\)",$/\1/p' "$src/libxlmig/poolconf.c" |
    sort > "$d/keys.code"
sed -n 's/^#\([a-z][a-z0-9-]*\) =.*/\1/p' "$src/etc/xlmigd.conf" | sort > "$d/keys.etc"
if [ "$(wc -l < "$d/keys.code")" -ge 12 ] && cmp -s "$d/keys.code" "$d/keys.etc"; then
    ok "every key ($(wc -l < "$d/keys.code")) in etc/xlmigd.conf"
else
    diff "$d/keys.code" "$d/keys.etc" > "$d/keys.diff"
    not_ok "every key in etc/xlmigd.conf" "$d/keys.diff"
fi

# ---------------------------------------------------------- refused
UUID=6f3c1a2e-4b5d-4e8f-9a0b-1c2d3e4f5a6b
mkdir -p "$d/tls"
: > "$d/tls/cert.pem"; : > "$d/tls/key.pem"; : > "$d/tls/ca.pem"
# The base: 9 lines, taken.
cat > "$d/base.conf" <<EOT
name = h2                      # this host
address = 127.0.0.2:7700
master = 127.0.0.1:7700        # the pool master
pool-name = test
pool-uuid = $UUID
tls-cert = $d/tls/cert.pem
tls-key = $d/tls/key.pem
tls-ca = "$d/tls/ca.pem"       # quoted
state-dir = $d/state-never
EOT
good "$d/base.conf" "a complete configuration"

b=$d/bad
mkdir -p "$b"
{ cat "$d/base.conf"; echo "pool_name = test"; } > "$b/unknown.conf"
bad "$b/unknown.conf" "an unknown key" 10 \
    "unknown key 'pool_name' (did you mean 'pool-name'?)"
{ cat "$d/base.conf"; echo "colour = red"; } > "$b/unknown2.conf"
bad "$b/unknown2.conf" "an unknown key" 10 "unknown key 'colour'"
{ echo "name = h9"; cat "$d/base.conf"; } > "$b/repeated.conf"
bad "$b/repeated.conf" "a repeated key" 2 "'name' is given twice (first on line 1)"
{ echo "name =     # this host"; sed 1d "$d/base.conf"; } > "$b/comment.conf"
bad "$b/comment.conf" "a comment-only value" 1 "'name' has no value"
{ echo 'name = ""'; sed 1d "$d/base.conf"; } > "$b/empty.conf"
bad "$b/empty.conf" "an empty quoted value" 1 "'name' has no value"
{ echo "name = h2# this host"; sed 1d "$d/base.conf"; } > "$b/glued.conf"
bad "$b/glued.conf" "a '#' glued to a value" 1 "'name': a '#' right after the value's text"
{ sed -n 1,4p "$d/base.conf"; printf 'pool-uuid = %s\n' "$UUID"; printf '# %01100d\n' 0
  sed 1,5d "$d/base.conf"; } > "$b/long.conf"
bad "$b/long.conf" "an overlong line" 6 "the line is longer than 1024 bytes"
{ sed -n 1,2p "$d/base.conf"; printf 'master = 127.0.0.1:7700 # \000 in a comment\n'
  sed 1,3d "$d/base.conf"; } > "$b/nul.conf"
bad "$b/nul.conf" "a NUL byte" 3 "a NUL byte (column 27)"
{ sed -n 1,3p "$d/base.conf"; printf 'pool-name = te\033st\n'; sed 1,4d "$d/base.conf"; } > "$b/ctl.conf"
bad "$b/ctl.conf" "a control byte" 4 "a control byte 0x1b (column 15)"
grep -v '^master' "$d/base.conf" > "$b/no-master.conf"
bad "$b/no-master.conf" "a missing required key" "" "'master' is missing"
grep -v '^tls-key' "$d/base.conf" > "$b/no-key.conf"
bad "$b/no-key.conf" "missing TLS material" "" "'tls-key' is missing"
{ cat "$d/base.conf"; echo "psk-file = $d/tls/psk"; } > "$b/both.conf"
bad "$b/both.conf" "certificates with a pre-shared key" 6 \
    "'tls-cert' and psk-file (line 10): give the pool's pre-shared key or its certificates, not both"
sed "s/^pool-uuid = .*/pool-uuid = 6f3c1a2e-...    # 36 characters/" "$d/base.conf" > "$b/uuid.conf"
bad "$b/uuid.conf" "the old doc's placeholder uuid" 5 "pool-uuid '6f3c1a2e-...' is not a uuid"
sed "s|^state-dir = .*|state-dir = var/lib/xlmig|" "$d/base.conf" > "$b/rel.conf"
bad "$b/rel.conf" "a relative path" 9 "state-dir 'var/lib/xlmig' is not an absolute path"
sed 's|^tls-ca = .*|tls-ca = "/etc/xlmig/ca.pem|' "$d/base.conf" > "$b/quote.conf"
bad "$b/quote.conf" "an unclosed quote" 8 "'tls-ca': the value has no closing '\"'"
{ cat "$d/base.conf"; for i in $(seq 1100); do printf '# %060d\n' "$i"; done; } > "$b/big.conf"
bad "$b/big.conf" "a file of more than 64 KiB" file "more than the 65536"
bad "$d" "a directory" file "not a regular file"
check "$d/none.conf"
if [ "$RC" = 2 ] && [[ "$ERR" == *"NOT_FOUND: cannot read the pool configuration $d/none.conf"* ]]; then
    ok "a missing file refused, named"
else
    not_ok "a missing file refused (rc $RC, '$ERR')"
fi

# ---------------------------------------------------------- the option
if "$XLMIGD" --help | grep -q -- '--check-config'; then
    ok "--help shows --check-config"
else
    not_ok "--help shows --check-config"
fi
out=$(XLMIG_CONFIG=$d/base.conf timeout 20 "$XLMIGD" --check-config 2>&1)
if [ "$out" = "$d/base.conf: ok" ]; then
    ok "--check-config reads \$XLMIG_CONFIG without --config"
else
    not_ok "--check-config with \$XLMIG_CONFIG: '$out'"
fi
# Nothing started: it returns at once, makes no state directory and
# leaves its address free.
port=$((20000 + RANDOM % 20000))
sed "s/^address = .*/address = 127.0.0.1:$port/" "$d/base.conf" > "$d/port.conf"
good "$d/port.conf" "a configuration on a free port"
if [ ! -e "$d/state-never" ] && ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
    ok "--check-config started nothing (no state directory, nothing listening)"
else
    not_ok "--check-config started something"
fi

finish
