#!/bin/sh
# /init of the test guest (busybox initramfs).  It proves the guest is alive
# and its disk works: every second it prints "GUEST-TICK n" on its console
# and writes "TICK-n" (zero-padded to 8 digits) to xvda at offset 1 MiB.
# "GUEST-BOOTED" is printed once per boot, so a test can tell a resumed
# guest from a rebooted one.
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
i=0
while true; do
    echo "GUEST-TICK $i up=$(cut -d' ' -f1 /proc/uptime)"
    if [ -b /dev/xvda ]; then
        printf 'TICK-%08d' $i |
            dd of=/dev/xvda bs=512 seek=2048 conv=sync,fsync 2>/dev/null ||
            echo "GUEST-DISK-WRITE-FAILED"
    fi
    i=$((i + 1))
    sleep 1
done
