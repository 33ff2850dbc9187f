# SPDX-License-Identifier: LGPL-2.1-only
# Helpers for test scripts that run inside a test host's dom0.
# Sourced as /xenhost/lib.sh (POSIX sh: dom0 runs them with /bin/sh).
#
# Everything a test prints on lines starting with "###" is shown live by
# run.sh; "### RESULT <name>: OK|FAIL ..." lines are what it scores, against
# the names announced beforehand with "### PLAN <name>...".
#
# The helpers, each described where it is defined:
#   report    plan NAME...; result NAME OK|FAIL [DETAIL]; say MSG; show CMD;
#             elapsed START; wait_file FILE TIMEOUT
#   guests    guest_disk FILE [MARKER]; guest_config NAME DISK [MEM [CPUID]];
#             start_guest NAME DISK; guest_log NAME [DIR]; guest_boots NAME
#             [DIR]; dump_guest NAME; triple_faults
#   ticks     the guest prints "GUEST-TICK n up=SECONDS" TICK_HZ (10) times
#             a second and "GUEST-WROTE n" once TICK-n is on its disk:
#             guest_tick / guest_wrote NAME [DIR]; wait_tick / wait_wrote
#             NAME MIN TIMEOUT [DIR]; disk_tick FILE [FORMAT]; watch_ticks
#             NAME [DIR]; tick_period NAME [DIR]; downtime NAME FROM TOTAL
#   clocks    dom0-init sets each dom0's clock from the build machine's;
#             clock_offset [set]; clock_skew
#   2 hosts   remote_migrate[_retry] NAME DISK (plain xl migrate to host 2);
#             start_agent (console copies on the share, clock answers);
#             rendezvous NAME [TIMEOUT]; PEER, PEER_CONSOLE, H2_CONSOLE
#   pool      start_pool [joint|solo]; wait_pool_hosts N TIMEOUT;
#             stop_xlmigd, kill_xlmigd, restart_xlmigd, xlmigd_running,
#             dump_xlmigd [LINES]; the configurations in /etc/xlmig/
#   storage   local_sr; peer_local_sr; host_facts; peer_fact KEY; cpu_records;
#             vdi_guest NAME [MEM [CPUID]]; big_vdi_guest NAME;
#             vdi_guest_destroy NAME

# This host's number (1 or 2) and how many hosts the run has, from the
# dom0 kernel command line that run.sh builds.
HOST=$(sed -n 's/.*xenhost\.host=\([0-9]*\).*/\1/p' /proc/cmdline)
HOSTS=$(sed -n 's/.*xenhost\.hosts=\([0-9]*\).*/\1/p' /proc/cmdline)
: "${HOST:=1}" "${HOSTS:=1}"
PEER=$((3 - HOST))                  # the other host's number
SHARED=/shared                      # virtio-9p directory both hosts see
CPU_CHECK_PORT=8022                 # host 2's xlmig channel-listen
CONSOLE_LOGS=/var/log/xen/console   # xenconsoled writes guest-NAME.log here
MIGRATE_PORT=8002                   # host 2's migration receiver (TCP)
TICK_HZ=10                          # guest ticks per second (guest-init.sh)

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# clock: NOW, this host's uptime in whole seconds, read without starting
# a process.  Every wait here counts time with it, never turns of its
# loop: under nested TCG a turn (a fork or two) may take seconds when
# the host is busy, and a count of turns then waits many times longer.
clock() { read -r NOW _ck_rest < /proc/uptime; NOW=${NOW%.*}; }

# say MESSAGE: a progress line, shown live by run.sh.
say() { echo "### [h$HOST $(uptime_s)s] $*"; }

# show CMD...: run CMD, echo its output to the console (shown live),
# return its exit status.
show() {
    _show_out=/tmp/show.$$
    "$@" > "$_show_out" 2>&1
    _show_rc=$?
    sed 's/^/### | /' "$_show_out"
    rm -f "$_show_out"
    return $_show_rc
}

# show_live CMD...: show, each line as it comes (a long command's progress).
show_live() {
    { "$@" 2>&1; echo "$?" > /tmp/show-live.rc.$$; } |
        while IFS= read -r _sl; do echo "### | $_sl"; done
    _show_rc=$(cat /tmp/show-live.rc.$$ 2>/dev/null)
    rm -f /tmp/show-live.rc.$$
    return "${_show_rc:-1}"
}

# plan NAME...: announce the results this script will report.
plan() { echo "### PLAN $*"; }

# result NAME OK|FAIL [DETAIL...]
result() {
    _r_name=$1 _r_status=$2
    shift 2
    [ "$_r_status" != FAIL ] || dump_dead_guests
    echo "### RESULT $_r_name: $_r_status${*:+ $*}"
}

# dump_dead_guests: each guest on this host that has shut down or crashed
# (kept by on_crash / on_reboot=preserve), with its console's last lines:
# a guest's panic is in its console, not in Xen's.
dump_dead_guests() {
    for _dd in $(xl list 2> /dev/null | awk 'NR > 2 && $5 ~ /[sc]/ { print $1 }'); do
        say "---- guest $_dd has shut down or crashed (state $(guest_state "$_dd")); its console's end:"
        guest_log "$_dd" | tail -n 25 | sed 's/^/### | /'
    done
}

# elapsed START: seconds since START (an uptime_s value), one decimal.
elapsed() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'; }

# alive PID: PID is a running process (not gone, not a zombie).
alive() {
    case $(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) in
        ''|Z) return 1 ;;
    esac
    return 0
}

# ---------------------------------------------------------------- guests

# guest_config NAME DISK [MEMORY_MB [CPUID]]: write /etc/xen/NAME.cfg for a
# PVH guest booting the Debian kernel with the ticking busybox initramfs,
# its qcow2 disk served by QEMU (qdisk backend); 128 MiB unless MEMORY_MB;
# CPUID, when given, is xl's cpuid= string (e.g. "host,lahfsahf=0").
guest_config() {
    {
        cat <<CFG
name = "$1"
type = "pvh"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/guest-initrd.cpio.gz"
extra = "console=hvc0 loglevel=4"
memory = ${3:-128}
vcpus = 1
vif = []
on_crash = "preserve"
on_reboot = "preserve"
disk = [ 'format=qcow2,vdev=xvda,access=rw,backendtype=qdisk,target=$2' ]
CFG
        [ -z "$4" ] || echo "cpuid = \"$4\""
    } > "/etc/xen/$1.cfg"
}

# guest_disk FILE [MARKER]: a 64 MiB qcow2 whose first sector holds MARKER
# (default HELLO-FROM-QCOW2-DISK), which the guest reads back at boot and
# prints as "GUEST-DISK-READ: MARKER".
guest_disk() {
    printf '%s' "${2:-HELLO-FROM-QCOW2-DISK}" > /tmp/disk.raw
    truncate -s 64M /tmp/disk.raw
    qemu-img convert -f raw -O qcow2 /tmp/disk.raw "$1"
    _gd_rc=$?
    rm -f /tmp/disk.raw
    return $_gd_rc
}

