/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig channel-send / channel-listen: the stream channel as the
 * transport of upstream `xl migrate -s COMMAND` (docs/channel-cli.md).
 */
#ifndef XLMIG_CMD_CHANNEL_H
#define XLMIG_CMD_CHANNEL_H

#include <getopt.h>

/* Rows of xlmig's command table. */
extern const char xlmig_channel_send_summary[];
extern const char xlmig_channel_send_usage[];
extern const struct option xlmig_channel_send_options[];
extern const char xlmig_channel_listen_summary[];
extern const char xlmig_channel_listen_usage[];
extern const struct option xlmig_channel_listen_options[];

/* The handlers: argv[0] is the sub-command's name.  Exit status. */
int xlmig_cmd_channel_send(int argc, char **argv);
int xlmig_cmd_channel_listen(int argc, char **argv);

#endif /* XLMIG_CMD_CHANNEL_H */
