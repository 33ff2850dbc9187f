/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * A domain's libxl configuration (libxlmig/vmconfig.c) and the VM
 * records that keep it (libxlmig/vmrec.c): the reader on a realistic
 * configuration, every way a configuration is refused (table-driven:
 * INVALID_VALUE naming the member, the output untouched, nothing logged
 * without a context), libxl's defbools, the devices counted, MAC
 * addresses, the rewrite (what it is asked to change changed, every
 * other member of the document, unknown ones and numbers of any size
 * included, the same value as before), the tree of a configuration's
 * text; VM records saved, read, listed, found and removed in a
 * temporary state directory, two VMs of one name, files that are not
 * records, and the record decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "vmconfig.h"
#include "vmrec.h"
#include "testctx.h"
#include "testfs.h"
#include "testutil.h"

#define UUID1 "5a3c1e2f-8b4d-4e6a-9c7b-1d2e3f405162"
#define UUID2 "0f1e2d3c-4b5a-4968-8776-655443322110"
#define UUID3 "c0ffee00-1234-4abc-8def-0123456789ab"

/* @rc, and what the library said last when it is not 0. */
/* ------------------------------------------------------------ fixtures */

/*
 * An HVM guest's configuration as `xl list -l` prints it (libxl 4.17),
 * with members a later libxl might add (x_future_*: numbers beyond
 * int64, floats, nested values).  The six %s are what a rewrite may
 * change: the name, the uuid, xvda's path and format, and the bridges
 * of the two NICs.  malloc'd; free() it.
 */
static char *real_cfg(const char *name, const char *uuid, const char *path,
                      const char *format, const char *br0, const char *br1)
{
    char *s = NULL;

    if (asprintf(&s,
        "{\n"
        "    \"c_info\": {\n"
        "        \"type\": \"hvm\",\n"
        "        \"hap\": \"True\",\n"
        "        \"oos\": \"True\",\n"
        "        \"ssidref\": 0,\n"
        "        \"name\": \"%s\",\n"
        "        \"uuid\": \"%s\",\n"
        "        \"xsdata\": {},\n"
        "        \"platformdata\": {},\n"
        "        \"run_hotplug_scripts\": \"True\",\n"
        "        \"passthrough\": \"disabled\",\n"
        "        \"xend_suspend_evtchn_compat\": \"False\"\n"
        "    },\n"
        "    \"b_info\": {\n"
        "        \"max_vcpus\": 4,\n"
        "        \"avail_vcpus\": [0, 1, 2, 3],\n"
        "        \"vcpu_hard_affinity\": [[], [], [], []],\n"
        "        \"numa_placement\": \"True\",\n"
        "        \"max_memkb\": 2097152,\n"
        "        \"target_memkb\": 1048576,\n"
        "        \"video_memkb\": 8192,\n"
        "        \"shadow_memkb\": 18432,\n"
        "        \"iomem\": [],\n"
        "        \"claim_mode\": \"False\",\n"
        "        \"event_channels\": 1023,\n"
        "        \"sched_params\": {\"sched\": \"credit2\", \"weight\": 256,"
        " \"cap\": 0},\n"
        "        \"nested_hvm\": \"False\",\n"
        "        \"apic\": \"True\",\n"
        "        \"acpi\": \"True\",\n"
        "        \"type.hvm\": {\n"
        "            \"firmware\": \"\",\n"
        "            \"bios\": \"seabios\",\n"
        "            \"pae\": \"True\",\n"
        "            \"viridian\": [\"base\", \"freq\"],\n"
        "            \"timer_mode\": \"no_delay_for_missed_ticks\",\n"
        "            \"vga\": {\"kind\": \"cirrus\"},\n"
        "            \"vnc\": {\"enable\": \"True\", \"listen\": \"127.0.0.1\","
        " \"display\": 0},\n"
        "            \"serial\": \"pty\",\n"
        "            \"boot\": \"cd\",\n"
        "            \"usb\": \"False\",\n"
        "            \"gfx_passthru\": \"False\",\n"
        "            \"rdm\": {\"strategy\": \"ignore\", \"policy\": "
        "\"relaxed\"},\n"
        "            \"rdm_mem_boundary_memkb\": 2097152,\n"
        "            \"mca_caps\": 0\n"
        "        },\n"
        "        \"arch_arm\": {},\n"
        "        \"arch_x86\": {\"msr_relaxed\": \"False\"},\n"
        "        \"x_future_counter\": 18446744073709551615,\n"
        "        \"x_future_ratio\": 0.125,\n"
        "        \"x_future_tiny\": -1.5e-300,\n"
        "        \"x_future_list\": [1, -9223372036854775808, 2.5E+10,"
        " 123456789012345678901234567890, null, true, false, \"s\\n\\u00e9\","
        " {}]\n"
        "    },\n"
        "    \"disks\": [\n"
        "        {\"pdev_path\": \"%s\", \"vdev\": \"xvda\", \"backend\": "
        "\"qdisk\", \"format\": \"%s\", \"readwrite\": 1},\n"
        "        {\"pdev_path\": \"/srv/sr1/data.raw\", \"vdev\": \"xvdb\","
        " \"backend\": \"phy\", \"format\": \"raw\", \"readwrite\": 0,"
        " \"discard_enable\": \"True\"},\n"
        "        {\"pdev_path\": \"\", \"vdev\": \"hdc\", \"backend\": "
        "\"qdisk\", \"format\": \"empty\", \"is_cdrom\": 1, \"readwrite\": "
        "0}\n"
        "    ],\n"
        "    \"nics\": [\n"
        "        {\"devid\": 0, \"mac\": \"00:16:3e:12:34:56\", \"bridge\": "
        "\"%s\", \"script\": \"/etc/xen/scripts/vif-bridge\", \"nictype\": "
        "\"vif_ioemu\", \"rate_bytes_per_interval\": 0},\n"
        "        {\"devid\": 1, \"mac\": \"00:16:3E:AB:CD:EF\", \"bridge\": "
        "\"%s\", \"model\": \"e1000\"}\n"
        "    ],\n"
        "    \"vfbs\": [{\"backend_domid\": 0, \"devid\": 0, \"vnc\": "
        "{\"enable\": \"True\"}}],\n"
        "    \"vkbs\": [{\"devid\": 0, \"backend_type\": \"qemu\"}],\n"
        "    \"on_poweroff\": \"destroy\",\n"
        "    \"on_reboot\": \"restart\",\n"
        "    \"on_watchdog\": \"destroy\",\n"
        "    \"on_crash\": \"destroy\",\n"
        "    \"on_soft_reset\": \"soft_reset\"\n"
        "}\n", name, uuid, path, format, br0, br1) < 0)
        fail_msg("out of memory");
    return s;
}

#define REAL_ARGS "web1", UUID1, "/srv/sr1/web1.qcow2", "qcow2", "xenbr0", \
                  "xenbr1"

/* A small PVH guest: one disk, one NIC. */
#define SMALL_CFG                                                          \
    "{\"c_info\": {\"type\": \"pvh\", \"name\": \"small\"},"               \
    " \"b_info\": {\"max_memkb\": 262144},"                                \
    " \"disks\": [{\"vdev\": \"xvda\", \"pdev_path\": \"/d/a.qcow2\"}],"   \
    " \"nics\": [{\"mac\": \"00:16:3e:00:00:01\"}]}"

