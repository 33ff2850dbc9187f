#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# `make bench`'s nested part, run in both hosts' dom0: downtime and total
# time of vm-migrate (compress=true, then false) against xl migrate of
# the same guest over the emulated link (vm-migrate.sh's "bench" case;
# host 2 serves).  Its lines start "### [h1 ...] BENCH".
VMM_ONLY=bench
. /xenhost/vm-migrate.sh
