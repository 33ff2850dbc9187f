#!/bin/sh
# Demo, run in host 1's dom0 by scripts/demo.sh: start a guest that counts
# ten times a second, live-migrate it to host 2 while it counts, and show
# that it carries on there with its disk.  Host 2 runs tests/receiver.sh.
. /xenhost/lib.sh

G=demo
DISK=$SHARED/$G.qcow2

plan demo-migrate
fail() { result demo-migrate FAIL "$*"; dump_guest "$G"; exit 1; }

say "==== STEP 1/4: the host"
show xl info | grep -E '^### \| (host|xen_version|nr_cpus|total_memory|free_memory) '
if command -v xlmig >/dev/null 2>&1; then
    show timeout 60 xlmig host-info
fi

say "==== STEP 2/4: start guest '$G' (PVH, 128 MiB, qcow2 disk on the shared directory)"
t=$(uptime_s)
start_guest "$G" "$DISK" || fail "the guest did not start"
say "guest '$G' is counting (started in $(elapsed "$t")s)"
show xl list

say "==== STEP 3/4: live migration to host 2 (10.77.0.2), the guest keeps running"
# Same transport as check-xen, with the guest's ticks shown meanwhile.
watch_ticks "$G" &
watcher=$!
if remote_migrate_retry "$G" "$DISK"; then ok=1; else ok=0; fi
kill $watcher 2>/dev/null

say "==== STEP 4/4: result"
show xl list
if [ $ok = 1 ]; then
    result demo-migrate OK "($REMOTE_DETAIL)"
    say "DEMO SUCCESS: '$REMOTE_GUEST' moved live from host 1 to host 2 and kept counting"
else
    result demo-migrate FAIL "$REMOTE_DETAIL"
    say "DEMO FAILED: $REMOTE_DETAIL"
fi
