/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libFuzzer target for xe's argument grammar (xe-plugin/xe-args.c).
 * The input is split at NUL bytes into argv words.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libxlmig.h"
#include "xe-args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *argv[2 * XE_ARGS_MAX + 2];
    int argc = 0;
    size_t i, start = 0;
    struct xe_args a;
    char err[256];

    buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    for (i = 0; i <= size && argc < (int)(sizeof(argv) / sizeof(argv[0]));
         i++) {
        if (buf[i] == '\0') {
            argv[argc++] = buf + start;
            start = i + 1;
        }
    }
    if (xe_args_parse(&a, argc, argv, err, sizeof(err)) == 0) {
        size_t k;

        /* Whatever was accepted obeys the caps. */
        if (a.nr_kv > XE_ARGS_MAX || a.nr_params > XE_ARGS_PARAMS_MAX)
            abort();
        for (k = 0; k < a.nr_kv; k++) {
            if (strlen(a.kv[k].key) > XE_ARGS_KEY_MAX ||
                strlen(a.kv[k].value) > XE_ARGS_VALUE_MAX ||
                xe_args_get(&a, a.kv[k].key) != a.kv[k].value)
                abort();
        }
        xe_args_dispose(&a);
    } else if (!err[0]) {
        abort();                /* an error must say why */
    }
    free(buf);
    return 0;
}
