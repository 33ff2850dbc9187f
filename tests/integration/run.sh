#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-only
# Run every tests/integration/test-*.sh and end with one line for all:
# "integration: N passed, N failed".  Non-zero when any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
set --
for t in "$here"/test-*.sh; do
    set -- "$@" "bash '$t'"
done
exec "$here/../summarize.sh" integration "$@"