# guest_log NAME [DIR]: the guest's console output so far.  Migration and
# restore create the domain under temporary names (NAME--incoming), whose
# logs are separate files: take them all, oldest first.  xenconsoled starts
# each line with its time ("[2026-12-06 11:07:54] "; whole seconds).
guest_log() {
    _gl_dir=${2:-$CONSOLE_LOGS}
    # shellcheck disable=SC2046
    cat $(ls -tr "$_gl_dir/guest-$1".log "$_gl_dir/guest-$1"--*.log \
          2>/dev/null) 2>/dev/null
}

# _max_after WORD: the highest number that follows WORD on the input lines
# (empty if none).
_max_after() {
    awk -v w="$1" '{ for (i = 1; i < NF; i++) if ($i == w) {
                        if (!s || $(i + 1) + 0 > m) m = $(i + 1) + 0; s = 1 } }
                   END { if (s) print m }'
}

# guest_tick NAME [DIR]: highest GUEST-TICK number seen (empty if none).
# The guest ticks TICK_HZ times a second: tick n comes about n/TICK_HZ
# seconds after tick 0 while it runs.
guest_tick() { guest_log "$@" | _max_after GUEST-TICK; }

# guest_wrote NAME [DIR]: the highest tick the guest reported written and
# flushed to its disk ("GUEST-WROTE n"; empty if none).  Its disk holds
# that tick or a later one.
guest_wrote() { guest_log "$@" | _max_after GUEST-WROTE; }

# guest_boots NAME [DIR]: how many times the guest booted.
guest_boots() { guest_log "$@" | grep -ac 'GUEST-BOOTED'; }

# _wait_count FUNC WHAT NAME MIN TIMEOUT [DIR]: wait until FUNC NAME [DIR]
# exceeds MIN, printing each new value (so a watcher sees the guest run).
_wait_count() {
    _wc_last=""
    clock; _wc_end=$((NOW + $5))
    while clock; [ "$NOW" -lt "$_wc_end" ]; do
        _wc_t=$($1 "$3" "$6")
        if [ -n "$_wc_t" ] && [ "$_wc_t" != "$_wc_last" ]; then
            say "guest $3: $2 $_wc_t${6:+ (log in $6)}"
            _wc_last=$_wc_t
        fi
        [ -n "$_wc_t" ] && [ "$_wc_t" -gt "$4" ] && return 0
        sleep 1
    done
    return 1
}

# wait_tick NAME MIN TIMEOUT [DIR]: wait until the guest's tick exceeds MIN
# (TIMEOUT seconds at most), printing each new tick.  TICK_HZ ticks are a
# second of the guest's time: "2 s more" is $((t0 + 2 * TICK_HZ)).
wait_tick() { _wait_count guest_tick GUEST-TICK "$@"; }

# guest_state NAME: xl list's state column of this host's domain NAME
# (e.g. ---sr-), empty when there is none.
guest_state() { xl list "$1" 2> /dev/null | awk 'NR == 2 { print $5 }'; }

# guest_dead NAME: true when this host's domain NAME is gone, shut down
# or crashed (xl list's state has s or c): it will not tick again.
guest_dead() {
    _gd_s=$(guest_state "$1")
    case $_gd_s in
        "" | *s* | *c*) return 0 ;;
    esac
    return 1
}

# wait_boot NAME TIMEOUT: wait for a guest just created on this host to
# tick; false at once (not after TIMEOUT) when it died on the way, as a
# guest that triple-faults under nested TCG does (on_reboot=preserve
# keeps it, shut down).
wait_boot() {
    clock; _wb_end=$((NOW + $2))
    while clock; [ "$NOW" -lt "$_wb_end" ]; do
        _wb_t=$(guest_tick "$1")
        if [ -n "$_wb_t" ] && [ "$_wb_t" -gt 1 ]; then
            say "guest $1: GUEST-TICK $_wb_t"
            return 0
        fi
        if guest_dead "$1"; then
            say "guest $1 died while it booted (state $(guest_state "$1"))"
            return 1
        fi
        sleep 1
    done
    say "guest $1: no tick after $2 s"
    return 1
}

# boot_guest NAME: xl create /etc/xen/NAME.cfg, then wait_boot; a guest
# that triple-faulted while it booted (nested TCG, now and then) is
# created once more, saying so; any other failure is the failure.
boot_guest() {
    _bt_tf=$(triple_faults)
    timeout 300 xl create "/etc/xen/$1.cfg" && wait_boot "$1" 300 && return 0
    [ "$(triple_faults)" -gt "$_bt_tf" ] || return 1
    say "guest $1 triple-faulted while it booted (nested TCG): once more"
    xl dmesg | grep -a 'Triple fault' | tail -n 1 | sed 's/^/### | /'
    xl destroy "$1" 2> /dev/null
    rm -f "$CONSOLE_LOGS/guest-$1".log
    timeout 300 xl create "/etc/xen/$1.cfg" && wait_boot "$1" 300
}

# revive NAME...: each guest that has died since it booted (under nested
# TCG a running guest now and then triple-faults or panics while another
# boots) is destroyed and booted again from its config and disk, up to
# three times, until all of them tick at once; false when one will not.
revive() {
    for _rv_round in 1 2 3; do
        _rv_dead=""
        for _rv in "$@"; do
            guest_dead "$_rv" && _rv_dead="$_rv_dead $_rv"
        done
        [ -n "$_rv_dead" ] || return 0
        for _rv in $_rv_dead; do
            say "guest $_rv died after it booted (state $(guest_state "$_rv"), nested TCG): booted again ($_rv_round)"
            guest_log "$_rv" | grep -a -m 3 -i 'panic\|fatal\|BUG' | sed 's/^/### | /'
            xl destroy "$_rv" 2> /dev/null
            rm -f "$CONSOLE_LOGS/guest-$_rv".log
            boot_guest "$_rv" || return 1
        done
    done
    for _rv in "$@"; do
        guest_dead "$_rv" && return 1
    done
    return 0
}

# wait_wrote NAME MIN TIMEOUT [DIR]: the same for GUEST-WROTE: wait until
# a tick past MIN is on the guest's disk.
wait_wrote() { _wait_count guest_wrote GUEST-WROTE "$@"; }

# disk_tick FILE [FORMAT]: the TICK number the guest last wrote to its disk
# image (at 1 MiB; FORMAT qcow2 or raw, default qcow2), read with qemu-io;
# empty if none.  qemu-io's dump shows the bytes as hex and as text, where
# it prints '-' as '.'.
disk_tick() {
    qemu-io -r -f "${2:-qcow2}" -c 'read -v 1048576 16' "$1" |
        sed -n 's/.*TICK.\([0-9]\{8\}\).*/\1/p' | head -1 |
        sed 's/^0*\([0-9]\)/\1/'
}

# dump_guest NAME: what a person debugging a failure wants to see.
dump_guest() {
    say "---- xl list"; show xl list
    say "---- console of $1 (tail)"; guest_log "$1" | tail -n 20 | sed 's/^/### | /'
    for _dg_f in /var/log/xen/qemu-dm-"$1"*.log /var/log/xen/xl-"$1"*.log; do
        [ -f "$_dg_f" ] || continue
        say "---- $_dg_f (tail)"; tail -n 15 "$_dg_f" | sed 's/^/### | /'
    done
    say "---- xl dmesg (tail)"; xl dmesg 2>&1 | tail -n 25 | sed 's/^/### | /'
    # Its device model: alive?  A QEMU that crashed leaves a line in
    # dom0's kernel log (segfault, killed), not in its own log.
    _dg_id=$(xl domid "$1" 2> /dev/null)
    say "---- device model of $1 (domid ${_dg_id:-?}): $(pgrep -f "xen-domid ${_dg_id:-none} " > /dev/null && echo running || echo 'not running')"
    say "---- dom0 kernel log (tail)"; dmesg 2>&1 | tail -n 15 | sed 's/^/### | /'
    ! xlmigd_running || dump_xlmigd 15
}

