/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Child processes (internal): qemu-img, qemu-nbd and qemu-storage-daemon
 * run with fork/exec, their arguments as an argv array, never a shell.
 *
 * A daemon we start is remembered by its pid and its start time (field
 * 22 of /proc/PID/stat), so that a record read after a crash never makes
 * us signal a process that merely reuses the number.
 */
#ifndef XLMIG_PROC_H
#define XLMIG_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XLMIG__PROC_ERR_MAX 600     /* bytes of a child's complaint kept */

/*
 * Run @bin (looked up in PATH) with @argv (argv[0] is replaced by @bin;
 * NULL-terminated), stdin /dev/null.  Its stdout (at most @out_cap
 * bytes, more is an error; @out may be NULL with @out_cap 0: dropped)
 * into @out, *out_len_r (may be NULL); its stderr's first bytes, made
 * one line, into @err.  0 when it exited 0; else LIBXLMIG_ERR_IO with
 * @err saying why (not logged: the caller names the VDI).
 */
int xlmig__proc_run(const char *bin, char *const argv[], char *out,
                    size_t out_cap, size_t *out_len_r, char *err,
                    size_t err_len);

/* The program for qemu-img, qemu-nbd, qemu-storage-daemon: $XLMIG_QEMU_IMG,
 * $XLMIG_QEMU_NBD, $XLMIG_QSD when set, else the name. */
const char *xlmig__qemu_img_bin(void);
const char *xlmig__qemu_nbd_bin(void);
const char *xlmig__qsd_bin(void);

/* The start time of process @pid (clock ticks since boot), 0 when there
 * is no such process (or it is a zombie). */
uint64_t xlmig__proc_start_time(pid_t pid);

/* Seconds on the monotonic clock. */
double xlmig__now_s(void);

/* Sleep @ms milliseconds, whatever signals come. */
void xlmig__sleep_ms(unsigned int ms);

/* Is @pid alive and the same process (start time @start)? */
bool xlmig__proc_alive(pid_t pid, uint64_t start);

/*
 * Stop process @pid started at @start: SIGTERM, up to @grace_ms for it
 * to go, then SIGKILL and up to a second more.  0 when it is gone (or
 * was never there); LIBXLMIG_ERR_TIMEOUT when it would not die.
 */
int xlmig__proc_stop(pid_t pid, uint64_t start, unsigned int grace_ms);

/*
 * Read a pid file written by a daemon (one decimal number, at most 32
 * bytes).  0 and *pid_r; LIBXLMIG_ERR_IO (errno kept) or
 * LIBXLMIG_ERR_PROTOCOL for text that is not a pid.
 */
int xlmig__pidfile_read(const char *path, pid_t *pid_r);

/*
 * The daemon that pid file @path names, when it still runs and is the
 * one that wrote it: its command line has @path as an argument (as
 * qemu-nbd's --pid-file and qemu-storage-daemon's --pidfile do), so a
 * reused pid is never taken for it.  True and *pid_r, *start_r.  For a
 * daemon started by a process killed before it recorded the pid.
 */
bool xlmig__pidfile_daemon(const char *path, pid_t *pid_r,
                           uint64_t *start_r);

/*
 * Does a process listen on the Unix socket bound at @path (absolute, as
 * it was bound)?  1 yes, 0 no (the socket file may remain after its
 * process died), -1 unknown (/proc/net/unix unreadable).  Read from the
 * kernel's table, so the listener sees no connection: for a QEMU
 * monitor, which serves one client at a time.
 */
int xlmig__unix_listening(const char *path);

/*
 * Append @value to @buf (@cap bytes, NUL-ended, at *len_r) for QEMU's
 * option syntax: every ',' doubled.  false when it does not fit.
 */
bool xlmig__qemu_opt_append(char *buf, size_t cap, size_t *len_r,
                            const char *value);

/*
 * In a child between fork() and exec(): the signals as a fresh process
 * has them, whatever the parent's thread blocked or ignored (xlmigd's
 * threads block SIGTERM, and a daemon started from one would ignore the
 * SIGTERM that stops it; SIG_IGN survives exec).
 */
void xlmig__child_signals_reset(void);

/*
 * Start @path (looked up in PATH unless it holds a '/') with @argv
 * (NULL-terminated), its descriptor i being @fds[i] for i < @nfds (-1:
 * left as it is; 0 stdin, 1 stdout, 2 stderr, 3 and up), the signals
 * reset (xlmig__child_signals_reset()).  No @fds[i] may be a number
 * below @nfds other than i.  0 and *pid_r once the program runs (the
 * caller waits for it); else an errno value, the fork's, a dup2's or the
 * exec's, with nothing left running.
 */
int xlmig__proc_spawn(const char *path, char *const argv[], const int *fds,
                      int nfds, pid_t *pid_r);

/*
 * A run of xlmig__proc_filter(): what goes in (the caller sets it) and
 * what came out (xlmig__proc_filter() sets it).
 */
struct xlmig__proc_filter_io {
    const char *in;             /* bytes for its stdin, then end of file */
    size_t in_len;
    char *out;                  /* where its stdout goes ... */
    size_t out_cap;             /* ... at most this many bytes of it */
    unsigned int timeout_ms;    /* from its start until it is killed */

    size_t out_len;             /* bytes of stdout in out */
    bool out_over;              /* it printed more than out_cap: killed */
    bool timed_out;             /* timeout_ms passed: killed */
    int status;                 /* the leader's wait status (WIFEXITED...) */
    pid_t pid;                  /* the leader, also its group's id */
    char err[XLMIG__PROC_ERR_MAX];  /* the last bytes of its stderr, made
                                     * one line */
    bool err_cut;               /* earlier bytes of its stderr dropped */
};

/*
 * Run @path (looked up in PATH unless it holds a '/') with @argv
 * (NULL-terminated) as the leader of a process group of its own: its
 * stdin io->in (a socket; it may leave it unread), its stdout into
 * io->out, the tail of its stderr into io->err, no other descriptor,
 * the signals reset.  It ends when the leader has exited, once it
 * printed more than out_cap bytes, or when timeout_ms have passed; then
 * its whole process group is killed (SIGKILL: whatever the leader left
 * running goes too, unless it made a group or session of its own) and
 * the leader reaped, so that nothing of it runs when this returns.
 * 0 once it ran (then see status, out_over, timed_out);
 * LIBXLMIG_ERR_IO with io->err saying why when it could not be started
 * (or watched: then it was killed).
 * Logs nothing: the caller names what it ran.
 */
int xlmig__proc_filter(const char *path, char *const argv[],
                       struct xlmig__proc_filter_io *io);

#endif /* XLMIG_PROC_H */
