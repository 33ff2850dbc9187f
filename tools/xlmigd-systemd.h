/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmigd under systemd (tools/xlmigd.service): the readiness protocol
 * and whether standard error goes to the journal.
 */
#ifndef XLMIGD_SYSTEMD_H
#define XLMIGD_SYSTEMD_H

#include <stdbool.h>

/*
 * Tell the service manager @state ("READY=1", "STOPPING=1", ...; lines
 * of sd_notify(3)) by one datagram to $NOTIFY_SOCKET.  0 when sent or
 * when there is no $NOTIFY_SOCKET (not under systemd); -1 when it could
 * not be sent, logged here.  Thread-safe.
 */
int xlmigd_sd_notify(const char *state);

/*
 * Is standard error the journal's stream that systemd gave this process
 * ($JOURNAL_STREAM names its device and inode, systemd.exec(5))?  Then
 * journald stamps each line, and the log adds no time of its own.
 * Decided once; thread-safe.
 */
bool xlmigd_stderr_is_journal(void);

#endif /* XLMIGD_SYSTEMD_H */