# wait_file FILE TIMEOUT: wait until FILE exists (e.g. on the 9p share).
wait_file() {
    clock; _wf_end=$((NOW + $2))
    while clock; [ "$NOW" -lt "$_wf_end" ]; do
        [ -e "$1" ] && return 0
        sleep 1
    done
    [ -e "$1" ]
}

# ---------------------------------------------------------------- ticks

# tick_table [FROM]: "n uptime" per tick from guest_log output on stdin,
# sorted by n, each tick once (a console line read twice, e.g. from the
# ring again after a migration, counts once), ticks n >= FROM only.
tick_table() {
    awk -v from="${1:-0}" '{ for (i = 1; i < NF; i++) if ($i == "GUEST-TICK") {
            n = $(i + 1); u = $(i + 2); sub(/^up=/, "", u)
            if (n + 0 >= from + 0 && u != "") print n, u } }' |
        sort -n -k1,1 -u
}

# tick_period NAME [DIR]: how regularly the guest ticked over its last 100
# ticks: "period 0.10 s median, 0.12 s mean, 0.45 s longest (ticks a-b)".
tick_period() {
    guest_log "$@" | tick_table | tail -n 101 | awk '
        NR > 1 { g[++k] = $2 - u; s += $2 - u; if ($2 - u > mx) mx = $2 - u }
        NR == 1 { a = $1 } { u = $2; b = $1 }
        END {
            if (k < 1) { print "period unknown (fewer than 2 ticks)"; exit }
            for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
                if (g[j] < g[i]) { t = g[i]; g[i] = g[j]; g[j] = t }
            printf "period %.2f s median, %.2f s mean, %.2f s longest (ticks %d-%d)\n",
                g[int((k + 1) / 2)], s / k, mx, a, b }'
}

# downtime NAME FROM TOTAL: how long the guest stood still when a
# migration moved it between the hosts.  Over its ticks from tick FROM on
# (FROM = guest_tick just before the migration), on this host's console
# logs and the peer's copies (PEER_CONSOLE: let them show ticks after the
# migration first, e.g. wait_tick NAME N 120 "$PEER_CONSOLE"): the largest
# gap in guest uptime between consecutive ticks at the switch, i.e. from
# the last tick the source's log has through the destination's first
# 3 s of ticks (ticks the source printed but did not read before the guest
# stopped show up on the destination).  The gaps before and after that
# (a guest slowed down while its memory is copied, or starved) are
# reported apart.  TOTAL is the migration's duration in seconds, as the
# caller measured it.
#
# The measure is the uptime in the tick lines: Linux adds the time it was
# suspended to it at resume, read from the Xen wall clock of the host it
# runs on, and dom0-init (and start_pool) set both hosts' clocks, and so
# their Xen wall clocks, from the build machine's: a gap across the hosts
# is right to within their skew (clock_skew; tens of ms).  xenconsoled's
# timestamps (--timestamp=guest) count whole seconds only.
# Prints e.g. "downtime 1.3 s (largest tick gap, ticks 812-813, at the
# switch), total 45.2 s (other gaps up to 0.6 s)" and sets DOWNTIME
# (seconds) and DOWNTIME_TEXT (not when called in $(...)); without ticks
# on both hosts, or with a fourth argument "all" (a guest that went and
# came back: its source is also its last host), it takes the largest gap
# of all; returns 1 when there are fewer than two ticks.
downtime() {
    DOWNTIME="" DOWNTIME_TEXT=""
    guest_log "$1" | tick_table "$2" > /tmp/.downtime-here
    guest_log "$1" "$PEER_CONSOLE" | tick_table "$2" > /tmp/.downtime-peer
    # The source is the side whose ticks start first; L its last tick.
    _dt_h=$(head -n 1 /tmp/.downtime-here | cut -d' ' -f1)
    _dt_p=$(head -n 1 /tmp/.downtime-peer | cut -d' ' -f1)
    _dt_l=""
    if [ -n "$_dt_h" ] && [ -n "$_dt_p" ] && [ "${4:-}" != all ]; then
        if [ "$_dt_h" -le "$_dt_p" ]; then
            _dt_l=$(tail -n 1 /tmp/.downtime-here | cut -d' ' -f1)
        else
            _dt_l=$(tail -n 1 /tmp/.downtime-peer | cut -d' ' -f1)
        fi
    fi
    _dt=$(sort -n -k1,1 -u /tmp/.downtime-here /tmp/.downtime-peer |
        awk -v L="$_dt_l" -v W=$((3 * TICK_HZ)) '
            NR > 1 { g = $2 - u
                     if (L == "" || (n >= L + 0 && n < L + W)) {
                         if (!s || g > sw) { sw = g; a = n; b = $1; s = 1 }
                     } else if (g > o) o = g }
            { n = $1; u = $2 }
            END { if (s) printf "%.1f %d %d %.1f\n", sw, a, b, o }')
    rm -f /tmp/.downtime-here /tmp/.downtime-peer
    if [ -z "$_dt" ]; then
        DOWNTIME_TEXT="downtime unknown: not two ticks of $1 from tick $2 (local logs and $PEER_CONSOLE)"
        echo "$DOWNTIME_TEXT"
        return 1
    fi
    set -- "$1" "$2" "$3" $_dt
    DOWNTIME=$4
    DOWNTIME_TEXT="downtime $4 s (largest tick gap, ticks $5-$6${_dt_l:+, at the switch}), total $3 s${_dt_l:+ (other gaps up to $7 s)}"
    echo "$DOWNTIME_TEXT"
}

# ---------------------------------------------------------------- clocks
#
# Each dom0 starts with the time of its QEMU's RTC, in whole seconds, so
# the two hosts' clocks differ by up to a second.  dom0-init steps each
# dom0's clock to the build machine's (clock_offset set), which also sets
# that host's Xen wall clock (dom0 Linux passes a set time on to Xen), the
# clock a guest's uptime is corrected with after a migration.

# The build machine's clock, seen through the share: a file written on it
# gets the build machine's time as its mtime; the write is bracketed by
# two readings of this dom0's clock, the best of 9 tries counts.
_CLOCK_PY='
import os, sys, time
path, best = sys.argv[1], None
for i in range(9):
    a = time.time()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"%d\n" % i)
    b = time.time()
    m = os.fstat(fd).st_mtime_ns / 1e9
    os.close(fd)
    if best is None or b - a < 2 * best[1]:
        best = (m - (a + b) / 2, (b - a) / 2)
    time.sleep(0.02)
if sys.argv[2:] == ["set"]:
    time.clock_settime(time.CLOCK_REALTIME, time.time() + best[0])
print("%.4f %.4f" % best)
'

