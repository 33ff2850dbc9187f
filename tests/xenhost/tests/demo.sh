#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# `make demo`, run in both hosts' dom0 by scripts/demo.sh: vm-migrate of a
# running guest with its disk from host 1's local SR to host 2's,
# compressed, narrated step by step (the phases and percent as the user
# sees them, the guest's ticks meanwhile, the downtime).  It is
# vm-migrate.sh's "pool" case with the narration on; host 2 serves.
VMM_ONLY=pool
VMM_DEMO=1
. /xenhost/vm-migrate.sh
