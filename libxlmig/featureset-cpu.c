/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * CPU vendors as records name them, and this CPU's own CPUID read into
 * Xen's featureset layout (not Xen's view: docs/specs/featureset.md).
 */
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "featureset.h"

static const struct vendor_entry {
    libxlmig_cpu_vendor vendor;
    const char *cpuid;          /* CPUID leaf 0: EBX, EDX, ECX */
    const char *short_name;
} vendor_table[] = {
    { LIBXLMIG_CPU_VENDOR_INTEL, "GenuineIntel", "intel" },
    { LIBXLMIG_CPU_VENDOR_AMD, "AuthenticAMD", "amd" },
    { LIBXLMIG_CPU_VENDOR_CENTAUR, "CentaurHauls", "centaur" },
    { LIBXLMIG_CPU_VENDOR_SHANGHAI, "  Shanghai  ", "shanghai" },
    { LIBXLMIG_CPU_VENDOR_HYGON, "HygonGenuine", "hygon" },
};

#define VENDOR_TABLE_LEN (sizeof(vendor_table) / sizeof(vendor_table[0]))

static const struct vendor_entry *vendor_lookup(libxlmig_cpu_vendor v)
{
    size_t i;

    for (i = 0; i < VENDOR_TABLE_LEN; i++) {
        if (vendor_table[i].vendor == v)
            return &vendor_table[i];
    }
    return NULL;
}

const char *libxlmig_cpu_vendor_string(libxlmig_cpu_vendor v)
{
    const struct vendor_entry *e = vendor_lookup(v);

    return e ? e->cpuid : NULL;
}

const char *libxlmig_cpu_vendor_short_name(libxlmig_cpu_vendor v)
{
    const struct vendor_entry *e = vendor_lookup(v);

    return e ? e->short_name : NULL;
}

static bool ascii_caseeq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;

        if (x != y)
            return false;
    }
    return *a == *b;
}

int libxlmig_cpu_vendor_parse(libxlmig_ctx *ctx, const char *field,
                              const char *text, libxlmig_cpu_vendor *vendor_r)
{
    char quoted[XLMIG__QUOTE_MAX + 8];
    size_t i;

    if (!field)
        field = "CPU vendor";
    if (!text || !vendor_r) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "%s: no CPU vendor given", field);
    }
    for (i = 0; i < VENDOR_TABLE_LEN; i++) {
        if (ascii_caseeq(text, vendor_table[i].cpuid) ||
            ascii_caseeq(text, vendor_table[i].short_name)) {
            *vendor_r = vendor_table[i].vendor;
            return 0;
        }
    }
    xlmig__quote(text, 0, quoted, sizeof(quoted));
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_VENDOR_INVALID,
                            "%s: \"%s\" is not a CPU vendor Xen knows; "
                            "expected GenuineIntel, AuthenticAMD, "
                            "HygonGenuine, CentaurHauls, \"  Shanghai  \" "
                            "or intel, amd, hygon, centaur, shanghai",
                            field, quoted);
}

#if defined(__x86_64__) || defined(__i386__)

/* One CPUID leaf, or zeros when the CPU does not have it. */
struct leaf {
    unsigned int a, b, c, d;
};

static struct leaf cpuid_leaf(unsigned int leaf, unsigned int subleaf,
                              unsigned int max_basic, unsigned int max_ext)
{
    struct leaf l = { 0, 0, 0, 0 };
    unsigned int max = leaf & 0x80000000u ? max_ext : max_basic;

    if (leaf <= max)
        __get_cpuid_count(leaf, subleaf, &l.a, &l.b, &l.c, &l.d);
    return l;
}

int libxlmig_cpuid_local(libxlmig_ctx *ctx, libxlmig_featureset *fs_r,
                         char vendor_r[LIBXLMIG_CPU_VENDOR_STRING_SIZE])
{
    libxlmig_featureset fs;
    const struct leaf none = { 0, 0, 0, 0 };
    struct leaf l0, l1, l7_0, l7_1, l7_2, ld_1, e1, e7, e8, e21;
    unsigned int max_basic, max_ext, max_7 = 0;

    if (!fs_r || !vendor_r) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_INVALID_ARGUMENT,
                                "libxlmig_cpuid_local: no place for the "
                                "result");
    }
    max_basic = __get_cpuid_max(0, NULL);
    if (!max_basic) {
        return xlmig__error_opt(ctx, LIBXLMIG_ERR_UNSUPPORTED,
                                "this CPU has no CPUID instruction");
    }
    /* Extended leaves exist only if 0x80000000 answers in their range. */
    max_ext = __get_cpuid_max(0x80000000u, NULL);
    if ((max_ext & 0xffff0000u) != 0x80000000u)
        max_ext = 0;

    l0 = cpuid_leaf(0, 0, max_basic, max_ext);
    l1 = cpuid_leaf(1, 0, max_basic, max_ext);
    l7_0 = cpuid_leaf(7, 0, max_basic, max_ext);
    if (max_basic >= 7)
        max_7 = l7_0.a;         /* leaf 7's highest subleaf */
    l7_1 = max_7 >= 1 ? cpuid_leaf(7, 1, max_basic, max_ext) : none;
    l7_2 = max_7 >= 2 ? cpuid_leaf(7, 2, max_basic, max_ext) : none;
    ld_1 = cpuid_leaf(0xd, 1, max_basic, max_ext);
    e1 = cpuid_leaf(0x80000001u, 0, max_basic, max_ext);
    e7 = cpuid_leaf(0x80000007u, 0, max_basic, max_ext);
    e8 = cpuid_leaf(0x80000008u, 0, max_basic, max_ext);
    e21 = cpuid_leaf(0x80000021u, 0, max_basic, max_ext);

    /* Xen's word order (FACTS.md, cpufeatureset.h); words 0 to 13. */
    memset(&fs, 0, sizeof(fs));
    fs.words[0] = l1.d;
    fs.words[1] = l1.c;
    fs.words[2] = e1.d;
    fs.words[3] = e1.c;
    fs.words[4] = ld_1.a;
    fs.words[5] = l7_0.b;
    fs.words[6] = l7_0.c;
    fs.words[7] = e7.d;
    fs.words[8] = e8.b;
    fs.words[9] = l7_0.d;
    fs.words[10] = l7_1.a;
    fs.words[11] = e21.a;
    fs.words[12] = l7_1.b;
    fs.words[13] = l7_2.d;
    fs.nr_words = 14;

    memcpy(vendor_r, &l0.b, 4);
    memcpy(vendor_r + 4, &l0.d, 4);
    memcpy(vendor_r + 8, &l0.c, 4);
    vendor_r[12] = '\0';
    *fs_r = fs;
    return 0;
}

#else /* not x86 */

int libxlmig_cpuid_local(libxlmig_ctx *ctx, libxlmig_featureset *fs_r,
                         char vendor_r[LIBXLMIG_CPU_VENDOR_STRING_SIZE])
{
    (void)fs_r;
    (void)vendor_r;
    return xlmig__error_opt(ctx, LIBXLMIG_ERR_UNSUPPORTED,
                            "reading CPUID needs an x86 CPU; Xen's "
                            "featuresets describe x86 CPUs only");
}

#endif
