#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# verify-units.sh ROOT UNITDIR WORK: systemd-analyze verify of the
# units installed under ROOT/UNITDIR (xlmigd.service and
# xlmig-channel-listen@.service), on copies in WORK whose ExecStart=
# points into ROOT (verify wants the programs to exist); --man=no: the
# man pages need not be installed on this host.  Used by
# tests/install-test.sh and tests/deb-test.sh.
# Exit status: 0 clean; 1 verify complained (its words on stdout);
# 2 systemd-analyze is missing.
set -u
root=$1 unitdir=$2 work=$3
command -v systemd-analyze > /dev/null || exit 2
mkdir -p "$work"
for u in xlmigd.service xlmig-channel-listen@.service; do
    sed "s|=/usr/bin/|=$root/usr/bin/|" "$root/$unitdir/$u" \
        > "$work/$u" 2>/dev/null
done
if systemd-analyze verify --man=no "$work/xlmigd.service" \
        "$work/xlmig-channel-listen@8022.service" \
        > "$work/verify.log" 2>&1 && ! [ -s "$work/verify.log" ]; then
    exit 0
fi
cat "$work/verify.log"
exit 1
