#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-only
# `make demo`: `xlmig-xe vm-migrate` of a running guest and its disk
# between two nested Xen hosts, narrated as it happens: the two hosts
# form a pool, the guest runs on host 1 with its disk on host 1's local
# SR, and moves live, memory and disk, to host 2 and host 2's SR.
#
# Usage: scripts/demo.sh [--overlay DIR] [--timeout SECONDS]
#   --overlay DIR  the project's `make install DESTDIR=DIR` tree, copied
#                  into dom0 (default build/dom0-root when it exists)
# Environment: XENHOST_CACHE as for tests/xenhost/run.sh.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
OVERLAY=""
[ -d "$REPO/build/dom0-root" ] && OVERLAY=$REPO/build/dom0-root
TIMEOUT=900
while [ $# -gt 0 ]; do
    case $1 in
        --overlay) OVERLAY=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo: unknown argument: $1" >&2; exit 2 ;;
    esac
done

cat <<'TXT'
==================================================================
 libxlmig demo: vm-migrate between two Xen 4.17 hosts
   host 1 (10.77.0.1) and host 2 (10.77.0.2) are Xen machines
   emulated by QEMU on this computer, joined by a private link,
   each with an SR of its own; their xlmigd form one pool.  The
   guest prints GUEST-TICK n ten times a second and writes n to
   its disk.  It moves, memory and disk, from host 1 to host 2
   while it runs.
==================================================================
TXT

args=(--hosts 2 --test "$REPO/tests/xenhost/tests/demo.sh"
      --test2 "$REPO/tests/xenhost/tests/demo.sh" --timeout "$TIMEOUT")
[ -z "$OVERLAY" ] || args+=(--overlay "$OVERLAY")

out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$SECONDS
set +e
"$REPO/tests/xenhost/run.sh" "${args[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
detail=$(grep -a '^### RESULT vmm-pool: ' "$out" | tail -1 |
         sed 's/^### RESULT vmm-pool: //')

echo "=================================================================="
if [ "$rc" = 0 ]; then
    echo "demo: SUCCESS in $((SECONDS - start))s: vm-migrate moved the running guest and its disk to host 2; it kept counting"
    echo "demo: $detail"
else
    echo "demo: FAILED (exit $rc) after $((SECONDS - start))s${detail:+: $detail}"
    echo "demo: the console tails are above; full logs in ${XENHOST_CACHE:-$REPO/.cache/xenhost}/logs/latest/"
fi
exit "$rc"