# clock_offset [set]: "OFFSET ERROR" in seconds: the build machine's clock
# minus this dom0's, and how far off that may be; with "set", also step
# this dom0's clock by OFFSET (the offset printed is the one before).
# Takes about 2 s (python3's start under TCG).
clock_offset() {
    [ -d "$SHARED" ] || return 1
    python3 -c "$_CLOCK_PY" "$SHARED/.clock-probe-h$HOST" "$@"
}

# clock_skew: how far host 2's clock is ahead of host 1's, now:
# "+0.004 s (+-0.006 s)" on stdout, seconds in CLOCK_SKEW (empty when
# unknown; not set when called in $(...)).  About 5 s.  Both hosts measure their offset against the build machine's
# clock; the peer answers through its start_agent (or receiver.sh).
clock_skew() {
    CLOCK_SKEW=""
    rm -f "$SHARED/.clock-h$PEER"
    touch "$SHARED/.clock-req-h$PEER"
    _ck_mine=$(clock_offset) || { echo "unknown (no share)"; return 1; }
    if ! wait_file "$SHARED/.clock-h$PEER" 30; then
        rm -f "$SHARED/.clock-req-h$PEER"
        echo "unknown (host $PEER did not answer: no start_agent there?)"
        return 1
    fi
    # off = build - local, so host 2 - host 1 = off1 - off2.
    set -- $_ck_mine $(cat "$SHARED/.clock-h$PEER")
    [ "$HOST" = 1 ] || set -- "$3" "$4" "$1" "$2"
    CLOCK_SKEW=$(awk -v a="$1" -v b="$3" 'BEGIN { printf "%+.3f", a - b }')
    awk -v s="$CLOCK_SKEW" -v a="$2" -v b="$4" \
        'BEGIN { printf "%s s (+-%.3f s)\n", s, a + b }'
}

# ---------------------------------------------------------------- two hosts
#
# With check-xen, host 2 runs tests/receiver.sh.  The hosts talk through
# the 9p share:
#   host 2 -> $SHARED/.h2-ready         its migration receiver listens
#   host N -> $SHARED/hN-console/       copies of its guest console logs
#                                       (start_agent, receiver.sh)
#   host 1 -> $SHARED/h2-destroy        "please destroy guest NAME" ...
#   host 2 -> $SHARED/h2-destroyed      ... done (console copies final)
#   host N -> $SHARED/hN.facts          memory, CPUs, local SR (host_facts)
#   host N -> $SHARED/hN.local-sr       its local SR's uuid (local_sr)
#   dom0-init -> $SHARED/.hostN-exit    host N's test script has ended
# and the guest's memory goes over the emulated link, 10.77.0.1 -> .2.

H2_CONSOLE=$SHARED/h2-console
CONSOLE_COPY=$SHARED/h$HOST-console     # this host's, made by mirror_consoles
PEER_CONSOLE=$SHARED/h$PEER-console     # the other host's

