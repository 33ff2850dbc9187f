/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xlmig-xe --complete: what a shell's completion offers
 * (tools/completion/xlmig), one word a line, from the tables the
 * parser and --help use:
 *
 *   --complete commands            the command table's names
 *   --complete keys COMMAND        the keys COMMAND takes ("vm=", and a
 *                                  map's prefix as it is: "vdi:"), then
 *                                  what xe's grammar adds to every
 *                                  command: "params=", "--minimal"
 *                                  (and a listing's "--json")
 *   --complete values COMMAND KEY [WORD...]
 *                                  what KEY= may be: names and uuids of
 *                                  the local state (SRs, VDIs, VMs, hosts)
 *                                  and of the pool's xlmigd, the fields
 *                                  of params=, a flag's true and false...
 *
 * The WORDs are the other words of the command line: config= and
 * state-dir= say where to look, as they do for the command; vm= narrows
 * a vdi: map's keys to that VM's disks.  A value list may begin with a
 * directive: "@list" (KEY takes a comma-separated list), "@file" or
 * "@dir" (KEY is a path: the shell completes file names).
 *
 * A shell waits for this at each TAB: nothing is said on stderr but a
 * usage error, a word is printed only when it is 1 to
 * XE_COMPLETE_WORD_MAX name bytes (so that it needs no quoting), and
 * values take XE_COMPLETE_MS at most: then the process ends with what it
 * printed (the local state's words come first; an unreachable or silent
 * daemon gives nothing).
 */
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "cpurecord.h"
#include "internal.h"
#include "jsonfile.h"
#include "pool-client.h"
#include "poolconf.h"
#include "poolstate.h"
#include "rpc.h"
#include "sr.h"
#include "vmrec.h"
#include "xe-args.h"
#include "xe-cmd.h"

#define XE_COMPLETE_WORD_MAX 255
#define XE_COMPLETE_WORDS_MAX 4096      /* distinct words printed */
#define XE_COMPLETE_MS 500

/* ------------------------------------------------------------ output */

/* The words printed so far: each is printed once. */
struct out {
    char **seen;
    size_t n;
};

static sigset_t alarm_set;

static bool word_ok(const char *w)
{
    size_t n = strnlen(w, XE_COMPLETE_WORD_MAX + 1), i;

    if (n == 0 || n > XE_COMPLETE_WORD_MAX)
        return false;
    for (i = 0; i < n; i++) {
        if (!xlmig__name_byte_ok(w[i]))
            return false;
    }
    return true;
}

/*
 * Print @w (a directive, or a word that passes word_ok()) on a line of
 * its own, once; whole, even when the pool's time runs out meanwhile.
 */
static void emit(struct out *o, const char *w)
{
    sigset_t old;
    size_t i;

    if (!w || (w[0] != '@' && !word_ok(w)) || o->n == XE_COMPLETE_WORDS_MAX)
        return;
    for (i = 0; i < o->n; i++) {
        if (!strcmp(o->seen[i], w))
            return;
    }
    o->seen[o->n] = strdup(w);
    if (!o->seen[o->n])
        return;
    o->n++;
    sigprocmask(SIG_BLOCK, &alarm_set, &old);
    printf("%s\n", w);
    fflush(stdout);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void out_dispose(struct out *o)
{
    size_t i;

    for (i = 0; i < o->n; i++)
        free(o->seen[i]);
    free(o->seen);
    o->seen = NULL;
    o->n = 0;
}

/* ------------------------------------------------------------ kinds */

enum kind {
    K_NONE,
    K_VM,               /* names and uuids */
    K_HOST,             /* names */
    K_SR,               /* uuids and names */
    K_SR_UUID,
    K_SR_NAME,
    K_VDI,              /* uuids (with vm= on the line: its disks) */
    K_VDI_NAME,
    K_TASK,             /* the pool's migrations in flight */
    K_FIELDS,           /* params=: the fields the command's help lists */
    K_BOOL,
    K_FORMAT,           /* of a VDI */
    K_ON_BOOT,
    K_CAPS,             /* of an SR */
    K_POOL_PARAM,
    K_FILE,
    K_DIR,
};

/*
 * What each key's values are.  @cmd NULL: in every command that takes
 * the key; "sr-" (ending in '-'): in the commands it begins; else in
 * that command only.  A map's prefix ("vdi:") has the kind of its keys
 * and @map the kind of their values.  The first row that matches
 * counts; a key not here has no values to offer.
 */
static const struct value_kind {
    const char *key;
    const char *cmd;
    enum kind kind;
    enum kind map;
} value_kinds[] = {
    { "vm", NULL, K_VM, K_NONE },
    { "host", NULL, K_HOST, K_NONE },
    { "host-uuid", NULL, K_HOST, K_NONE },
    { "sr", NULL, K_SR, K_NONE },
    { "sr-uuid", NULL, K_SR, K_NONE },
    { "vdi-uuid", NULL, K_VDI, K_NONE },
    { "vdi:", NULL, K_VDI, K_SR },
    { "uuid", "sr-", K_SR_UUID, K_NONE },
    { "uuid", "vdi-", K_VDI, K_NONE },
    { "uuid", "task-", K_TASK, K_NONE },
    { "name-label", "sr-list", K_SR_NAME, K_NONE },
    { "name-label", "vdi-list", K_VDI_NAME, K_NONE },
    { "params", NULL, K_FIELDS, K_NONE },
    { "format", NULL, K_FORMAT, K_NONE },
    { "on-boot", NULL, K_ON_BOOT, K_NONE },
    { "capabilities", NULL, K_CAPS, K_NONE },
    { "param-name", NULL, K_POOL_PARAM, K_NONE },
    { "abandon", NULL, K_BOOL, K_NONE },
    { "cbt-enabled", NULL, K_BOOL, K_NONE },
    { "compress", NULL, K_BOOL, K_NONE },
    { "copy", NULL, K_BOOL, K_NONE },
    { "cpuid", NULL, K_BOOL, K_NONE },
    { "encrypted", NULL, K_BOOL, K_NONE },
    { "force", NULL, K_BOOL, K_NONE },
    { "live", NULL, K_BOOL, K_NONE },
    { "migration-compression", NULL, K_BOOL, K_NONE },
    { "records-only", NULL, K_BOOL, K_NONE },
    { "sharable", NULL, K_BOOL, K_NONE },
    { "skip-unmovable", NULL, K_BOOL, K_NONE },
    { "config", NULL, K_FILE, K_NONE },
    { "file", NULL, K_FILE, K_NONE },
    { "qmp", NULL, K_FILE, K_NONE },
    { "remote-config", NULL, K_FILE, K_NONE },
    { "switch-file", NULL, K_FILE, K_NONE },
    { "upgrade-command", NULL, K_FILE, K_NONE },
    { "device-config:path", NULL, K_DIR, K_NONE },
    { "state-dir", NULL, K_DIR, K_NONE },
};

#define VALUE_KINDS_LEN (sizeof(value_kinds) / sizeof(value_kinds[0]))

static bool row_for(const struct value_kind *r, const char *cmd)
{
    size_t n;

    if (!r->cmd)
        return true;
    n = strlen(r->cmd);
    if (r->cmd[n - 1] == '-')
        return !strncmp(cmd, r->cmd, n);
    return !strcmp(cmd, r->cmd);
}

/*
 * The kind of @key='s values in command @c: K_NONE unless @c takes the
 * key.  "vdi:" is the kind of a map's keys, "vdi:UUID" of its values.
 */
static enum kind kind_of(const struct xe_cmd *c, const char *key)
{
    const char *table_key = NULL;
    bool map_value = false;
    size_t i;

    if (!strcmp(key, "params")) {
        table_key = key;        /* xe_args_parse() takes it everywhere */
    } else {
        for (i = 0; c->keys[i] && !table_key; i++) {
            size_t n = strlen(c->keys[i]);

            if (!strcmp(key, c->keys[i]))
                table_key = c->keys[i];
            else if (c->keys[i][n - 1] == ':' &&
                     !strncmp(key, c->keys[i], n)) {
                table_key = c->keys[i];
                map_value = true;
            }
        }
    }
    if (!table_key)
        return K_NONE;
    for (i = 0; i < VALUE_KINDS_LEN; i++) {
        if (!strcmp(value_kinds[i].key, table_key) &&
            row_for(&value_kinds[i], c->name))
            return map_value ? value_kinds[i].map : value_kinds[i].kind;
    }
    return K_NONE;
}

/* ------------------------------------------------------------ sources */

/* Where to look, from the command line's other words. */
struct where {
    const char *state_dir;      /* NULL: $XLMIG_STATE_DIR or the default */
    const char *config;         /* NULL: $XLMIG_CONFIG or the default */
    const char *vm;             /* vm=, or NULL */
};

/* What follows @prefix in @word, or NULL when it does not begin so. */
static const char *after(const char *word, const char *prefix)
{
    size_t n = strlen(prefix);

    return !strncmp(word, prefix, n) && word[n] ? word + n : NULL;
}

static void where_of(struct where *w, int argc, char **argv)
{
    const char *v;
    int i;

    memset(w, 0, sizeof(*w));
    for (i = 0; i < argc && i < 2 * XE_ARGS_MAX; i++) {
        if (strnlen(argv[i], XE_ARGS_KEY_MAX + XE_ARGS_VALUE_MAX + 2) >
            XE_ARGS_KEY_MAX + XE_ARGS_VALUE_MAX + 1)
            continue;           /* the command would refuse it too */
        if ((v = after(argv[i], "state-dir=")))
            w->state_dir = v;
        else if ((v = after(argv[i], "config=")))
            w->config = v;
        else if ((v = after(argv[i], "vm=")))
            w->vm = v;
    }
}

/* SRs: their uuids and/or names. */
static void emit_srs(struct out *o, libxlmig_ctx *ctx, const struct where *w,
                     bool uuids, bool names)
{
    struct xlmig__sr *srs = NULL;
    size_t nr = 0, i;

    if (xlmig__sr_list(ctx, w->state_dir, &srs, &nr))
        return;
    for (i = 0; i < nr; i++) {
        if (uuids)
            emit(o, srs[i].uuid);
        if (names)
            emit(o, srs[i].name);
    }
    free(srs);
}

/*
 * What the VDIs of every SR give: with @vm_names the names of the VMs
 * their VBDs name; else their uuids (or @names), those of VM @only
 * when not NULL.  Returns how many VDIs gave something.
 */
enum vdi_part { VDI_UUIDS, VDI_NAMES, VDI_VMS };

static size_t emit_vdis(struct out *o, libxlmig_ctx *ctx,
                        const struct where *w, enum vdi_part part,
                        const char *only)
{
    struct xlmig__sr *srs = NULL;
    size_t nr = 0, i, k, b, count = 0;

    if (xlmig__sr_list(ctx, w->state_dir, &srs, &nr))
        return 0;
    for (i = 0; i < nr; i++) {
        struct xlmig__vdi *vdis = NULL;
        size_t nv = 0;

        if (xlmig__vdi_list(ctx, &srs[i], &vdis, &nv))
            continue;
        for (k = 0; k < nv; k++) {
            bool mine = !only;

            for (b = 0; b < vdis[k].nr_vbds && b < XLMIG__VDI_VBDS_MAX;
                 b++) {
                if (part == VDI_VMS)
                    emit(o, vdis[k].vbds[b].vm);
                else if (only && !strcmp(vdis[k].vbds[b].vm, only))
                    mine = true;
            }
            if (part == VDI_VMS || !mine)
                continue;
            emit(o, part == VDI_NAMES ? vdis[k].name : vdis[k].uuid);
            count++;
        }
        free(vdis);
    }
    free(srs);
    return count;
}

/* The names of STATE/@sub/NAME.json: the CPU records of hosts or VMs. */
static void emit_record_names(struct out *o, const struct where *w,
                              const char *sub)
{
    char dir[XLMIG__JSONFILE_PATH_MAX];
    struct dirent *e;
    DIR *d;

    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s",
                         xlmig__state_dir(w->state_dir), sub) >= sizeof(dir))
        return;
    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d))) {
        char name[XLMIG__RECORD_NAME_MAX + 1];
        size_t n = strnlen(e->d_name, sizeof(name) + 5);

        if (n <= 5 || n - 5 >= sizeof(name) ||
            strcmp(e->d_name + n - 5, ".json") || e->d_name[0] == '.')
            continue;
        memcpy(name, e->d_name, n - 5);
        name[n - 5] = '\0';
        emit(o, name);
    }
    closedir(d);
}

