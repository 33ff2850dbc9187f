#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# /init of the test guest (busybox initramfs).  It proves the guest is alive
# and its disk works:
#   GUEST-TICK n up=U  on its console every 100 ms (10 a second), n from 0,
#                      U the guest's uptime in seconds; paced by the uptime,
#                      so tick n comes about n/10 s after tick 0 while the
#                      guest runs, and a longer gap between two ticks is
#                      time the guest stood still (or was starved)
#   TICK-n             (zero-padded to 8 digits) on xvda at offset 1 MiB,
#                      written with O_DIRECT and fsync'ed, always the latest
#                      tick, as often as the disk allows (every tick when a
#                      write takes less than 100 ms); a second, niced
#                      process writes (/bin/tickwriter, guest-writer.c,
#                      which never forks), so that a slow disk never delays
#                      a tick
#   GUEST-WROTE n took=S  on its console once TICK-n is on the disk (after
#                      the fsync), S the seconds the write and fsync took
# "GUEST-BOOTED" is printed once per boot, so a test can tell a resumed
# guest from a rebooted one.

# nap SECONDS: sleep without a fork (a fork costs much in a nested guest):
# wait for input that never comes on a FIFO nobody writes to.  busybox's
# sleep takes fractions too ("sleep 0.1"), but is a fork and an exec.
nap() { read -t "$1" _x <> /tmp/.idle; }

# uptime_cs: the uptime into $up (text) and $now (centiseconds).
uptime_cs() {
    read -r up _x < /proc/uptime
    now=$(( ${up%.*} * 100 + 1${up#*.} - 100 ))
}

/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
echo "GUEST-BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
[ -f /xen-blkfront.ko ] && insmod /xen-blkfront.ko
n=0
while [ $n -lt 10 ] && ! [ -b /dev/xvda ]; do sleep 1; n=$((n + 1)); done
if [ -b /dev/xvda ]; then
    echo "GUEST-DISK-PRESENT sectors=$(cat /sys/block/xvda/size)"
    echo "GUEST-DISK-READ: $(dd if=/dev/xvda bs=512 count=1 2>/dev/null |
        tr -cd 'A-Za-z0-9-')"
fi
mkfifo /tmp/.idle
: > /tmp/.tick
[ -b /dev/xvda ] && /bin/tickwriter &

i=0
uptime_cs
next=$now
while :; do
    uptime_cs
    d=$((next - now))
    if [ $d -gt 0 ]; then
        if [ $d -ge 10 ]; then nap 0.1; else nap 0.0$d; fi
        uptime_cs
    elif [ $d -le -10 ]; then
        next=$now               # a whole period late (the guest stood
    fi                          # still or was starved): no burst of ticks
    echo "GUEST-TICK $i up=$up"
    echo $i > /tmp/.tick
    i=$((i + 1))
    next=$((next + 10))
done