# mirror_consoles [TAG]: copy this host's guest console logs that changed
# to CONSOLE_COPY.  The peer reads them at any moment: write a temporary
# file and rename it, so it never sees a half-written copy.  TAG keeps
# concurrent callers apart.
mirror_consoles() {
    mkdir -p "$CONSOLE_COPY"
    for _mc_f in "$CONSOLE_LOGS"/guest-*.log; do
        [ -f "$_mc_f" ] || continue
        _mc_d=$CONSOLE_COPY/${_mc_f##*/}
        [ -f "$_mc_d" ] && ! [ "$_mc_f" -nt "$_mc_d" ] &&
            [ "$(stat -c %s "$_mc_f")" = "$(stat -c %s "$_mc_d")" ] && continue
        cp -p "$_mc_f" "$CONSOLE_COPY/.tmp-${1:-x}" &&
            mv -f "$CONSOLE_COPY/.tmp-${1:-x}" "$_mc_d"
    done
}

# start_agent: a background loop (once per host) that every second copies
# this host's guest consoles to the share (mirror_consoles) and answers the
# peer's clock_skew.  start_pool starts it.
start_agent() {
    [ -f /run/xenhost-agent.pid ] && alive "$(cat /run/xenhost-agent.pid)" &&
        return 0
    (
        while :; do
            mirror_consoles agent
            # This host's triple faults, for the peer's retries
            # (peer_triple_faults).
            triple_faults > "$SHARED/.tf-h$HOST.tmp" &&
                mv -f "$SHARED/.tf-h$HOST.tmp" "$SHARED/.tf-h$HOST"
            if [ -e "$SHARED/.clock-req-h$HOST" ]; then
                clock_offset > "$SHARED/.clock-h$HOST.tmp" &&
                    mv -f "$SHARED/.clock-h$HOST.tmp" "$SHARED/.clock-h$HOST"
                rm -f "$SHARED/.clock-req-h$HOST"
            fi
            sleep 1
        done
    ) > /dev/null 2>&1 &
    echo $! > /run/xenhost-agent.pid
}

# rendezvous NAME [TIMEOUT]: wait until the other host has reached
# rendezvous NAME too (TIMEOUT seconds, default 900); returns 1 if it did
# not.  Each NAME once per run.
rendezvous() {
    touch "$SHARED/.rv-$1-h$HOST"
    wait_file "$SHARED/.rv-$1-h$PEER" "${2:-900}"
}

# remote_migrate NAME DISK: live-migrate guest NAME to host 2, then check it
# keeps running there and that its disk (on the share) holds what it wrote
# on host 2.  Sets REMOTE_DETAIL and REMOTE_DOWNTIME (downtime's text);
# returns 0 if all of that holds.
remote_migrate() {
    _rm_name=$1 _rm_disk=$2
    REMOTE_DETAIL="" REMOTE_DOWNTIME=""
    say "waiting for host 2's migration receiver"
    if ! wait_file "$SHARED/.h2-ready" 600; then
        REMOTE_DETAIL="host 2 never became ready"
        return 1
    fi
    if ! busybox ping -c 1 -W 10 10.77.0.2 >/dev/null 2>&1; then
        REMOTE_DETAIL="10.77.0.2 does not answer ping"
        return 1
    fi
    _rm_t0=$(guest_tick "$_rm_name")
    say "live-migrating $_rm_name (at tick $_rm_t0) to host 2 over 10.77.0.2:$MIGRATE_PORT"
    _rm_start=$(uptime_s)
    # -s "": xl runs the "host" argument itself as the transport to the
    # receiver (socat into host 2's "xl migrate-receive").
    timeout 600 xl migrate -s "" "$_rm_name" \
        "socat - TCP:10.77.0.2:$MIGRATE_PORT"
    _rm_rc=$?
    _rm_took=$(elapsed "$_rm_start")
    say "xl migrate exited $_rm_rc after ${_rm_took}s"
    if [ "$_rm_rc" -ne 0 ]; then
        REMOTE_DETAIL="xl migrate failed (rc=$_rm_rc)"
        dump_guest "$_rm_name"
        return 1
    fi
    if xl domid "$_rm_name" >/dev/null 2>&1; then
        REMOTE_DETAIL="$_rm_name still exists on host 1 after migration"
        return 1
    fi
    # The last tick host 1 saw; host 2 must show 2 s of ticks past it and
    # a tick from 1 s past it written to the disk (ticks host 1's console
    # had not shown yet when the guest stopped show up on host 2).
    _rm_h1=$(guest_tick "$_rm_name")
    say "watching $_rm_name's ticks on host 2 (console copies in $H2_CONSOLE)"
    if ! wait_tick "$_rm_name" $((_rm_h1 + 2 * TICK_HZ)) 180 "$H2_CONSOLE" ||
        ! wait_wrote "$_rm_name" $((_rm_h1 + TICK_HZ)) 180 "$H2_CONSOLE"; then
        REMOTE_DETAIL="no ticks past $_rm_h1 on host 2, or none written (saw: tick $(guest_tick "$_rm_name" "$H2_CONSOLE"), written $(guest_wrote "$_rm_name" "$H2_CONSOLE"))"
        guest_log "$_rm_name" "$H2_CONSOLE" | tail -n 10 | sed 's/^/### | /'
        return 1
    fi
    _rm_boots=$(guest_boots "$_rm_name" "$H2_CONSOLE")
    # Stop the guest on host 2 so its disk is quiet, then read the disk.
    rm -f "$SHARED/h2-destroyed"
    echo "$_rm_name" > "$SHARED/h2-destroy"
    if ! wait_file "$SHARED/h2-destroyed" 120; then
        REMOTE_DETAIL="host 2 did not destroy the guest"
        return 1
    fi
    REMOTE_DOWNTIME=$(PEER_CONSOLE=$H2_CONSOLE downtime "$_rm_name" "$_rm_t0" "$_rm_took")
    _rm_last=$(guest_tick "$_rm_name" "$H2_CONSOLE")
    _rm_wrote=$(guest_wrote "$_rm_name" "$H2_CONSOLE")
    _rm_dtick=$(disk_tick "$_rm_disk")
    say "after the migration: tick before $_rm_t0, last on host 1 $_rm_h1, last on host 2 $_rm_last, written on host 2 $_rm_wrote, disk says TICK-$_rm_dtick, boots on host 2 $_rm_boots; $REMOTE_DOWNTIME"
    REMOTE_DETAIL="migrate ${_rm_took}s, ticks $_rm_t0 -> $_rm_last on host 2, disk TICK-$_rm_dtick; $REMOTE_DOWNTIME"
    [ -n "$_rm_last" ] || { REMOTE_DETAIL="$REMOTE_DETAIL, host 2's console log is empty"; return 1; }
    [ "$_rm_boots" = 0 ] || { REMOTE_DETAIL="$REMOTE_DETAIL, guest rebooted"; return 1; }
    # The guest reports a tick written once it is flushed: the disk holds
    # that one or a later one.
    [ -n "$_rm_dtick" ] && [ -n "$_rm_wrote" ] &&
        [ "$_rm_wrote" -gt $((_rm_h1 + TICK_HZ)) ] &&
        [ "$_rm_dtick" -ge "$_rm_wrote" ] ||
        { REMOTE_DETAIL="$REMOTE_DETAIL: disk does not hold the ticks written on host 2 (last written $_rm_wrote)"; return 1; }
    return 0
}

# watch_ticks NAME [DIR]: print each new tick of guest NAME until killed
# (run it in the background while something else happens).
watch_ticks() {
    _wa_last=""
    while :; do
        _wa_t=$(guest_tick "$1" "$2")
        if [ -n "$_wa_t" ] && [ "$_wa_t" != "$_wa_last" ]; then
            say "guest $1: GUEST-TICK $_wa_t${2:+ (log in $2)}"
            _wa_last=$_wa_t
        fi
        sleep 1
    done
}

# start_guest NAME DISK: fresh qcow2 DISK, config, xl create, and wait until
# the guest ticks.  Returns non-zero (after a dump) if any step fails.
start_guest() {
    rm -f "$CONSOLE_LOGS/guest-$1".log "$CONSOLE_LOGS/guest-$1"--*.log
    guest_disk "$2" && guest_config "$1" "$2" && boot_guest "$1" &&
        return 0
    dump_guest "$1"
    return 1
}

# triple_faults: how many guest triple faults Xen has logged so far.
# Xen's console ring is small and wraps (loglvl=all: every domain's save
# and restore records, every fault's register dump): a count of the
# faults it still holds can stay the same across a new one, as faults
# older than the last call fall out.  So the count is kept in TF_STATE
# ("COUNT LAST": LAST the time of the newest fault counted, from
# run.sh's console_timestamps=boot), and each call adds the faults the
# ring shows after LAST.
TF_STATE=/run/xenhost-triple-faults
triple_faults() {
    _tf_n=0 _tf_last=0
    [ ! -f "$TF_STATE" ] || read -r _tf_n _tf_last < "$TF_STATE"
    xl dmesg | awk -v n="${_tf_n:-0}" -v last="${_tf_last:-0}" '
        /Triple fault/ && match($0, /\[ *[0-9]+\.[0-9]+\]/) {
            ts = substr($0, RSTART + 1, RLENGTH - 2)
            sub(/^ */, "", ts)
            # Kept as printed: awk would print the number rounded.
            if (ts + 0 > last + 0) { n++; if (m == "" || ts + 0 > m + 0) m = ts } }
        END { print n, (m == "" ? last : m) }' > "$TF_STATE.tmp" &&
        mv -f "$TF_STATE.tmp" "$TF_STATE"
    cut -d' ' -f1 "$TF_STATE"
}

# peer_triple_faults: the triple faults the other host has seen (its
# agent's count, at most a second or two old; 0 before it wrote one).
peer_triple_faults() { cat "$SHARED/.tf-h$PEER" 2> /dev/null || echo 0; }

# fresh_if_dead VAR DISK: when the guest named in $VAR has died of a
# triple fault (nested TCG: Xen's console names its domain), a fresh one
# in its place (the name with -f appended, on DISK), said; false when
# none would start.  A guest that died otherwise is left as it is.  Later
# steps then test the product, not a guest the emulator killed.
fresh_if_dead() {
    eval "_fd_g=\$$1"
    guest_dead "$_fd_g" || return 0
    _fd_id=$(xl domid "$_fd_g" 2> /dev/null) || return 0
    xl dmesg | grep -aq "d${_fd_id}v[0-9]* Triple fault" || return 0
    say "guest $_fd_g (domain $_fd_id) died of a triple fault (nested TCG) between steps: a fresh guest for the next ones"
    xl destroy "$_fd_g" 2> /dev/null
    start_guest "$_fd_g-f" "$2" || return 1
    eval "$1=\$_fd_g-f"
}

# remote_migrate_retry NAME DISK: remote_migrate, and if the migration
# itself failed because the guest triple-faulted, once more with a fresh
# guest NAME-retry.  Under nested
# TCG a guest now and then crashes (triple fault) while log-dirty tracking
# runs for a long cross-host transfer; the detail says when a retry was
# needed and why, so a flake is visible but does not hide a real bug (a
# real bug fails both attempts).  Sets REMOTE_GUEST and REMOTE_DETAIL.
remote_migrate_retry() {
    REMOTE_GUEST=$1
    _rr_tf=$(triple_faults)
    _rr_ptf=$(peer_triple_faults)
    remote_migrate "$1" "$2" && return 0
    # Only the triple-fault flake earns a second try: here during the
    # transfer, or on host 2 after the guest arrived (its agent's count).
    case $REMOTE_DETAIL in
        "xl migrate failed"*)
            [ "$(triple_faults)" -gt "$_rr_tf" ] || return 1
            _rr_first="$REMOTE_DETAIL: the guest triple-faulted during the transfer" ;;
        "no ticks past"*)
            sleep 3     # the agent's count is a second or two old
            [ "$(peer_triple_faults)" -gt "$_rr_ptf" ] || return 1
            _rr_first="$REMOTE_DETAIL: the guest triple-faulted on host 2 after it arrived"
            echo "$1" > "$SHARED/h2-destroy"
            wait_file "$SHARED/h2-destroyed" 60
            rm -f "$SHARED/h2-destroyed"
            # Host 2's receiver listens once more when asked.
            touch "$SHARED/.receive-again"
            _rr_n=0
            while [ -e "$SHARED/.receive-again" ] && [ $_rr_n -lt 60 ]; do
                sleep 1; _rr_n=$((_rr_n + 1))
            done
            sleep 3 ;;
        *) return 1 ;;
    esac
    say "first attempt failed ($_rr_first); once more with a fresh guest"
    xl destroy "$1" 2>/dev/null
    REMOTE_GUEST=$1-retry
    if ! start_guest "$REMOTE_GUEST" "$2"; then
        REMOTE_DETAIL="$_rr_first; retry guest did not start"
        return 1
    fi
    if remote_migrate "$REMOTE_GUEST" "$2"; then
        REMOTE_DETAIL="$REMOTE_DETAIL; second attempt, first: $_rr_first"
        return 0
    fi
    REMOTE_DETAIL="$_rr_first; retry: $REMOTE_DETAIL"
    return 1
}

