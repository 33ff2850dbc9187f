/*
 * CPU featuresets: the words of xen's cpufeatureset.h (FACTS.md), in
 * XenServer's string form ("%08x" words joined by '-').
 */
#include <stdio.h>

#include "internal.h"

int libxlmig_featureset_format(const libxlmig_featureset *fs, char *buf,
                               size_t len)
{
    size_t pos = 0;
    unsigned int i;

    if (!buf || !len)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    buf[0] = '\0';
    if (!fs || fs->nr_words > LIBXLMIG_FEATURESET_MAX_WORDS)
        return LIBXLMIG_ERR_INVALID_ARGUMENT;
    /* 8 hex digits per word, a '-' between words, and the NUL. */
    if (len < (fs->nr_words ? 9 * (size_t)fs->nr_words : 1))
        return LIBXLMIG_ERR_INVALID_ARGUMENT;

    for (i = 0; i < fs->nr_words; i++) {
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%08x",
                                i ? "-" : "", fs->words[i]);
    }
    return 0;
}
