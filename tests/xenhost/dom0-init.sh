#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# PID 1 of a test host's dom0 (the initramfs is dom0's whole root).
# Brings up devices, the link to the other host, the shared directory and
# the Xen toolstack, then runs this host's test script /xenhost/test-N.sh
# and powers the machine off, which ends QEMU.
# Markers on the console ("### ...") are read by run.sh.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp /shared
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mkdir -p /run/lock /var/run /var/log/xen/console /var/lib/xen/save \
    /var/lib/xen/images
exec </dev/null 2>&1

. /xenhost/lib.sh
hostname "dom0-h$HOST"
say "DOM0-INIT host $HOST of $HOSTS, kernel $(uname -r)"

ip link set lo up
# virtio-pci carries both the link to the other host and the 9p share.
for m in virtio_pci virtio_net e1000 9pnet_virtio 9p loop; do
    modprobe "$m" || say "DOM0-INIT warning: modprobe $m failed"
done

# The private link between the hosts (only exists when --hosts 2).
if [ "$HOSTS" -gt 1 ]; then
    n=0
    while ! ip link show eth0 >/dev/null 2>&1 && [ $n -lt 10 ]; do
        sleep 1; n=$((n + 1))
    done
    # Large frames: every frame costs an interrupt and a UDP datagram
    # through two emulated machines; fewer, bigger ones move memory faster.
    ip link set eth0 mtu 61440 2>/dev/null ||
        say "DOM0-INIT warning: eth0 keeps MTU $(cat /sys/class/net/eth0/mtu)"
    ip addr add "10.77.0.$HOST/24" dev eth0 && ip link set eth0 up &&
        say "DOM0-INIT eth0 10.77.0.$HOST/24" ||
        say "DOM0-INIT warning: no eth0 for the link to the other host"
fi

# cache=none: the other host writes here too, nothing may be cached.
if mount -t 9p -o trans=virtio,version=9p2000.L,cache=none xlshared "$SHARED"
then
    say "DOM0-INIT shared directory mounted on $SHARED"
    # The clock starts from QEMU's RTC, in whole seconds: set it from the
    # build machine's, as the share's file times show it, so that the
    # hosts' clocks (and Xen's wall clocks, which dom0 sets) agree; see
    # "clocks" in lib.sh.
    if off=$(clock_offset set); then
        say "DOM0-INIT clock stepped by ${off% *}s to the build machine's (+-${off#* }s)"
    else
        say "DOM0-INIT warning: the clock could not be set from the share"
    fi
else
    say "DOM0-INIT warning: cannot mount the 9p share xlshared"
fi

# A process that crashes leaves its core on the share, where run.sh
# finds it: named by host, pid and program (/ written as !).
ulimit -c unlimited
echo "$SHARED/core.h$HOST.%p.%E" > /proc/sys/kernel/core_pattern ||
    say "DOM0-INIT warning: core dumps stay off"

t0=$(uptime_s)
if /etc/init.d/xen start; then
    say "DOM0-INIT toolstack up in $(elapsed "$t0")s: $(xl info | sed -n 's/^xen_version *: //p')"
else
    say "DOM0-INIT toolstack FAILED to start"
fi

say "DOM0-INIT running /xenhost/test-$HOST.sh"
/bin/sh "/xenhost/test-$HOST.sh"
rc=$?
echo "### TEST-EXIT host=$HOST rc=$rc"
# Tell the other host this one is finished (it may be waiting for it).
[ -d "$SHARED" ] && touch "$SHARED/.host$HOST-exit"
sync
umount "$SHARED" 2>/dev/null
busybox poweroff -f
sleep 60