/* "pv" guest @name with c_info extra @ci, b_info extra @bi, top @rest. */
static char *cfg_with(const char *ci, const char *bi, const char *rest)
{
    char *s = NULL;

    if (asprintf(&s, "{\"c_info\": {\"type\": \"pv\", \"name\": \"vm1\"%s},"
                 " \"b_info\": {\"max_memkb\": 262144%s}%s}", ci, bi,
                 rest) < 0)
        fail_msg("out of memory");
    return s;
}

/* @n bytes of @c, NUL-ended, malloc'd. */
static char *rep(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* "KEY": [ELEM, ELEM, ...] (@n of them), malloc'd. */
static char *devices(const char *key, const char *elem, size_t n)
{
    size_t size = strlen(key) + n * (strlen(elem) + 2) + 16, i;
    char *s = malloc(size);

    assert_non_null(s);
    snprintf(s, size, ", \"%s\": [", key);
    for (i = 0; i < n; i++) {
        if (i)
            strcat(s, ", ");
        strcat(s, elem);
    }
    strcat(s, "]");
    return s;
}

/*
 * A tree flattened to one line per leaf, "PATH=TYPE:TEXT", members in
 * their order, numbers as their own text: two trees hold the same
 * values in the same places exactly when their flat texts are equal.
 */
struct flat {
    char *s;
    size_t len, cap;
};

static void flat_add(struct flat *f, const char *path, const char *type,
                     const char *text)
{
    size_t need = strlen(path) + strlen(type) + strlen(text) + 4;

    if (f->len + need > f->cap) {
        f->cap = (f->len + need) * 2;
        f->s = realloc(f->s, f->cap);
        assert_non_null(f->s);
    }
    f->len += (size_t)sprintf(f->s + f->len, "%s=%s:%s\n", path, type,
                              text);
}

static void flatten(struct flat *f, const char *path, yajl_val v)
{
    char sub[1024];
    size_t i;

    switch (v->type) {
    case yajl_t_string:
        flat_add(f, path, "s", v->u.string);
        break;
    case yajl_t_number:
        flat_add(f, path, "n", v->u.number.r);
        break;
    case yajl_t_true:
    case yajl_t_false:
        flat_add(f, path, "b", YAJL_IS_TRUE(v) ? "true" : "false");
        break;
    case yajl_t_null:
        flat_add(f, path, "null", "");
        break;
    case yajl_t_object:
        flat_add(f, path, "{}", "");
        for (i = 0; i < v->u.object.len; i++) {
            snprintf(sub, sizeof(sub), "%s.%s", path, v->u.object.keys[i]);
            flatten(f, sub, v->u.object.values[i]);
        }
        break;
    case yajl_t_array:
        flat_add(f, path, "[]", "");
        for (i = 0; i < v->u.array.len; i++) {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            flatten(f, sub, v->u.array.values[i]);
        }
        break;
    default:
        fail_msg("%s: a value of unknown type", path);
    }
}

/* The flat text of @json's tree (which must be a configuration's). */
static char *flat_of(const char *json)
{
    struct flat f = { NULL, 0, 0 };
    yajl_val root = NULL;
    char why[256];

    if (xlmig__vmcfg_tree(json, strlen(json), &root, why, sizeof(why)))
        fail_msg("not a configuration's text (%s):\n%s", why, json);
    flatten(&f, "", root);
    yajl_tree_free(root);
    return f.s;
}

static void assert_same_tree(const char *got, const char *want)
{
    char *a = flat_of(got), *b = flat_of(want);

    assert_string_equal(a, b);
    free(a);
    free(b);
}

static int parse(const char *json, struct xlmig__vmcfg *c)
{
    return xlmig__vmcfg_parse(ctx, "test.json", json, strlen(json), c);
}

/* ------------------------------------------------------------ reading */

static void test_parse_real(void **state)
{
    char *json = real_cfg(REAL_ARGS);
    struct xlmig__vmcfg *c = malloc(sizeof(*c));

    (void)state;
    assert_non_null(c);
    memset(c, 0x5a, sizeof(*c));
    reset_log();
    assert_ok(parse(json, c));
    assert_int_equal(cap.count, 0);
    assert_string_equal(c->name, "web1");
    assert_string_equal(c->uuid, UUID1);
    assert_string_equal(c->type, "hvm");
    assert_int_equal(c->max_memkb, 2097152);
    assert_int_equal(c->target_memkb, 1048576);
    assert_int_equal(c->max_vcpus, 4);
    assert_false(c->nested_hvm);
    assert_false(c->gfx_passthru);

    assert_int_equal(c->nr_disks, 3);
    assert_string_equal(c->disks[0].vdev, "xvda");
    assert_string_equal(c->disks[0].path, "/srv/sr1/web1.qcow2");
    assert_string_equal(c->disks[0].format, "qcow2");
    assert_string_equal(c->disks[0].backend, "qdisk");
    assert_true(c->disks[0].readwrite);
    assert_false(c->disks[0].cdrom);
    assert_string_equal(c->disks[1].vdev, "xvdb");
    assert_string_equal(c->disks[1].backend, "phy");
    assert_false(c->disks[1].readwrite);
    assert_string_equal(c->disks[2].vdev, "hdc");
    assert_string_equal(c->disks[2].path, "");
    assert_true(c->disks[2].cdrom);

    assert_int_equal(c->nr_nics, 2);
    assert_string_equal(c->nics[0].mac, "00:16:3e:12:34:56");
    assert_string_equal(c->nics[0].bridge, "xenbr0");
    /* Upper case in the text, lower case here. */
    assert_string_equal(c->nics[1].mac, "00:16:3e:ab:cd:ef");
    assert_string_equal(c->nics[1].bridge, "xenbr1");
    assert_int_equal(c->nr_pcidevs, 0);
    assert_int_equal(c->nr_usbctrls, 0);
    assert_int_equal(c->nr_usbdevs, 0);

    /* The lookups. */
    assert_ptr_equal(xlmig__vmcfg_disk(c, "xvdb"), &c->disks[1]);
    assert_null(xlmig__vmcfg_disk(c, "xvdc"));
    assert_ptr_equal(xlmig__vmcfg_nic(c, "00:16:3E:12:34:56"), &c->nics[0]);
    assert_ptr_equal(xlmig__vmcfg_nic(c, "00:16:3e:ab:cd:ef"), &c->nics[1]);
    assert_null(xlmig__vmcfg_nic(c, "00:16:3e:12:34:57"));
    assert_null(xlmig__vmcfg_nic(c, "not a mac"));

    /* Without a context: the same, and nothing logged. */
    memset(c, 0, sizeof(*c));
    assert_int_equal(xlmig__vmcfg_parse(NULL, "x", json, strlen(json), c), 0);
    assert_string_equal(c->name, "web1");
    free(c);
    free(json);
}

/* What the defaults are when b_info says little. */
static void test_parse_defaults(void **state)
{
    struct xlmig__vmcfg c;

    (void)state;
    assert_ok(parse("{\"c_info\": {\"type\": \"pv\", \"name\": \"a\", "
                    "\"uuid\": null}, \"b_info\": {\"max_memkb\": 1024, "
                    "\"target_memkb\": null}, \"disks\": null, "
                    "\"nics\": [], \"pcidevs\": null}", &c));
    assert_string_equal(c.uuid, "");
    assert_int_equal(c.max_memkb, 1024);
    assert_int_equal(c.target_memkb, 1024);     /* max_memkb's */
    assert_int_equal(c.max_vcpus, 1);
    assert_int_equal(c.nr_disks, 0);
    assert_int_equal(c.nr_nics, 0);
    assert_ok(parse("{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
                    "\"b_info\": {\"max_memkb\": 0}, \"nics\": [{\"mac\": "
                    "\"00:16:3e:00:00:01\", \"bridge\": null}], \"disks\": "
                    "[{\"vdev\": \"xvda\"}]}", &c));
    assert_string_equal(c.nics[0].bridge, "");
    assert_string_equal(c.disks[0].path, "");
    assert_string_equal(c.disks[0].format, "");
    assert_false(c.disks[0].readwrite);
}

/* ------------------------------------------------------------ refusals */

static char *gen_long_name(void)
{
    char *n = rep('a', XLMIG__DOM_NAME_MAX + 1), *s = NULL;

    if (asprintf(&s, "{\"c_info\": {\"type\": \"pv\", \"name\": \"%s\"}, "
                 "\"b_info\": {\"max_memkb\": 1}}", n) < 0)
        fail_msg("out of memory");
    free(n);
    return s;
}

static char *gen_long_path(void)
{
    char *p = rep('p', XLMIG__SR_PATH_MAX), *d = NULL, *s;

    if (asprintf(&d, ", \"disks\": [{\"vdev\": \"xvda\", \"pdev_path\": "
                 "\"/%s\"}]", p) < 0)
        fail_msg("out of memory");
    s = cfg_with("", "", d);
    free(p);
    free(d);
    return s;
}

static char *gen_n_devices(const char *key, const char *elem, size_t n)
{
    char *d = devices(key, elem, n), *s = cfg_with("", "", d);

    free(d);
    return s;
}

static char *gen_17_disks(void)
{
    return gen_n_devices("disks", "{\"vdev\": \"xvda\"}",
                         XLMIG__VMCFG_DISKS_MAX + 1);
}

static char *gen_17_nics(void)
{
    return gen_n_devices("nics", "{\"mac\": \"00:16:3e:00:00:01\"}",
                         XLMIG__VMCFG_NICS_MAX + 1);
}

static char *gen_17_pcidevs(void)
{
    return gen_n_devices("pcidevs", "{\"bus\": 1}", XLMIG__VMCFG_PCI_MAX + 1);
}

static char *gen_1025_usbdevs(void)
{
    return gen_n_devices("usbdevs", "{}", 1025);
}

/* A member nested 33 deep (the configuration itself is level 1). */
static char *gen_deep(void)
{
    char *open = rep('[', 32), *close = rep(']', 32), *rest = NULL, *s;

    if (asprintf(&rest, ", \"x\": %s%s", open, close) < 0)
        fail_msg("out of memory");
    s = cfg_with("", "", rest);
    free(open);
    free(close);
    free(rest);
    return s;
}

/* One byte more than XLMIG__DOM_CONFIG_MAX, and JSON otherwise. */
static char *gen_huge(void)
{
    char *base = cfg_with("", "", ", \"pad\": \"\""), *s;
    size_t blen = strlen(base), want = XLMIG__DOM_CONFIG_MAX + 1;

    s = malloc(want + 1);
    assert_non_null(s);
    /* base ends in "\"\"}": put the padding between the quotes. */
    memcpy(s, base, blen - 2);
    memset(s + blen - 2, 'x', want - blen);
    memcpy(s + want - 2, "\"}", 3);
    free(base);
    assert_int_equal(strlen(s), want);
    return s;
}

static const struct bad_case {
    const char *what;
    const char *json;           /* or NULL: gen() makes it */
    char *(*gen)(void);
    const char *says;           /* in the message */
} bad_cases[] = {
    { "empty", "", NULL, "not valid JSON" },
    { "not JSON", "{\"c_info\": ", NULL, "not valid JSON" },
    { "text", "c_info = web1", NULL, "not valid JSON" },
    { "two documents", "{} {}", NULL, "not valid JSON" },
    { "array", "[{\"c_info\": {}}]", NULL, "is an array, not an object" },
    { "string", "\"web1\"", NULL, "is a string, not an object" },
    { "no c_info", "{\"b_info\": {\"max_memkb\": 1}}", NULL,
      "c_info or b_info is missing" },
    { "no b_info", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}}", NULL,
      "c_info or b_info is missing" },
    { "c_info a string", "{\"c_info\": \"a\", \"b_info\": {}}", NULL,
      "c_info or b_info is missing" },
    { "b_info an array", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": []}", NULL, "c_info or b_info is missing" },
    { "no name", "{\"c_info\": {\"type\": \"pv\"}, \"b_info\": "
      "{\"max_memkb\": 1}}", NULL, "c_info has no name" },
    { "name null", "{\"c_info\": {\"type\": \"pv\", \"name\": null}, "
      "\"b_info\": {\"max_memkb\": 1}}", NULL, "c_info has no name" },
    { "name a number", "{\"c_info\": {\"type\": \"pv\", \"name\": 7}, "
      "\"b_info\": {\"max_memkb\": 1}}", NULL,
      "c_info member name is not a string" },
    { "name too long", NULL, gen_long_name,
      "c_info member name is not a string of a fitting length" },
    { "no type", "{\"c_info\": {\"name\": \"a\"}, \"b_info\": "
      "{\"max_memkb\": 1}}", NULL, "c_info has no type" },
    { "type xen", "{\"c_info\": {\"type\": \"xen\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}}", NULL,
      "c_info type xen is not pv, pvh or hvm" },
    { "type too long", "{\"c_info\": {\"type\": \"hvm64\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}}", NULL, "c_info member type" },
    { "type an object", "{\"c_info\": {\"type\": {}, \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}}", NULL, "c_info member type" },
    { "uuid a number", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\", "
      "\"uuid\": 1}, \"b_info\": {\"max_memkb\": 1}}", NULL,
      "c_info member uuid" },
    { "uuid too long", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\", "
      "\"uuid\": \"" UUID1 "0\"}, \"b_info\": {\"max_memkb\": 1}}", NULL,
      "c_info member uuid" },
    { "no max_memkb", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"target_memkb\": 1}}", NULL, "b_info has no max_memkb" },
    { "max_memkb a string", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": \"1024\"}}", NULL,
      "b_info member max_memkb is not an integer in range" },
    { "max_memkb negative", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": -1}}", NULL,
      "b_info member max_memkb is not an integer in range" },
    { "max_memkb a float", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1024.5}}", NULL,
      "b_info member max_memkb is not an integer in range" },
    { "max_memkb beyond int64", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 18446744073709551615}}", NULL,
      "b_info member max_memkb is not an integer in range" },
    { "target_memkb true", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1, \"target_memkb\": true}}",
      NULL, "b_info member target_memkb" },
    { "max_vcpus 4097", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1, \"max_vcpus\": 4097}}", NULL,
      "b_info member max_vcpus" },
    { "disks an object", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": {}}", NULL,
      "member disks is not an array" },
    { "17 disks", NULL, gen_17_disks, "member disks has more than 16" },
    { "a disk a string", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": [\"xvda\"]}", NULL,
      "a disk is not an object" },
    { "a disk without vdev", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"pdev_path\": "
      "\"/a\"}]}", NULL, "a disk has no vdev" },
    { "vdev empty", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"vdev\": \"\", "
      "\"pdev_path\": \"/a\"}]}", NULL, "a disk has no vdev" },
    { "vdev too long", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"vdev\": "
      "\"xvdaaaaaaaaaaaaa\"}]}", NULL, "a disk's member vdev" },
    { "pdev_path too long", NULL, gen_long_path, "xvda member pdev_path" },
    { "format a number", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"vdev\": \"xvda\", "
      "\"format\": 2}]}", NULL, "xvda member format" },
    { "backend too long", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"vdev\": \"xvda\", "
      "\"backend\": \"qdiskqdiskqdiskqd\"}]}", NULL, "xvda member backend" },
    { "readwrite 2", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"vdev\": \"xvda\", "
      "\"readwrite\": 2}]}", NULL,
      "xvda member readwrite is not an integer in range" },
    { "is_cdrom a string", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1}, \"disks\": [{\"vdev\": "
      "\"hdc\", \"is_cdrom\": \"True\"}]}", NULL, "hdc member is_cdrom" },
    { "nics a string", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"nics\": \"vif0\"}", NULL,
      "member nics is not an array" },
    { "17 nics", NULL, gen_17_nics, "member nics has more than 16" },
    { "a NIC an array", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"nics\": [[]]}", NULL,
      "a NIC is not an object" },
    { "a NIC without mac", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"bridge\": "
      "\"xenbr0\"}]}", NULL, "a NIC has no MAC address" },
    { "a MAC of five pairs", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"mac\": "
      "\"00:16:3e:12:34\"}]}", NULL, "a NIC has no MAC address" },
    { "a MAC not hex", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"mac\": "
      "\"00:16:3e:12:34:5g\"}]}", NULL, "a NIC has no MAC address" },
    { "a MAC too long", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"mac\": "
      "\"00:16:3e:12:34:56:00:16:3e:12:34:56:00:16:3e:12:34:56:00:16:3e:12:"
      "34:56\"}]}", NULL, "a NIC's member mac" },
    { "bridge too long", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"mac\": "
      "\"00:16:3e:12:34:56\", \"bridge\": \"xenbr0123456789a\"}]}", NULL,
      "00:16:3e:12:34:56 member bridge" },
    { "bridge a number", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"mac\": "
      "\"00:16:3e:12:34:56\", \"bridge\": 0}]}", NULL,
      "00:16:3e:12:34:56 member bridge" },
    { "17 PCI devices", NULL, gen_17_pcidevs,
      "member pcidevs has more than 16" },
    { "a PCI device a number", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1}, \"pcidevs\": [3]}", NULL,
      "a PCI device is not an object" },
    { "PCI bus 256", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"pcidevs\": [{\"bus\": 256}]}", NULL,
      "a PCI device's member bus" },
    { "PCI func 8", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"pcidevs\": [{\"func\": 8}]}", NULL,
      "a PCI device's member func" },
    { "usbctrls an object", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\"}, \"b_info\": {\"max_memkb\": 1}, \"usbctrls\": {}}", NULL,
      "member usbctrls is not an array" },
    { "usbdevs a number", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1}, \"usbdevs\": 5}", NULL,
      "member usbdevs is not an array" },
    { "1025 USB devices", NULL, gen_1025_usbdevs,
      "member usbdevs has more than 1024" },
    { "\\u0000 in a string", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\\u0000b\"}, \"b_info\": {\"max_memkb\": 1}}", NULL,
      "NUL character" },
    { "\\u0000 in a key", "{\"c_info\": {\"type\": \"pv\", \"name\": \"a\"}, "
      "\"b_info\": {\"max_memkb\": 1, \"x\\u0000\": 1}}", NULL,
      "NUL character" },
    { "invalid UTF-8", "{\"c_info\": {\"type\": \"pv\", \"name\": "
      "\"a\xff\"}, \"b_info\": {\"max_memkb\": 1}}", NULL, "not valid JSON" },
    { "nested 33 deep", NULL, gen_deep, "nested deeper than 32 levels" },
    { "over 1 MiB", NULL, gen_huge, "1048577 bytes, more than the 1048576" },
};

