#!/bin/bash
# `make demo`: live migration of a running guest between two nested Xen
# hosts, narrated as it happens.  Until the product's own migration
# commands exist this shows the platform they build on: plain `xl
# migrate` of a PVH guest whose disk is on storage both hosts see.
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
 libxlmig demo: live migration between two Xen 4.17 hosts
   host 1 (10.77.0.1) and host 2 (10.77.0.2) are Xen machines
   emulated by QEMU on this computer, joined by a private link;
   the guest prints GUEST-TICK n every second and writes n to its
   disk.  It moves from host 1 to host 2 while it runs.
==================================================================
TXT

args=(--hosts 2 --test "$REPO/tests/xenhost/tests/demo.sh"
      --test2 "$REPO/tests/xenhost/tests/receiver.sh" --timeout "$TIMEOUT")
[ -z "$OVERLAY" ] || args+=(--overlay "$OVERLAY")

out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$SECONDS
set +e
"$REPO/tests/xenhost/run.sh" "${args[@]}" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
detail=$(grep -a '^### RESULT demo-migrate: ' "$out" | tail -1 |
         sed 's/^### RESULT demo-migrate: //')

echo "=================================================================="
if [ "$rc" = 0 ]; then
    echo "demo: SUCCESS in $((SECONDS - start))s: the guest migrated live to host 2 and kept counting"
    echo "demo: $detail"
else
    echo "demo: FAILED (exit $rc) after $((SECONDS - start))s${detail:+: $detail}"
    echo "demo: the console tails are above; full logs in ${XENHOST_CACHE:-$REPO/.cache/xenhost}/logs/latest/"
fi
exit "$rc"