# ---------------------------------------------------------------- pool
#
# Both hosts run xlmigd (docs/xlmigd.md) on port POOL_PORT of their link
# address, TLS from a test CA that build-image.sh makes for each run
# (/etc/xlmig/tls: certificates naming 10.77.0.1 and 10.77.0.2 as IP SANs,
# and pre-shared keys), state in /var/lib/xlmig, log in XLMIGD_LOG.  Two
# layouts, one configuration file each in /etc/xlmig/ (written by
# pool_configs; /etc/xlmig/xlmigd.conf, which xlmig-xe reads by default,
# links to the one in use):
#   joint.conf      one pool "xenhost" (POOL_UUID): h1 (10.77.0.1:7700)
#                   its master, h2 a member; CA pool-ca.pem
#   solo.conf       two pools of one host each: "xenhost-h1" (POOL_UUID_H1)
#                   and "xenhost-h2" (POOL_UUID_H2), each its own master
#                   and CA (solo1-ca.pem, solo2-ca.pem)
#   remote-hP.conf  the other host's one-host pool as seen from this one:
#                   its master, pool uuid and TLS material (a certificate
#                   of this host signed by that pool's CA): the credentials
#                   a cross-pool migration is given (remote-config=FILE)
# POOL_AUTH=psk (set before start_pool) uses the pools' pre-shared keys
# instead of certificates.

POOL_PORT=7700
XLMIG_ETC=/etc/xlmig
XLMIG_TLS=/etc/xlmig/tls
XLMIG_STATE=/var/lib/xlmig
XLMIGD_LOG=/var/log/xlmig/xlmigd.log
XLMIGD_PID=/run/xlmigd.pid
POOL_UUID=5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a00
POOL_UUID_H1=5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a01
POOL_UUID_H2=5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a02
REMOTE_CONF=$XLMIG_ETC/remote-h$PEER.conf
: "${POOL_AUTH:=x509}"

# _pool_conf FILE MASTER POOL-NAME POOL-UUID TLS: one configuration of
# this host: master 10.77.0.MASTER, TLS material TLS-ca.pem, TLS-hN.pem,
# TLS-hN.key (or TLS.psk with POOL_AUTH=psk).
_pool_conf() {
    {
        echo "name = h$HOST"
        echo "address = 10.77.0.$HOST:$POOL_PORT"
        echo "master = 10.77.0.$2:$POOL_PORT"
        echo "pool-name = $3"
        echo "pool-uuid = $4"
        if [ "$POOL_AUTH" = psk ]; then
            echo "psk-file = $XLMIG_TLS/$5.psk"
        else
            echo "tls-cert = $XLMIG_TLS/$5-h$HOST.pem"
            echo "tls-key = $XLMIG_TLS/$5-h$HOST.key"
            echo "tls-ca = $XLMIG_TLS/$5-ca.pem"
        fi
        echo "state-dir = $XLMIG_STATE"
        # The test hook a rolling upgrade's test writes (vmm-rolling.sh).
        echo "test-version-file = $XLMIG_STATE/test-version"
    } > "$1"
}

# pool_configs: write joint.conf, solo.conf and remote-hP.conf (above).
pool_configs() {
    [ -d "$XLMIG_TLS" ] || { say "no $XLMIG_TLS: the image has no pool TLS material"; return 1; }
    mkdir -p "$XLMIG_ETC" "$XLMIG_STATE" "${XLMIGD_LOG%/*}"
    _pool_conf "$XLMIG_ETC/joint.conf" 1 xenhost "$POOL_UUID" pool
    eval "_pc_u=\$POOL_UUID_H$HOST _pc_p=\$POOL_UUID_H$PEER"
    _pool_conf "$XLMIG_ETC/solo.conf" "$HOST" "xenhost-h$HOST" "$_pc_u" "solo$HOST"
    _pool_conf "$REMOTE_CONF" "$PEER" "xenhost-h$PEER" "$_pc_p" "solo$PEER"
}

# _conf_get FILE KEY: a value from a pool configuration.
_conf_get() { sed -n "s/^$2 *= *//p" "$1" | head -n 1; }

# _pool_state_for UUID: before this host's daemon starts as the master of
# pool UUID: the master's STATE/pool.json belongs to one pool (xlmigd
# refuses another's), so keep each pool's file aside while the other pool
# runs (pool.json.UUID) and put this pool's back.
_pool_state_for() {
    _ps=$XLMIG_STATE/pool.json
    if [ -f "$_ps" ]; then
        _ps_cur=$(grep -o '"uuid": *"[^"]*"' "$_ps" | head -n 1 |
            sed 's/.*"\([^"]*\)"$/\1/')
        [ "$_ps_cur" = "$1" ] && return 0
        mv -f "$_ps" "$_ps.${_ps_cur:-unknown}"
    fi
    [ ! -f "$_ps.$1" ] || mv -f "$_ps.$1" "$_ps"
}

# xlmigd_running: this host's xlmigd (started by these helpers) runs.
xlmigd_running() { [ -f "$XLMIGD_PID" ] && alive "$(cat "$XLMIGD_PID")"; }

# _pool_hosts: the pool's hosts (name-labels, one a line) as its master
# says, through /etc/xlmig/xlmigd.conf; fails when the master does not
# answer.
_pool_hosts() {
    _ph=$(timeout 30 xlmig-xe host-list params=name-label --minimal 2>/dev/null) || return 1
    echo "$_ph" | tr ',' '\n'
}