static void test_parse_refused(void **state)
{
    struct xlmig__vmcfg *c = malloc(sizeof(*c)), *before = malloc(sizeof(*c));
    size_t i;

    (void)state;
    assert_non_null(c);
    assert_non_null(before);
    memset(before, 0x5a, sizeof(*before));
    for (i = 0; i < ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *b = &bad_cases[i];
        char *gen = b->gen ? b->gen() : NULL;
        const char *json = gen ? gen : b->json;
        int rc;

        *c = *before;
        reset_log();
        rc = xlmig__vmcfg_parse(ctx, "test.json", json, strlen(json), c);
        if (rc != LIBXLMIG_ERR_INVALID_ARGUMENT)
            fail_msg("%s: rc %d, not INVALID_VALUE", b->what, rc);
        if (memcmp(c, before, sizeof(*c)))
            fail_msg("%s: the output was written", b->what);
        if (cap.count != 1)
            fail_msg("%s: %d messages", b->what, cap.count);
        assert_contains(cap.text, "INVALID_VALUE: domain configuration "
                        "test.json: ");
        if (!strstr(cap.text, b->says))
            fail_msg("%s: expected \"%s\" in:\n%s", b->what, b->says,
                     cap.text);
        /* No context: the same answer, nothing logged anywhere. */
        reset_log();
        assert_int_equal(xlmig__vmcfg_parse(NULL, "test.json", json,
                                            strlen(json), c),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_memory_equal(c, before, sizeof(*c));
        assert_int_equal(cap.count, 0);
        free(gen);
    }
    free(c);
    free(before);
}

/* A NUL byte in the text itself (not an escape): refused, not cut. */
static void test_parse_nul_byte(void **state)
{
    static const char json[] = "{\"c_info\": {\"type\": \"pv\", \"name\": "
                               "\"a\"}, \"b_info\": {\"max_memkb\": 1}}\0 "
                               "trailing";
    struct xlmig__vmcfg c, before;

    (void)state;
    memset(&c, 0x5a, sizeof(c));
    before = c;
    reset_log();
    assert_int_equal(xlmig__vmcfg_parse(ctx, "test.json", json,
                                        sizeof(json) - 1, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_memory_equal(&c, &before, sizeof(c));
    {
        char want[64];

        snprintf(want, sizeof(want), "a NUL byte at offset %zu",
                 strlen(json));
        assert_contains(cap.text, want);
    }
    /* The same text up to the NUL is a configuration. */
    assert_ok(xlmig__vmcfg_parse(ctx, "test.json", json, strlen(json), &c));
    assert_int_equal(xlmig__vmcfg_parse(ctx, "test.json", NULL, 0, &c),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------ defbools */

static void test_defbools(void **state)
{
    static const struct {
        const char *bi;         /* b_info's extra members */
        bool nested, gfx;
    } cases[] = {
        { "", false, false },
        { ", \"nested_hvm\": \"True\"", true, false },
        { ", \"nested_hvm\": \"False\"", false, false },
        { ", \"nested_hvm\": \"<default>\"", false, false },
        { ", \"nested_hvm\": true", true, false },
        { ", \"nested_hvm\": false", false, false },
        { ", \"nested_hvm\": \"true\"", false, false },
        { ", \"nested_hvm\": 1", false, false },
        { ", \"nested_hvm\": null", false, false },
        { ", \"type.hvm\": {\"gfx_passthru\": \"True\"}", false, true },
        { ", \"type.hvm\": {\"gfx_passthru\": \"False\"}", false, false },
        { ", \"type.hvm\": {\"gfx_passthru\": \"<default>\"}", false, false },
        { ", \"type.hvm\": {\"gfx_passthru\": true}", false, true },
        { ", \"type.hvm\": {}", false, false },
        { ", \"type.hvm\": \"True\"", false, false },
        /* Only type.hvm's counts. */
        { ", \"gfx_passthru\": \"True\"", false, false },
        { ", \"type.pv\": {\"gfx_passthru\": \"True\"}", false, false },
        { ", \"nested_hvm\": \"True\", \"type.hvm\": {\"gfx_passthru\": "
          "\"True\", \"nested_hvm\": \"False\"}", true, true },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *json = cfg_with("", cases[i].bi, "");
        struct xlmig__vmcfg c;

        assert_ok(parse(json, &c));
        if (c.nested_hvm != cases[i].nested || c.gfx_passthru != cases[i].gfx)
            fail_msg("%s: nested_hvm %d, gfx_passthru %d", cases[i].bi,
                     c.nested_hvm, c.gfx_passthru);
        free(json);
    }
}

/* ------------------------------------------------------------ devices */

static void test_devices_counted(void **state)
{
    static const struct {
        const char *rest;
        size_t pci, usbctrls, usbdevs;
    } cases[] = {
        { "", 0, 0, 0 },
        { ", \"pcidevs\": [], \"usbctrls\": [], \"usbdevs\": []", 0, 0, 0 },
        { ", \"pcidevs\": [{\"domain\": 0, \"bus\": 3, \"dev\": 0, \"func\": "
          "1, \"vdevfn\": 0, \"permissive\": \"False\"}, {\"domain\": 65535, "
          "\"bus\": 255, \"dev\": 31, \"func\": 7}]", 2, 0, 0 },
        { ", \"usbctrls\": [{\"type\": \"qusb\", \"version\": 2, \"ports\": "
          "8}]", 0, 1, 0 },
        { ", \"usbctrls\": [{}, {}], \"usbdevs\": [{\"ctrl\": 0, \"port\": "
          "1, \"type\": \"hostdev\"}, {}, {}]", 0, 2, 3 },
        { ", \"usbdevs\": [{}]", 0, 0, 1 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *json = cfg_with("", "", cases[i].rest);
        struct xlmig__vmcfg c;

        assert_ok(parse(json, &c));
        assert_int_equal(c.nr_pcidevs, cases[i].pci);
        assert_int_equal(c.nr_usbctrls, cases[i].usbctrls);
        assert_int_equal(c.nr_usbdevs, cases[i].usbdevs);
        free(json);
    }
    {
        char *json = cfg_with("", "", cases[2].rest);
        struct xlmig__vmcfg c;

        assert_ok(parse(json, &c));
        assert_int_equal(c.pcidevs[0].domain, 0);
        assert_int_equal(c.pcidevs[0].bus, 3);
        assert_int_equal(c.pcidevs[0].dev, 0);
        assert_int_equal(c.pcidevs[0].func, 1);
        assert_int_equal(c.pcidevs[1].domain, 0xffff);
        assert_int_equal(c.pcidevs[1].bus, 0xff);
        assert_int_equal(c.pcidevs[1].dev, 0x1f);
        assert_int_equal(c.pcidevs[1].func, 7);
        free(json);
    }
    {
        /* The caps themselves are allowed. */
        char *json = gen_n_devices("disks", "{\"vdev\": \"xvda\"}",
                                   XLMIG__VMCFG_DISKS_MAX);
        struct xlmig__vmcfg c;

        assert_ok(parse(json, &c));
        assert_int_equal(c.nr_disks, XLMIG__VMCFG_DISKS_MAX);
        free(json);
        json = gen_n_devices("nics", "{\"mac\": \"00:16:3e:00:00:01\"}",
                             XLMIG__VMCFG_NICS_MAX);
        assert_ok(parse(json, &c));
        assert_int_equal(c.nr_nics, XLMIG__VMCFG_NICS_MAX);
        free(json);
        json = gen_n_devices("usbctrls", "{}", 1024);
        assert_ok(parse(json, &c));
        assert_int_equal(c.nr_usbctrls, 1024);
        free(json);
    }
}

/* ------------------------------------------------------------ MACs */

static void test_mac_parse(void **state)
{
    static const struct {
        const char *in;
        const char *out;        /* NULL: refused */
    } cases[] = {
        { "00:16:3e:12:34:56", "00:16:3e:12:34:56" },
        { "00:16:3E:AB:CD:EF", "00:16:3e:ab:cd:ef" },
        { "FF:ff:Ff:fF:00:99", "ff:ff:ff:ff:00:99" },
        { "", NULL },
        { "0:16:3e:12:34:56", NULL },
        { "00:16:3e:12:34:5", NULL },
        { "00:16:3e:12:34:567", NULL },
        { "00:16:3e:12:34:56:", NULL },
        { "00-16-3e-12-34-56", NULL },
        { "00:16:3e:12:34:5g", NULL },
        { "0x:16:3e:12:34:56", NULL },
        { "00:16:3e::12:34:5", NULL },
        { " 0:16:3e:12:34:56", NULL },
        { "00:16:3e:12:34:56\n", NULL },
        { "001:6:3e:12:34:56", NULL },
        { "00163e123456", NULL },
    };
    char out[XLMIG__MAC_LEN + 1];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        bool ok = xlmig__mac_parse(cases[i].in, out);

        if (ok != (cases[i].out != NULL))
            fail_msg("\"%s\": %s", cases[i].in, ok ? "taken" : "refused");
        if (ok)
            assert_string_equal(out, cases[i].out);
    }
    assert_false(xlmig__mac_parse(NULL, out));
}

/* ------------------------------------------------------------ rewrite */

static void test_rewrite(void **state)
{
    static const struct {
        const char *what;
        struct xlmig__vmcfg_edit e;
        const char *want[6];    /* real_cfg()'s arguments after it */
    } cases[] = {
        { "nothing", { 0 }, { REAL_ARGS } },
        { "everything",
          { .name = "web1-moved", .uuid = UUID2, .nr_disks = 1,
            .disks = { { "xvda", "/srv/sr2/" UUID3 ".raw", "raw" } },
            .nr_nics = 2,
            .nics = { { "00:16:3e:12:34:56", "xenbr9" },
                      { "00:16:3e:ab:cd:ef", "br-dmz" } } },
          { "web1-moved", UUID2, "/srv/sr2/" UUID3 ".raw", "raw", "xenbr9",
            "br-dmz" } },
        { "the name only", { .name = "web2" },
          { "web2", UUID1, "/srv/sr1/web1.qcow2", "qcow2", "xenbr0",
            "xenbr1" } },
        { "the uuid only", { .uuid = UUID3 },
          { "web1", UUID3, "/srv/sr1/web1.qcow2", "qcow2", "xenbr0",
            "xenbr1" } },
        { "a path, the format kept",
          { .nr_disks = 1, .disks = { { "xvda", "/dev/vg/web1", NULL } } },
          { "web1", UUID1, "/dev/vg/web1", "qcow2", "xenbr0", "xenbr1" } },
        { "a MAC in upper case",
          { .nr_nics = 1, .nics = { { "00:16:3E:AB:CD:EF", "xenbr2" } } },
          { "web1", UUID1, "/srv/sr1/web1.qcow2", "qcow2", "xenbr0",
            "xenbr2" } },
        { "a NIC named, its bridge kept",
          { .nr_nics = 1, .nics = { { "00:16:3e:12:34:56", NULL } } },
          { REAL_ARGS } },
        { "a string that needs escapes",
          { .name = "web \"1\"\\\t\xc3\xa9" },
          { "web \\\"1\\\"\\\\\\t\xc3\xa9", UUID1, "/srv/sr1/web1.qcow2",
            "qcow2", "xenbr0", "xenbr1" } },
    };
    char *json = real_cfg(REAL_ARGS);
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const char *const *w = cases[i].want;
        char *want = real_cfg(w[0], w[1], w[2], w[3], w[4], w[5]);
        char *out = (char *)"not written";
        struct xlmig__vmcfg c;

        reset_log();
        if (xlmig__vmcfg_rewrite(ctx, json, strlen(json), &cases[i].e,
                                 &out))
            fail_msg("%s: %s", cases[i].what, cap.text);
        assert_int_equal(cap.count, 0);
        assert_same_tree(out, want);
        /* And it reads back as what was asked. */
        assert_ok(parse(out, &c));
        if (cases[i].e.name)
            assert_string_equal(c.name, cases[i].e.name);
        assert_int_equal(c.nr_disks, 3);
        assert_int_equal(c.nr_nics, 2);
        free(out);
        free(want);
    }
    free(json);
}

/* Members the rewrite sets that the configuration lacks are added. */
static void test_rewrite_adds(void **state)
{
    static const struct {
        const char *in;
        struct xlmig__vmcfg_edit e;
        const char *want;
    } cases[] = {
        { SMALL_CFG, { .uuid = UUID1 },
          "{\"c_info\": {\"type\": \"pvh\", \"name\": \"small\", \"uuid\": \""
          UUID1 "\"}, \"b_info\": {\"max_memkb\": 262144}, \"disks\": "
          "[{\"vdev\": \"xvda\", \"pdev_path\": \"/d/a.qcow2\"}], \"nics\": "
          "[{\"mac\": \"00:16:3e:00:00:01\"}]}" },
        { SMALL_CFG,
          { .nr_disks = 1, .disks = { { "xvda", "/d/b.raw", "raw" } },
            .nr_nics = 1, .nics = { { "00:16:3e:00:00:01", "xenbr0" } } },
          "{\"c_info\": {\"type\": \"pvh\", \"name\": \"small\"}, "
          "\"b_info\": {\"max_memkb\": 262144}, \"disks\": [{\"vdev\": "
          "\"xvda\", \"pdev_path\": \"/d/b.raw\", \"format\": \"raw\"}], "
          "\"nics\": [{\"mac\": \"00:16:3e:00:00:01\", \"bridge\": "
          "\"xenbr0\"}]}" },
        /* null members are replaced where they stand. */
        { "{\"c_info\": {\"uuid\": null, \"type\": \"pv\", \"name\": \"n\"},"
          " \"b_info\": {\"max_memkb\": 1}, \"nics\": [{\"bridge\": null, "
          "\"mac\": \"00:16:3e:00:00:02\"}]}",
          { .uuid = UUID2, .nr_nics = 1,
            .nics = { { "00:16:3e:00:00:02", "br0" } } },
          "{\"c_info\": {\"uuid\": \"" UUID2 "\", \"type\": \"pv\", "
          "\"name\": \"n\"}, \"b_info\": {\"max_memkb\": 1}, \"nics\": "
          "[{\"bridge\": \"br0\", \"mac\": \"00:16:3e:00:00:02\"}]}" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        char *out = NULL;

        assert_ok(xlmig__vmcfg_rewrite(ctx, cases[i].in,
                                       strlen(cases[i].in), &cases[i].e,
                                       &out));
        assert_same_tree(out, cases[i].want);
        free(out);
    }
}

static void test_rewrite_refused(void **state)
{
    static const struct {
        const char *what;
        const char *json;       /* NULL: real_cfg() */
        struct xlmig__vmcfg_edit e;
        const char *says;
    } cases[] = {
        { "a disk it lacks", NULL,
          { .nr_disks = 2, .disks = { { "xvda", "/a", NULL },
                                      { "xvdz", "/b", NULL } } },
          "INVALID_VALUE: VM web1 has no disk xvdz" },
        { "a MAC it lacks", NULL,
          { .nr_nics = 1, .nics = { { "00:16:3e:12:34:57", "xenbr0" } } },
          "INVALID_VALUE: VM web1 has no VIF with MAC 00:16:3e:12:34:57" },
        { "a MAC that is not one", NULL,
          { .nr_nics = 1, .nics = { { "eth0", "xenbr0" } } },
          "INVALID_VALUE: VM web1 has no VIF with MAC eth0" },
        { "not a configuration", "{\"c_info\": {}, \"b_info\": {}}",
          { .name = "x" },
          "INVALID_VALUE: domain configuration to rewrite: c_info has no "
          "name" },
        { "not JSON", "{", { 0 }, "not valid JSON" },
    };
    char *real = real_cfg(REAL_ARGS);
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const char *json = cases[i].json ? cases[i].json : real;
        char *out = (char *)"not cleared";

        reset_log();
        assert_int_equal(xlmig__vmcfg_rewrite(ctx, json, strlen(json),
                                              &cases[i].e, &out),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_null(out);
        assert_int_equal(cap.count, 1);
        if (!strstr(cap.text, cases[i].says))
            fail_msg("%s: expected \"%s\" in:\n%s", cases[i].what,
                     cases[i].says, cap.text);
    }
    free(real);
}

/* ------------------------------------------------------------ the tree */

static void test_tree(void **state)
{
    static const struct {
        const char *json;
        const char *why;        /* NULL: a tree */
    } cases[] = {
        { "{}", NULL },
        { SMALL_CFG, NULL },
        /* Only JSON and an object: the members are parse()'s business. */
        { "{\"anything\": [1, 2.5e3, 18446744073709551616]}", NULL },
        { "[]", "not a JSON object" },
        { "1", "not a JSON object" },
        { "null", "not a JSON object" },
        { "{", "not valid JSON" },
        { "", "not valid JSON" },
        { "{\"a\": \"\\u0000\"}", "NUL character" },
    };
    yajl_val root;
    char why[256];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        int rc;

        root = NULL;
        why[0] = '\0';
        rc = xlmig__vmcfg_tree(cases[i].json, strlen(cases[i].json), &root,
                               why, sizeof(why));
        if (!cases[i].why) {
            if (rc)
                fail_msg("\"%s\": %s", cases[i].json, why);
            assert_true(YAJL_IS_OBJECT(root));
            yajl_tree_free(root);
            continue;
        }
        assert_int_equal(rc, LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_null(root);
        assert_contains(why, cases[i].why);
    }
    {
        char *huge = gen_huge(), *deep = gen_deep();

        root = NULL;
        assert_int_equal(xlmig__vmcfg_tree(huge, strlen(huge), &root, why,
                                           sizeof(why)),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_null(root);
        assert_contains(why, "more than 1048576 bytes");
        assert_int_equal(xlmig__vmcfg_tree(deep, strlen(deep), &root, why,
                                           sizeof(why)),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        assert_contains(why, "nested deeper than 32");
        free(huge);
        free(deep);
    }
    /* The text of a NUL byte. */
    root = NULL;
    assert_int_equal(xlmig__vmcfg_tree("{}\0", 3, &root, why, sizeof(why)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_contains(why, "a NUL byte at offset 2");
}

/* ------------------------------------------------------------ VM records */

static int vmrec_setup(void **state)
{
    (void)state;
    return testfs_dir_setup("test-vmrec");
}

static char *small_named(const char *name)
{
    char *s = NULL;

    if (asprintf(&s, "{\"c_info\": {\"type\": \"pvh\", \"name\": \"%s\"}, "
                 "\"b_info\": {\"max_memkb\": 262144, \"big\": "
                 "18446744073709551615}}", name) < 0)
        fail_msg("out of memory");
    return s;
}

static void save(const char *uuid, const char *name, const char *cfg)
{
    reset_log();
    assert_ok(xlmig__vmrec_save(ctx, tmpdir, uuid, name, cfg, strlen(cfg)));
    assert_int_equal(cap.count, 0);
}

static void test_vmrec_files(void **state)
{
    struct xlmig__vmrec *recs = NULL, r;
    char *real = real_cfg(REAL_ARGS), *small = small_named("db"), *cfg;
    size_t nr = 99;

    (void)state;
    /* No directory yet: nothing, not an error. */
    assert_ok(xlmig__vmrec_list(ctx, tmpdir, &recs, &nr));
    assert_null(recs);
    assert_int_equal(nr, 0);

    save(UUID1, "web1", real);
    save(UUID2, "db", small);
    assert_int_equal(count_entries(at("vm"), ".json"), 2);
    assert_int_equal(count_entries(at("vm"), ".tmp"), 0);

    /* The configuration comes back with every value it had. */
    cfg = NULL;
    assert_ok(xlmig__vmrec_config(ctx, tmpdir, UUID1, &cfg));
    assert_same_tree(cfg, real);
    free(cfg);
    cfg = NULL;
    assert_ok(xlmig__vmrec_config(ctx, tmpdir, UUID2, &cfg));
    assert_same_tree(cfg, small);
    free(cfg);

    /* Sorted by name. */
    assert_ok(xlmig__vmrec_list(ctx, tmpdir, &recs, &nr));
    assert_int_equal(nr, 2);
    assert_string_equal(recs[0].name, "db");
    assert_string_equal(recs[0].uuid, UUID2);
    assert_string_equal(recs[1].name, "web1");
    assert_string_equal(recs[1].uuid, UUID1);
    free(recs);

    /* Found by uuid and by name. */
    memset(&r, 0, sizeof(r));
    assert_ok(xlmig__vmrec_find(ctx, tmpdir, UUID1, &r));
    assert_string_equal(r.name, "web1");
    memset(&r, 0, sizeof(r));
    assert_ok(xlmig__vmrec_find(ctx, tmpdir, "db", &r));
    assert_string_equal(r.uuid, UUID2);
    reset_log();
    assert_int_equal(xlmig__vmrec_find(ctx, tmpdir, "nosuch", &r),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(xlmig__vmrec_find(ctx, tmpdir, UUID3, &r),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_int_equal(cap.count, 0);             /* the caller says it */
    cfg = NULL;
    assert_int_equal(xlmig__vmrec_config(ctx, tmpdir, UUID3, &cfg),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_contains(cap.text, "NOT_FOUND: no record of VM " UUID3);
    assert_null(cfg);

    /* Saved again: replaced, still one file. */
    save(UUID2, "db2", small);
    assert_ok(xlmig__vmrec_find(ctx, tmpdir, UUID2, &r));
    assert_string_equal(r.name, "db2");
    assert_int_equal(count_entries(at("vm"), ".json"), 2);

    /* Leftovers that are not records are passed over by the list. */
    write_file(at("vm/notes.txt"), "x", 1);
    write_file(at("vm/" UUID3 ".json.tmp.1"), "{", 1);
    assert_ok(xlmig__vmrec_list(ctx, tmpdir, &recs, &nr));
    assert_int_equal(nr, 2);
    free(recs);

    /* Removed; removing again, or a non-uuid, is fine. */
    assert_ok(xlmig__vmrec_remove(ctx, tmpdir, UUID1));
    assert_ok(xlmig__vmrec_remove(ctx, tmpdir, UUID1));
    assert_ok(xlmig__vmrec_remove(ctx, tmpdir, "web1"));
    assert_ok(xlmig__vmrec_remove(ctx, tmpdir, NULL));
    assert_int_equal(xlmig__vmrec_find(ctx, tmpdir, "web1", &r),
                     LIBXLMIG_ERR_NOT_FOUND);
    assert_ok(xlmig__vmrec_list(ctx, tmpdir, &recs, &nr));
    assert_int_equal(nr, 1);
    assert_string_equal(recs[0].uuid, UUID2);
    free(recs);
    free(real);
    free(small);
}

static void test_vmrec_two_of_a_name(void **state)
{
    struct xlmig__vmrec r;
    char *cfg = small_named("twin");

    (void)state;
    save(UUID1, "twin", cfg);
    save(UUID2, "twin", cfg);
    save(UUID3, "other", cfg);
    memset(&r, 0x5a, sizeof(r));
    reset_log();
    assert_int_equal(xlmig__vmrec_find(ctx, tmpdir, "twin", &r),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    assert_int_equal(cap.count, 1);
    assert_contains(cap.text, "INVALID_VALUE: 2 VMs are named twin here; "
                    "give the uuid");
    /* The uuid tells them apart. */
    assert_ok(xlmig__vmrec_find(ctx, tmpdir, UUID2, &r));
    assert_string_equal(r.uuid, UUID2);
    assert_string_equal(r.name, "twin");
    assert_ok(xlmig__vmrec_find(ctx, tmpdir, "other", &r));
    assert_string_equal(r.uuid, UUID3);
    free(cfg);
}

static void test_vmrec_save_refused(void **state)
{
    static const struct {
        const char *what;
        const char *uuid, *name, *cfg;
        const char *says;
    } cases[] = {
        { "no uuid", "", "a", SMALL_CFG, "needs a uuid and a name" },
        { "a bad uuid", "web1", "a", SMALL_CFG, "needs a uuid and a name" },
        { "no name", UUID1, "", SMALL_CFG, "needs a uuid and a name" },
        { "a NULL name", UUID1, NULL, SMALL_CFG, "needs a uuid and a name" },
        { "not JSON", UUID1, "a", "{",
          "domain configuration a: not valid JSON" },
        { "not an object", UUID1, "a", "[1]",
          "domain configuration a: the JSON text is an array, not an "
          "object" },
        { "no c_info", UUID1, "a", "{\"b_info\": {\"max_memkb\": 1}}",
          "c_info or b_info is missing" },
        { "a bad disk", UUID1, "a", "{\"c_info\": {\"type\": \"pv\", "
          "\"name\": \"a\"}, \"b_info\": {\"max_memkb\": 1}, \"disks\": "
          "[{}]}", "a disk has no vdev" },
    };
    char *longname = rep('n', XLMIG__DOM_NAME_MAX + 1);
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        reset_log();
        assert_int_equal(xlmig__vmrec_save(ctx, tmpdir, cases[i].uuid,
                                           cases[i].name, cases[i].cfg,
                                           strlen(cases[i].cfg)),
                         LIBXLMIG_ERR_INVALID_ARGUMENT);
        if (!strstr(cap.text, cases[i].says))
            fail_msg("%s: expected \"%s\" in:\n%s", cases[i].what,
                     cases[i].says, cap.text);
        assert_contains(cap.text, "INVALID_VALUE: ");
    }
    assert_int_equal(xlmig__vmrec_save(ctx, tmpdir, UUID1, longname,
                                       SMALL_CFG, strlen(SMALL_CFG)),
                     LIBXLMIG_ERR_INVALID_ARGUMENT);
    /* Nothing was written. */
    assert_int_equal(access(at("vm/" UUID1 ".json"), F_OK), -1);
    free(longname);
}

/* Files in the records' directory that are not records. */
static void test_vmrec_not_a_record(void **state)
{
    static const struct {
        const char *what;
        const char *text;
        const char *says;
        int rc;                 /* 0: LIBXLMIG_ERR_RECORD_INVALID */
    } cases[] = {
        { "not JSON", "{\"version\": 1,", "not valid JSON" },
        { "empty", "", "not valid JSON" },
        { "an array", "[]", "is an array, not an object" },
        { "no config", "{\"version\": 1, \"uuid\": \"" UUID1 "\", \"name\": "
          "\"a\"}", "member \"config\" is not a domain configuration" },
        { "config a string", "{\"version\": 1, \"uuid\": \"" UUID1 "\", "
          "\"name\": \"a\", \"config\": \"c_info\"}",
          "member \"config\" is not a domain configuration" },
        { "config not a domain's", "{\"version\": 1, \"uuid\": \"" UUID1
          "\", \"name\": \"a\", \"config\": {\"c_info\": {}}}",
          "c_info or b_info is missing", LIBXLMIG_ERR_INVALID_ARGUMENT },
        { "version 2", "{\"version\": 2, \"uuid\": \"" UUID1 "\", \"name\": "
          "\"a\", \"config\": " SMALL_CFG "}",
          "version 1, uuid and name are needed" },
        { "no name", "{\"version\": 1, \"uuid\": \"" UUID1 "\", \"config\": "
          SMALL_CFG "}", "version 1, uuid and name are needed" },
        { "a bad uuid", "{\"version\": 1, \"uuid\": \"x\", \"name\": \"a\", "
          "\"config\": " SMALL_CFG "}",
          "version 1, uuid and name are needed" },
        /* A whole record, of another VM than its file name says. */
        { "another VM's", "{\"version\": 1, \"uuid\": \"" UUID2 "\", "
          "\"name\": \"a\", \"config\": " SMALL_CFG "}", "holds VM " UUID2 },
    };
    struct xlmig__vmrec *recs = NULL;
    char *cfg = (char *)"untouched";
    size_t i, nr = 0;
    int rc;

    (void)state;
    save(UUID3, "good", SMALL_CFG);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        write_file(at("vm/" UUID1 ".json"), cases[i].text,
                   strlen(cases[i].text));
        reset_log();
        rc = xlmig__vmrec_config(ctx, tmpdir, UUID1, &cfg);
        if (rc != (cases[i].rc ? cases[i].rc : LIBXLMIG_ERR_RECORD_INVALID))
            fail_msg("%s: rc %d", cases[i].what, rc);
        if (!strstr(cap.text, cases[i].says))
            fail_msg("%s: expected \"%s\" in:\n%s", cases[i].what,
                     cases[i].says, cap.text);
        assert_string_equal(cfg, "untouched");
        /* One bad record is said, not passed over, by the list. */
        assert_int_equal(xlmig__vmrec_list(ctx, tmpdir, &recs, &nr), rc);
        assert_null(recs);
        assert_int_equal(nr, 0);
    }
    /* A directory in a record's place; a file over the cap. */
    unlink(at("vm/" UUID1 ".json"));
    assert_int_equal(mkdir(at("vm/" UUID1 ".json"), 0700), 0);
    reset_log();
    assert_int_equal(xlmig__vmrec_config(ctx, tmpdir, UUID1, &cfg),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(cap.text, "not a regular file");
    rmdir(at("vm/" UUID1 ".json"));
    assert_int_equal(truncate(at("vm/" UUID3 ".json"), XLMIG__VMREC_MAX + 1),
                     0);
    reset_log();
    assert_int_equal(xlmig__vmrec_config(ctx, tmpdir, UUID3, &cfg),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_contains(cap.text, "more than the");
    assert_string_equal(cfg, "untouched");
}

static void test_vmrec_decode(void **state)
{
    static const char good[] = "{\"version\": 1, \"uuid\": \"" UUID1 "\", "
                               "\"name\": \"small\", \"config\": " SMALL_CFG
                               ", \"later\": [1.5]}";
    struct xlmig__vmrec r, before;
    char *cfg = NULL;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_ok(xlmig__vmrec_decode(ctx, "t", (const uint8_t *)good,
                                  strlen(good), &r, &cfg));
    assert_string_equal(r.uuid, UUID1);
    assert_string_equal(r.name, "small");
    assert_same_tree(cfg, SMALL_CFG);
    free(cfg);
    /* Without the configuration. */
    memset(&r, 0, sizeof(r));
    assert_ok(xlmig__vmrec_decode(NULL, "t", (const uint8_t *)good,
                                  strlen(good), &r, NULL));
    assert_string_equal(r.name, "small");

    /* Refused: the output untouched, nothing logged without a context. */
    memset(&r, 0x5a, sizeof(r));
    before = r;
    cfg = (char *)"untouched";
    reset_log();
    assert_int_equal(xlmig__vmrec_decode(NULL, "t", (const uint8_t *)good,
                                         strlen(good) - 1, &r, &cfg),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_int_equal(xlmig__vmrec_decode(NULL, "t", (const uint8_t *)"{}", 2,
                                         &r, &cfg),
                     LIBXLMIG_ERR_RECORD_INVALID);
    assert_int_equal(cap.count, 0);
    assert_memory_equal(&r, &before, sizeof(r));
    assert_string_equal(cfg, "untouched");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_real),
        cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_parse_nul_byte),
        cmocka_unit_test(test_defbools),
        cmocka_unit_test(test_devices_counted),
        cmocka_unit_test(test_mac_parse),
        cmocka_unit_test(test_rewrite),
        cmocka_unit_test(test_rewrite_adds),
        cmocka_unit_test(test_rewrite_refused),
        cmocka_unit_test(test_tree),
        cmocka_unit_test_setup_teardown(test_vmrec_files, vmrec_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_vmrec_two_of_a_name,
                                        vmrec_setup, dir_teardown),
        cmocka_unit_test_setup_teardown(test_vmrec_save_refused, vmrec_setup,
                                        dir_teardown),
        cmocka_unit_test_setup_teardown(test_vmrec_not_a_record,
                                        vmrec_setup, dir_teardown),
        cmocka_unit_test(test_vmrec_decode),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
