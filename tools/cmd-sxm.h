/* SPDX-License-Identifier: LGPL-2.1-only */
/* xlmig sxm-*: storage motion, both sides, and recovery. */
#ifndef XLMIG_CMD_SXM_H
#define XLMIG_CMD_SXM_H

#include <getopt.h>

#define XLMIG_SXM_COMMANDS(X) \
    X(sxm_receive_start, "sxm-receive-start") \
    X(sxm_receive_finalize, "sxm-receive-finalize") \
    X(sxm_receive_cancel, "sxm-receive-cancel") \
    X(sxm_send, "sxm-send") \
    X(sxm_recover, "sxm-recover") \
    X(sxm_list, "sxm-list")

#define XLMIG_SXM_DECLARE(id, name) \
    extern const char xlmig_##id##_summary[]; \
    extern const char xlmig_##id##_usage[]; \
    extern const struct option xlmig_##id##_options[]; \
    int xlmig_cmd_##id(int argc, char **argv);
XLMIG_SXM_COMMANDS(XLMIG_SXM_DECLARE)
#undef XLMIG_SXM_DECLARE

#endif /* XLMIG_CMD_SXM_H */
