/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * An in-memory sink for generated streams (tests/tools/gen-stream.c's
 * gs_sink): the bytes, and where each page starts.
 */
#ifndef XLMIG_TESTMEM_H
#define XLMIG_TESTMEM_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MEM_MAX_PAGES 4096

struct mem {
    uint8_t *p;
    size_t len, cap;
    uint64_t page_off[MEM_MAX_PAGES];   /* offsets of the first pages */
    uint64_t page_pfn[MEM_MAX_PAGES];
    size_t npages;                      /* all pages, recorded or not */
};

static inline int mem_write(void *opaque, const void *p, size_t n)
{
    struct mem *m = opaque;

    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;

        while (cap < m->len + n)
            cap *= 2;
        m->p = realloc(m->p, cap);
        assert_non_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->len, p, n);
    m->len += n;
    return 0;
}

static inline void mem_page_at(void *opaque, uint64_t off, uint64_t pfn)
{
    struct mem *m = opaque;

    if (m->npages < MEM_MAX_PAGES) {
        m->page_off[m->npages] = off;
        m->page_pfn[m->npages] = pfn;
    }
    m->npages++;
}

static inline struct mem *mem_new(void)
{
    struct mem *m = calloc(1, sizeof(*m));

    assert_non_null(m);
    return m;
}

static inline void mem_free(struct mem *m)
{
    if (m)
        free(m->p);
    free(m);
}

#endif /* XLMIG_TESTMEM_H */
