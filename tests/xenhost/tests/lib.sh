# Helpers for test scripts that run inside a test host's dom0.
# Sourced as /xenhost/lib.sh (POSIX sh: dom0 runs them with /bin/sh).
#
# Everything a test prints on lines starting with "###" is shown live by
# run.sh; "### RESULT <name>: OK|FAIL ..." lines are what it scores, against
# the names announced beforehand with "### PLAN <name>...".

# This host's number (1 or 2) and how many hosts the run has, from the
# dom0 kernel command line that run.sh builds.
HOST=$(sed -n 's/.*xenhost\.host=\([0-9]*\).*/\1/p' /proc/cmdline)
HOSTS=$(sed -n 's/.*xenhost\.hosts=\([0-9]*\).*/\1/p' /proc/cmdline)
: "${HOST:=1}" "${HOSTS:=1}"
SHARED=/shared                      # virtio-9p directory both hosts see
CPU_CHECK_PORT=8022                 # host 2's xlmig channel-listen
CONSOLE_LOGS=/var/log/xen/console   # xenconsoled writes guest-NAME.log here
MIGRATE_PORT=8002                   # host 2's migration receiver (TCP)

uptime_s() { cut -d' ' -f1 /proc/uptime; }

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

# plan NAME...: announce the results this script will report.
plan() { echo "### PLAN $*"; }

# result NAME OK|FAIL [DETAIL...]
result() {
    _r_name=$1 _r_status=$2
    shift 2
    echo "### RESULT $_r_name: $_r_status${*:+ $*}"
}

# elapsed START: seconds since START (an uptime_s value), one decimal.
elapsed() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- guests

# guest_config NAME DISK: write /etc/xen/NAME.cfg for a PVH guest booting
# the Debian kernel with the ticking busybox initramfs, its qcow2 disk
# served by QEMU (qdisk backend).
guest_config() {
    cat > "/etc/xen/$1.cfg" <<CFG
name = "$1"
type = "pvh"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/guest-initrd.cpio.gz"
extra = "console=hvc0 loglevel=4"
memory = 128
vcpus = 1
vif = []
on_crash = "preserve"
disk = [ 'format=qcow2,vdev=xvda,access=rw,backendtype=qdisk,target=$2' ]
CFG
}

# guest_disk FILE: a 64 MiB qcow2 whose first sector holds a marker the
# guest reads back at boot.
guest_disk() {
    printf 'HELLO-FROM-QCOW2-DISK' > /tmp/disk.raw
    truncate -s 64M /tmp/disk.raw
    qemu-img convert -f raw -O qcow2 /tmp/disk.raw "$1"
    _gd_rc=$?
    rm -f /tmp/disk.raw
    return $_gd_rc
}

# guest_log NAME [DIR]: the guest's console output so far.  Migration and
# restore create the domain under temporary names (NAME--incoming), whose
# logs are separate files: take them all, oldest first.
guest_log() {
    _gl_dir=${2:-$CONSOLE_LOGS}
    # shellcheck disable=SC2046
    cat $(ls -tr "$_gl_dir/guest-$1".log "$_gl_dir/guest-$1"--*.log \
          2>/dev/null) 2>/dev/null
}

# guest_tick NAME [DIR]: highest GUEST-TICK number seen (empty if none).
guest_tick() {
    guest_log "$@" | awk '/GUEST-TICK/ { if (!s || $2 + 0 > m) m = $2 + 0; s = 1 }
                          END { if (s) print m }'
}

# guest_boots NAME [DIR]: how many times the guest booted.
guest_boots() { guest_log "$@" | grep -ac 'GUEST-BOOTED'; }

# wait_tick NAME MIN TIMEOUT [DIR]: wait until the guest's tick exceeds
# MIN, printing each new tick (so a watcher sees the guest run).
wait_tick() {
    _wt_n=0 _wt_last=""
    while [ "$_wt_n" -lt "$3" ]; do
        _wt_t=$(guest_tick "$1" "$4")
        if [ -n "$_wt_t" ] && [ "$_wt_t" != "$_wt_last" ]; then
            say "guest $1: GUEST-TICK $_wt_t${4:+ (log in $4)}"
            _wt_last=$_wt_t
        fi
        [ -n "$_wt_t" ] && [ "$_wt_t" -gt "$2" ] && return 0
        sleep 1
        _wt_n=$((_wt_n + 1))
    done
    return 1
}

