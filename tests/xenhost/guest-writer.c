/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The test guest's disk writer (/bin/tickwriter, started by guest-init.sh):
 * the latest tick the init wrote to /tmp/.tick goes to /dev/xvda at 1 MiB
 * as TICK-n (zero-padded to 8 digits, the rest of the 512-byte sector
 * zero), with O_DIRECT and an fsync, as often as the disk allows; then
 * "GUEST-WROTE n took=S" on the console, S the seconds the write and the
 * fsync took; "GUEST-DISK-WRITE-FAILED" when either fails.
 *
 * One process that never forks: the shell loop it replaces ran dd ten
 * times a second, and each fork and exec is thousands of page faults in
 * a guest whose every exception is emulated twice over (nested TCG).
 * Built static (build-image.sh) into the guest's initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512
#define OFFSET (1024 * 1024)

static long uptime_cs(void)
{
    struct timespec t;

    clock_gettime(CLOCK_BOOTTIME, &t);
    return (long)t.tv_sec * 100 + t.tv_nsec / 10000000;
}

static void nap_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&t, &t) && errno == EINTR)
        ;
}

/* The tick in /tmp/.tick, or -1 when it holds no number (yet). */
static long tick_now(const char *path)
{
    char buf[32];
    ssize_t n;
    long v = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), i;

    if (fd < 0)
        return -1;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    for (i = 0; i < n && buf[i] != '\n'; i++) {
        if (buf[i] < '0' || buf[i] > '9' || v > 99999999)
            return -1;
        v = v * 10 + (buf[i] - '0');
    }
    return i ? v : -1;
}

/* tickwriter [DISK [TICKFILE]]: /dev/xvda and /tmp/.tick by default. */
int main(int argc, char **argv)
{
    const char *disk = argc > 1 ? argv[1] : "/dev/xvda";
    const char *tickf = argc > 2 ? argv[2] : "/tmp/.tick";
    unsigned char *sector;
    long last = -1;
    int fd;

    setpriority(PRIO_PROCESS, 0, 10);   /* the ticks go first */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (posix_memalign((void **)&sector, 4096, SECTOR))
        return 1;
    fd = open(disk, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        printf("GUEST-DISK-WRITE-FAILED open: %s\n", strerror(errno));
        return 1;
    }
    for (;;) {
        long t = tick_now(tickf), w0;

        if (t < 0 || t == last) {
            nap_ms(20);
            continue;
        }
        memset(sector, 0, SECTOR);
        snprintf((char *)sector, SECTOR, "TICK-%08ld", t);
        w0 = uptime_cs();
        if (pwrite(fd, sector, SECTOR, OFFSET) == SECTOR && !fsync(fd)) {
            long w = uptime_cs() - w0;

            printf("GUEST-WROTE %ld took=%ld.%02ld\n", t, w / 100, w % 100);
        } else {
            printf("GUEST-DISK-WRITE-FAILED\n");
            nap_ms(100);
        }
        last = t;
    }
}