# _xlmigd_ready TIMEOUT: wait until this host's daemon listens and its
# master lists this host; XLMIGD_LISTEN: seconds until it listened.
_xlmigd_ready() {
    _xr_t=$(uptime_s) XLMIGD_LISTEN=""
    clock; _xr_end=$((NOW + $1))
    while clock; [ "$NOW" -lt "$_xr_end" ]; do
        xlmigd_running || { say "xlmigd exited"; dump_xlmigd 20; return 1; }
        if [ -z "$XLMIGD_LISTEN" ]; then
            ss -Hltn "sport = :$POOL_PORT" 2>/dev/null | grep -q . &&
                XLMIGD_LISTEN=$(elapsed "$_xr_t")
        fi
        [ -n "$XLMIGD_LISTEN" ] && _pool_hosts | grep -qx "h$HOST" && return 0
        sleep 0.2
    done
    say "xlmigd not ready after ${1}s"
    dump_xlmigd 20
    return 1
}

# _start_xlmigd CONF: start xlmigd with CONF in the background, its output
# appended to XLMIGD_LOG, its pid in XLMIGD_PID.
_start_xlmigd() {
    echo "$1" > /run/xlmigd.conf
    echo "==== xlmigd started $(date '+%F %T') with $1" >> "$XLMIGD_LOG"
    XLMIG_STATE_DIR= xlmigd --foreground --config "$1" >> "$XLMIGD_LOG" 2>&1 &
    echo $! > "$XLMIGD_PID"
}

# start_pool [joint|solo]: this host's part of the pool layout (default
# joint; run it on both hosts): its configurations, its local SR
# (local_sr), its facts on the share (host_facts), then its xlmigd,
# started once the master answers (a member waits for it, up to
# POOL_WAIT seconds, default 900); returns when this host's daemon serves
# and its master lists it (wait_pool_hosts 2 waits for the other host).
# Also starts the agent (start_agent).  A daemon of the other layout is
# stopped first.  About 5 s on a master.
start_pool() {
    _sp_mode=${1:-joint}
    case $_sp_mode in
        joint|solo) ;;
        *) say "start_pool: joint or solo, not '$_sp_mode'"; return 2 ;;
    esac
    _sp_t=$(uptime_s)
    if xlmigd_running; then stop_xlmigd || return 1; fi
    pool_configs || return 1
    ln -sfn "$_sp_mode.conf" "$XLMIG_ETC/xlmigd.conf"
    _sp_conf=$XLMIG_ETC/$_sp_mode.conf
    local_sr || return 1
    host_facts
    start_agent
    # The dom0 clocks drift apart under TCG (tens of ms in 15 minutes):
    # set this one from the build machine's again.
    clock_offset set > /dev/null
    if [ "$(_conf_get "$_sp_conf" master)" = "$(_conf_get "$_sp_conf" address)" ]; then
        _pool_state_for "$(_conf_get "$_sp_conf" pool-uuid)"
    else
        say "start_pool: waiting for the master $(_conf_get "$_sp_conf" master)"
        clock; _sp_end=$((NOW + ${POOL_WAIT:-900}))
        until _pool_hosts > /dev/null; do
            clock
            if [ "$NOW" -ge "$_sp_end" ]; then
                say "start_pool: the master did not answer in ${POOL_WAIT:-900}s"
                return 1
            fi
            sleep 2
        done
    fi
    _sp_d=$(uptime_s)
    _start_xlmigd "$_sp_conf"
    _xlmigd_ready 120 || return 1
    say "start_pool $_sp_mode: xlmigd $(cat "$XLMIGD_PID") serves h$HOST in pool $(_conf_get "$_sp_conf" pool-name) ($(_conf_get "$_sp_conf" pool-uuid), $POOL_AUTH) after $(elapsed "$_sp_t")s (the daemon listened after ${XLMIGD_LISTEN}s, was listed after $(elapsed "$_sp_d")s)"
}

# wait_pool_hosts N TIMEOUT: wait until the pool (through xlmigd.conf) has
# at least N hosts.
wait_pool_hosts() {
    clock; _wp_end=$((NOW + $2))
    while clock; [ "$NOW" -lt "$_wp_end" ]; do
        [ "$(_pool_hosts | grep -c .)" -ge "$1" ] && return 0
        sleep 2
    done
    return 1
}

# _xlmigd_gone TIMEOUT: wait until the daemon of XLMIGD_PID has exited.
_xlmigd_gone() {
    _xg_pid=$(cat "$XLMIGD_PID" 2>/dev/null) || return 0
    clock; _xg_end=$((NOW + $1))
    while alive "$_xg_pid"; do
        clock
        [ "$NOW" -ge "$_xg_end" ] && return 1
        sleep 0.1
    done
    wait "$_xg_pid" 2>/dev/null
    return 0
}

# stop_xlmigd: SIGTERM to this host's xlmigd and wait (15 s at most) until
# it is gone; after that it gets SIGKILL and stop_xlmigd returns 1.  Its
# workers detach and go on (docs/specs/vm-migrate.md).
stop_xlmigd() {
    xlmigd_running || return 0
    kill -TERM "$(cat "$XLMIGD_PID")"
    _xlmigd_gone 15 && return 0
    say "xlmigd did not stop on SIGTERM in 15s: SIGKILL"
    kill -KILL "$(cat "$XLMIGD_PID")"
    _xlmigd_gone 5
    return 1
}

# kill_xlmigd: kill -9 of this host's xlmigd (its workers see their pipe
# break), and wait until it is gone.
kill_xlmigd() {
    xlmigd_running || return 0
    kill -KILL "$(cat "$XLMIGD_PID")"
    _xlmigd_gone 10
}

# restart_xlmigd: start this host's xlmigd again with the configuration it
# last ran with (stopping it first if it runs); returns once it serves.
restart_xlmigd() {
    [ -f /run/xlmigd.conf ] || { say "restart_xlmigd: start_pool first"; return 1; }
    if xlmigd_running; then stop_xlmigd || return 1; fi
    _start_xlmigd "$(cat /run/xlmigd.conf)"
    _xlmigd_ready 120
}

# dump_xlmigd [LINES]: the daemon's state and the tail of its log.
dump_xlmigd() {
    say "---- xlmigd on h$HOST: pid $(cat "$XLMIGD_PID" 2>/dev/null), $(xlmigd_running && echo running || echo not running), config $(cat /run/xlmigd.conf 2>/dev/null)"
    [ -f "$XLMIGD_LOG" ] && tail -n "${1:-30}" "$XLMIGD_LOG" | sed 's/^/### | /'
    if xlmigd_running; then
        say "---- pool hosts, tasks"
        show timeout 30 xlmig-xe host-list
        show timeout 30 xlmig-xe task-list
    fi
}

# ---------------------------------------------------------------- storage
#
# Each host has a local SR of its own, LOCAL_SR_NAME (local-h1, local-h2)
# in LOCAL_SR_PATH, a directory of dom0's own root (a RAM disk, not the
# share), registered in /var/lib/xlmig.

LOCAL_SR_NAME=local-h$HOST
LOCAL_SR_PATH=/srv/local-sr
# The pool's CPU level as xl's cpuid= (host 1's CPU without lahf_lm, which
# host 2 lacks).  Xen 4.17's libxl knows the feature as "lahfsahf" only:
# with "lahf_lm=0" xl says "unknown CPUID flag name" and boots the guest
# with the whole CPU anyway.
POOL_CPUID=host,lahfsahf=0

