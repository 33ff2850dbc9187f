/* SPDX-License-Identifier: LGPL-2.1-only */
/* xlmig slot-run: a migration slot of the pool, held and released. */
#ifndef XLMIG_CMD_SLOT_H
#define XLMIG_CMD_SLOT_H

#include <getopt.h>

extern const char xlmig_slot_run_summary[];
extern const char xlmig_slot_run_usage[];
extern const struct option xlmig_slot_run_options[];
int xlmig_cmd_slot_run(int argc, char **argv);

extern const char xlmig_pool_stats_summary[];
extern const char xlmig_pool_stats_usage[];
extern const struct option xlmig_pool_stats_options[];
int xlmig_cmd_pool_stats(int argc, char **argv);

#endif /* XLMIG_CMD_SLOT_H */