/* VMs this host records: halted ones (vmrec.h), disks' VBDs, CPU. */
static void emit_local_vms(struct out *o, libxlmig_ctx *ctx,
                           const struct where *w)
{
    struct xlmig__vmrec *recs = NULL;
    size_t nr = 0, i;

    if (!xlmig__vmrec_list(ctx, w->state_dir, &recs, &nr)) {
        for (i = 0; i < nr; i++) {
            emit(o, recs[i].name);
            emit(o, recs[i].uuid);
        }
        free(recs);
    }
    (void)emit_vdis(o, ctx, w, VDI_VMS, NULL);
    emit_record_names(o, w, "vms");
}

/* ------------------------------------------------------------ the pool */

static void out_of_time(int sig)
{
    (void)sig;
    _exit(0);                   /* what was printed stands */
}

/* From now on the process ends XE_COMPLETE_MS later at the latest. */
static void deadline(void)
{
    struct itimerval it;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = out_of_time;
    sigaction(SIGALRM, &sa, NULL);
    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = XE_COMPLETE_MS / 1000;
    it.it_value.tv_usec = (XE_COMPLETE_MS % 1000) * 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Member @a and @b of every element of @method's answer at @address. */
static void emit_answer(struct out *o, libxlmig_ctx *ctx,
                        const struct xlmig__pool_conf *conf,
                        const char *address, const char *method,
                        const char *a, const char *b)
{
    struct xlmig__rpc_msg resp;
    size_t i;

    memset(&resp, 0, sizeof(resp));
    if (!xlmig__pool_call_once(ctx, conf, address, method, NULL, &resp) &&
        YAJL_IS_ARRAY(resp.result)) {
        for (i = 0; i < resp.result->u.array.len; i++) {
            yajl_val e = resp.result->u.array.values[i];

            emit(o, xlmig__rpc_get_str(e, a));
            if (b)
                emit(o, xlmig__rpc_get_str(e, b));
        }
    }
    xlmig__rpc_msg_dispose(&resp);
}

/* What the pool's xlmigd know of @kind (K_VM, K_HOST, K_TASK). */
static void emit_pool(struct out *o, libxlmig_ctx *ctx, const struct where *w,
                      enum kind kind)
{
    struct xlmig__pool_conf conf;
    struct xlmig__pool_hosts hs;
    size_t i;

    if (xlmig__pool_conf_load(ctx, w->config, &conf))
        return;
    if (kind == K_HOST)
        emit(o, conf.name);
    if (kind == K_TASK) {
        emit_answer(o, ctx, &conf, NULL, "task.list", "uuid", NULL);
        return;
    }
    if (xlmig__pool_hosts(ctx, &conf, &hs)) {
        /* No master: this host's own daemon still knows its VMs. */
        hs.n = 1;
        xlmig__strlcpy(hs.h[0].name, conf.name, sizeof(hs.h[0].name));
        xlmig__strlcpy(hs.h[0].address, conf.address,
                       sizeof(hs.h[0].address));
    }
    for (i = 0; i < hs.n; i++) {
        if (kind == K_HOST)
            emit(o, hs.h[i].name);
        else
            emit_answer(o, ctx, &conf, hs.h[i].address, "vm.list", "name",
                        "uuid");
    }
}

/* ------------------------------------------------------------ values */

/*
 * The fields command @c's help lists after "Fields:" (what params=
 * takes): its words of name bytes, up to the first other word or the
 * first line that is not indented.
 */
static void emit_fields(struct out *o, const struct xe_cmd *c)
{
    const char *p = strstr(c->help, "Fields:");
    char word[XE_COMPLETE_WORD_MAX + 1];

    if (!p)
        return;
    p += strlen("Fields:");
    for (;;) {
        size_t n, i;

        while (*p == ' ')
            p++;
        if (*p == '\n') {
            p++;
            if (*p != ' ')
                return;
            continue;
        }
        n = strcspn(p, " \n");
        if (n == 0 || n >= sizeof(word))
            return;
        for (i = 0; i < n; i++) {
            if (!xlmig__name_byte_ok(p[i]))
                return;
        }
        memcpy(word, p, n);
        word[n] = '\0';
        emit(o, word);
        p += n;
    }
}

static void emit_values(struct out *o, const struct xe_cmd *c, enum kind k,
                        const struct where *w)
{
    libxlmig_ctx *ctx = NULL;
    size_t i;

    if (libxlmig_ctx_new(xlmig__silent_logger(), LIBXLMIG_LOG_CRITICAL,
                         &ctx))
        return;
    switch (k) {
    case K_VM:
        /* vm-migrate and vm-assert-can-migrate take a list (cmd-batch.c) */
        if (c->keys == xe_keys_vm_migrate)
            emit(o, "@list");
        emit_local_vms(o, ctx, w);
        emit_pool(o, ctx, w, K_VM);
        break;
    case K_HOST:
        emit_record_names(o, w, "hosts");
        emit_pool(o, ctx, w, K_HOST);
        break;
    case K_TASK:
        emit_pool(o, ctx, w, K_TASK);
        break;
    case K_SR:
    case K_SR_UUID:
    case K_SR_NAME:
        emit_srs(o, ctx, w, k != K_SR_NAME, k != K_SR_UUID);
        break;
    case K_VDI:
        if (!w->vm || !emit_vdis(o, ctx, w, VDI_UUIDS, w->vm))
            (void)emit_vdis(o, ctx, w, VDI_UUIDS, NULL);
        break;
    case K_VDI_NAME:
        (void)emit_vdis(o, ctx, w, VDI_NAMES, NULL);
        break;
    case K_FIELDS:
        emit(o, "@list");
        emit_fields(o, c);
        break;
    case K_BOOL:
        emit(o, "true");
        emit(o, "false");
        break;
    case K_FORMAT:
        emit(o, xlmig__vdi_format_name(XLMIG__VDI_QCOW2));
        emit(o, xlmig__vdi_format_name(XLMIG__VDI_RAW));
        break;
    case K_ON_BOOT:
        emit(o, xlmig__vdi_on_boot_name(XLMIG__VDI_PERSIST));
        emit(o, xlmig__vdi_on_boot_name(XLMIG__VDI_RESET));
        break;
    case K_CAPS:
        emit(o, "@list");
        for (i = 0; i < XLMIG__SR_CAPS_COUNT; i++)
            emit(o, xlmig__sr_cap_name(1u << i));
        break;
    case K_POOL_PARAM:
        for (i = 0; xlmig__pool_param_name(i); i++)
            emit(o, xlmig__pool_param_name(i));
        break;
    case K_FILE:
        emit(o, "@file");
        break;
    case K_DIR:
        emit(o, "@dir");
        break;
    case K_NONE:
        break;
    }
    libxlmig_ctx_free(ctx);
}

/* ------------------------------------------------------------ entry */

static const struct xe_cmd *find(const struct xe_cmd *table, size_t n,
                                 const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!strcmp(table[i].name, name))
            return &table[i];
    }
    return NULL;
}