# disk_tick FILE: the TICK number the guest last wrote to its disk image
# (at 1 MiB), read with qemu-io; empty if none.  qemu-io's dump shows the
# bytes as hex and as text, where it prints '-' as '.'.
disk_tick() {
    qemu-io -r -f qcow2 -c 'read -v 1048576 16' "$1" |
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
}

# wait_file FILE TIMEOUT: wait until FILE exists (e.g. on the 9p share).
wait_file() {
    _wf_n=0
    while [ "$_wf_n" -lt "$2" ]; do
        [ -e "$1" ] && return 0
        sleep 1
        _wf_n=$((_wf_n + 1))
    done
    return 1
}

# ---------------------------------------------------------------- two hosts
#
# Host 2 runs tests/receiver.sh.  The hosts talk through the 9p share:
#   host 2 -> $SHARED/.h2-ready         its migration receiver listens
#   host 2 -> $SHARED/h2-console/       copies of its guest console logs
#   host 1 -> $SHARED/h2-destroy        "please destroy guest NAME" ...
#   host 2 -> $SHARED/h2-destroyed      ... done (console copies final)
#   dom0-init -> $SHARED/.hostN-exit    host N's test script has ended
# and the guest's memory goes over the emulated link, 10.77.0.1 -> .2.

H2_CONSOLE=$SHARED/h2-console

# remote_migrate NAME DISK: live-migrate guest NAME to host 2, then check it
# keeps running there and that its disk (on the share) has the ticks it
# wrote on host 2.  Sets REMOTE_DETAIL; returns 0 if all of that holds.
remote_migrate() {
    _rm_name=$1 _rm_disk=$2
    REMOTE_DETAIL=""
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
    say "watching $_rm_name's ticks on host 2 (console copies in $H2_CONSOLE)"
    if ! wait_tick "$_rm_name" $((_rm_t0 + 2)) 180 "$H2_CONSOLE"; then
        REMOTE_DETAIL="no ticks past $_rm_t0 on host 2 (saw: $(guest_tick "$_rm_name" "$H2_CONSOLE"))"
        guest_log "$_rm_name" "$H2_CONSOLE" | tail -n 10 | sed 's/^/### | /'
        return 1
    fi
    _rm_boots=$(guest_boots "$_rm_name" "$H2_CONSOLE")
    # Stop the guest on host 2 so its disk is quiet, then read the disk.
    echo "$_rm_name" > "$SHARED/h2-destroy"
    if ! wait_file "$SHARED/h2-destroyed" 120; then
        REMOTE_DETAIL="host 2 did not destroy the guest"
        return 1
    fi
    _rm_last=$(guest_tick "$_rm_name" "$H2_CONSOLE")
    _rm_dtick=$(disk_tick "$_rm_disk")
    say "after the migration: tick before $_rm_t0, last tick on host 2 $_rm_last, disk says TICK-$_rm_dtick, boots on host 2 $_rm_boots"
    REMOTE_DETAIL="migrate ${_rm_took}s, ticks $_rm_t0 -> $_rm_last on host 2, disk TICK-$_rm_dtick"
    [ -n "$_rm_last" ] || { REMOTE_DETAIL="$REMOTE_DETAIL, host 2's console log is empty"; return 1; }
    [ "$_rm_boots" = 0 ] || { REMOTE_DETAIL="$REMOTE_DETAIL, guest rebooted"; return 1; }
    # The guest prints a tick, then writes it: the disk may be one behind.
    [ -n "$_rm_dtick" ] && [ "$_rm_dtick" -gt $((_rm_t0 + 2)) ] &&
        [ "$_rm_dtick" -ge $((_rm_last - 1)) ] ||
        { REMOTE_DETAIL="$REMOTE_DETAIL: disk does not hold the ticks written on host 2"; return 1; }
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
    guest_disk "$2" && guest_config "$1" "$2" &&
        timeout 300 xl create "/etc/xen/$1.cfg" && wait_tick "$1" 1 300 &&
        return 0
    dump_guest "$1"
    return 1
}

# triple_faults: how many guest triple faults Xen has logged so far.
triple_faults() {
    xl dmesg | grep -c 'Triple fault'
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
    remote_migrate "$1" "$2" && return 0
    case $REMOTE_DETAIL in
        "xl migrate failed"*) ;;
        *) return 1 ;;
    esac
    # Only the triple-fault flake earns a second try.
    [ "$(triple_faults)" -gt "$_rr_tf" ] || return 1
    _rr_first="$REMOTE_DETAIL: the guest triple-faulted during the transfer"
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