# local_sr: create this host's local SR if it is not registered yet; its
# uuid in LOCAL_SR and on the share ($SHARED/hN.local-sr).
local_sr() {
    LOCAL_SR=$(xlmig-xe sr-list name-label="$LOCAL_SR_NAME" --minimal 2>/dev/null)
    if [ -z "$LOCAL_SR" ]; then
        # dom0's root is an initramfs, whose free space statvfs does not
        # tell: the SR gets a tmpfs of its own, so that the space checks
        # of storage motion see real numbers.
        mkdir -p "$LOCAL_SR_PATH"
        mountpoint -q "$LOCAL_SR_PATH" ||
            mount -t tmpfs -o "size=${LOCAL_SR_MB:-448}m,mode=0700" tmpfs \
                "$LOCAL_SR_PATH" || { say "local_sr: no tmpfs"; return 1; }
        LOCAL_SR=$(xlmig-xe sr-create name-label="$LOCAL_SR_NAME" type=file \
            device-config:path="$LOCAL_SR_PATH") || {
            say "local_sr: sr-create failed"; return 1; }
    fi
    [ ! -d "$SHARED" ] || echo "$LOCAL_SR" > "$SHARED/h$HOST.local-sr"
}

# peer_local_sr: the other host's local SR uuid (after its local_sr), in
# PEER_SR and on stdout.
peer_local_sr() {
    PEER_SR=$(cat "$SHARED/h$PEER.local-sr" 2>/dev/null)
    [ -n "$PEER_SR" ] && echo "$PEER_SR"
}

# host_facts: this host's free and total memory (MiB), pCPUs and local SR
# into $SHARED/hN.facts, "key=value" lines, for the other host.
host_facts() {
    [ -d "$SHARED" ] || return 1
    xl info | awk -v sr="$LOCAL_SR" '
        $1 == "free_memory" { print "free_memory=" $3 }
        $1 == "total_memory" { print "total_memory=" $3 }
        $1 == "nr_cpus" { print "nr_cpus=" $3 }
        END { print "local_sr=" sr }' > "$SHARED/.h$HOST.facts.tmp" &&
        mv -f "$SHARED/.h$HOST.facts.tmp" "$SHARED/h$HOST.facts"
}

# peer_fact KEY: a value from the other host's host_facts.
peer_fact() { sed -n "s/^$1=//p" "$SHARED/h$PEER.facts" 2>/dev/null; }

# cpu_records [TIMEOUT]: record this host's CPU as hN (host-cpu-record:
# its state dir, and $SHARED/hN.cpu.json for the other host), then import
# the other host's record once it is on the share (TIMEOUT seconds,
# default 300); vm-cpu-check host=hP needs it.  Run it on both hosts.
cpu_records() {
    xlmig-xe host-cpu-record host="h$HOST" file="/tmp/h$HOST.cpu.json" > /dev/null &&
        cp "/tmp/h$HOST.cpu.json" "$SHARED/.h$HOST.cpu.tmp" &&
        mv -f "$SHARED/.h$HOST.cpu.tmp" "$SHARED/h$HOST.cpu.json" || {
        say "cpu_records: host-cpu-record failed"; return 1; }
    wait_file "$SHARED/h$PEER.cpu.json" "${1:-300}" || {
        say "cpu_records: no record of h$PEER on the share"; return 1; }
    xlmig-xe host-cpu-import file="$SHARED/h$PEER.cpu.json" > /dev/null
}

# vdi_guest NAME [MEMORY_MB [CPUID]]: a guest whose disk is a VDI of this
# host's local SR: vdi-create (64 MiB qcow2), the marker
# HELLO-FROM-VDI-<uuid> in its first sector, vbd-create vm=NAME
# device=xvda, an xl configuration pointing at the VDI's file, xl create;
# then it waits until the guest ticks and has read the marker, and records
# the CPU it booted with (vm-cpu-record).  MEMORY_MB defaults to 128; CPUID
# to the pool's level, POOL_CPUID, which host 2 (without lahf_lm) accepts;
# "" boots with the host's whole CPU (host 2 refuses it).  Sets GUEST_VDI
# and GUEST_VDI_FILE; returns non-zero after a dump on failure.
vdi_guest() {
    _vg_name=$1 _vg_mem=${2:-128} _vg_cpuid=${3-$POOL_CPUID}
    GUEST_VDI="" GUEST_VDI_FILE=""
    local_sr || return 1
    rm -f "$CONSOLE_LOGS/guest-$_vg_name".log "$CONSOLE_LOGS/guest-$_vg_name"--*.log
    if ! GUEST_VDI=$(xlmig-xe vdi-create sr-uuid="$LOCAL_SR" \
            name-label="$_vg_name-disk" virtual-size=64MiB); then
        say "vdi_guest $_vg_name: vdi-create failed"
        return 1
    fi
    GUEST_VDI_FILE=$LOCAL_SR_PATH/$GUEST_VDI.qcow2
    _vg_t=$(uptime_s)
    if guest_disk "$GUEST_VDI_FILE" "HELLO-FROM-VDI-$GUEST_VDI" &&
        xlmig-xe vbd-create vm="$_vg_name" vdi-uuid="$GUEST_VDI" device=xvda &&
        guest_config "$_vg_name" "$GUEST_VDI_FILE" "$_vg_mem" "$_vg_cpuid" &&
        boot_guest "$_vg_name" &&
        guest_log "$_vg_name" | grep -aq "GUEST-DISK-READ: HELLO-FROM-VDI-$GUEST_VDI" &&
        xlmig-xe vm-cpu-record vm="$_vg_name" > /dev/null; then
        say "vdi_guest $_vg_name: ${_vg_mem} MiB, cpuid '${_vg_cpuid}', VDI $GUEST_VDI of $LOCAL_SR_NAME: ticking after $(elapsed "$_vg_t")s"
        return 0
    fi
    say "vdi_guest $_vg_name: setting it up failed"
    dump_guest "$_vg_name"
    return 1
}

# big_vdi_guest NAME: vdi_guest NAME with more memory than the other host
# has free (its host_facts free_memory + 64 MiB), for the free-memory
# refusal; the pool's CPU level.  Fails, saying so, when this host has not
# that much free itself.  Sets BIG_MEM (MiB) too.
big_vdi_guest() {
    _bg_peer=$(peer_fact free_memory)
    _bg_free=$(xl info | sed -n 's/^free_memory *: //p')
    [ -n "$_bg_peer" ] || { say "big_vdi_guest: no facts of host $PEER (start_pool there first)"; return 1; }
    BIG_MEM=$((_bg_peer + 64))
    if [ "$BIG_MEM" -gt $((_bg_free - 16)) ]; then
        say "big_vdi_guest: $BIG_MEM MiB (host $PEER has $_bg_peer free) do not fit here ($_bg_free free)"
        return 1
    fi
    say "big_vdi_guest $1: $BIG_MEM MiB (host $PEER has $_bg_peer MiB free, this host $_bg_free)"
    vdi_guest "$1" "$BIG_MEM"
}

# vdi_guest_destroy NAME: xl destroy, then its VBDs and their VDIs.
vdi_guest_destroy() {
    xl destroy "$1" 2>/dev/null
    for _vd in $(xlmig-xe vbd-list vm="$1" --minimal 2>/dev/null | tr ',' ' '); do
        xlmig-xe vbd-destroy vm="$1" vdi-uuid="$_vd" &&
            xlmig-xe vdi-destroy uuid="$_vd"
    done
}
