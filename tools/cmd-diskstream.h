/* SPDX-License-Identifier: LGPL-2.1-only */
/* xlmig sxm-receive-data / sxm-send-data: a disk through the stream
 * channel (docs/specs/diskstream.md). */
#ifndef XLMIG_CMD_DISKSTREAM_H
#define XLMIG_CMD_DISKSTREAM_H

#include <getopt.h>

#define XLMIG_DISKSTREAM_COMMANDS(X) \
    X(sxm_receive_data, "sxm-receive-data") \
    X(sxm_send_data, "sxm-send-data")

#define XLMIG_DISKSTREAM_DECLARE(id, name) \
    extern const char xlmig_##id##_summary[]; \
    extern const char xlmig_##id##_usage[]; \
    extern const struct option xlmig_##id##_options[]; \
    int xlmig_cmd_##id(int argc, char **argv);
XLMIG_DISKSTREAM_COMMANDS(XLMIG_DISKSTREAM_DECLARE)
#undef XLMIG_DISKSTREAM_DECLARE

#endif /* XLMIG_CMD_DISKSTREAM_H */