int xe_complete(const struct xe_cmd *table, size_t n, int argc, char **argv)
{
    const struct xe_cmd *c;
    struct out o = { NULL, 0 };
    struct where w;
    size_t i;

    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    if (argc == 1 && !strcmp(argv[0], "commands")) {
        for (i = 0; i < n; i++)
            printf("%s\n", table[i].name);
        return XLMIG__EXIT_OK;
    }
    if (!((argc == 2 && !strcmp(argv[0], "keys")) ||
          (argc >= 3 && !strcmp(argv[0], "values")))) {
        fprintf(stderr, "Usage: xlmig-xe --complete commands | keys COMMAND "
                "| values COMMAND KEY [WORD...]\n");
        return XLMIG__EXIT_USAGE;
    }
    c = find(table, n, argv[1]);
    if (!c)
        return XLMIG__EXIT_OK;  /* nothing to offer */
    if (argc == 2) {
        for (i = 0; c->keys[i]; i++) {
            size_t len = strlen(c->keys[i]);

            printf("%s%s\n", c->keys[i],
                   c->keys[i][len - 1] == ':' ? "" : "=");
        }
        printf("params=\n--minimal\n%s", c->listing ? "--json\n" : "");
        return XLMIG__EXIT_OK;
    }
    if (strnlen(argv[2], XE_ARGS_KEY_MAX + 1) > XE_ARGS_KEY_MAX)
        return XLMIG__EXIT_OK;
    o.seen = calloc(XE_COMPLETE_WORDS_MAX, sizeof(*o.seen));
    if (!o.seen)
        return XLMIG__EXIT_FAILED;
    where_of(&w, argc - 3, argv + 3);
    deadline();
    emit_values(&o, c, kind_of(c, argv[2]), &w);
    out_dispose(&o);
    return XLMIG__EXIT_OK;
}
