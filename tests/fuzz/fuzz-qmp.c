/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Fuzz target for the QMP line classifier (libxlmig/qmp.c), which reads
 * what the QEMU serving a VM's disks sends on its QMP socket.  Feeds the
 * bytes to xlmig__qmp_decode().  A refusal must be PROTOCOL_ERROR with a
 * reason and leave the message disposed.  Whatever decodes must hold
 * what qmp.h promises: a greeting's "QMP" object, a return's value, an
 * error's non-empty class and bounded desc without control characters,
 * an event's non-empty name and object (or no) data; and a value taken
 * out with xlmig__qmp_msg_take() must outlive the message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_controls(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmig__qmp_msg m;
    char why[XLMIG__QMP_WHY_MAX];
    yajl_val taken;
    int rc;

    why[0] = '\0';
    rc = xlmig__qmp_decode((const char *)data, size, &m, why, sizeof(why));
    if (rc) {
        if (rc != LIBXLMIG_ERR_PROTOCOL || !why[0] || m.root || m.value)
            abort();
        xlmig__qmp_msg_dispose(&m);
        return 0;
    }
    if (!m.root || !YAJL_IS_OBJECT(m.root) ||
        strlen(m.id) > XLMIG__QMP_NAME_MAX || (!m.has_id && m.id[0]))
        abort();
    no_controls(m.id);
    switch (m.kind) {
    case XLMIG__QMP_GREETING:
        if (!YAJL_IS_OBJECT(m.value) || m.has_id)
            abort();
        break;
    case XLMIG__QMP_RETURN:
        if (!m.value)
            abort();
        break;
    case XLMIG__QMP_ERROR:
        if (!YAJL_IS_OBJECT(m.value) || !m.err_class[0] ||
            strlen(m.err_class) > XLMIG__QMP_NAME_MAX ||
            strlen(m.err_desc) > XLMIG__QMP_DESC_MAX)
            abort();
        no_controls(m.err_class);
        no_controls(m.err_desc);
        break;
    case XLMIG__QMP_EVENT:
        if (!m.event[0] || strlen(m.event) > XLMIG__QMP_NAME_MAX ||
            (m.value && !YAJL_IS_OBJECT(m.value)) || m.has_id)
            abort();
        no_controls(m.event);
        break;
    default:
        abort();
    }
    /* Take the value (or the whole line) out; it outlives the message. */
    taken = xlmig__qmp_msg_take(&m, m.value ? m.value : m.root);
    if (!taken)
        abort();
    xlmig__qmp_msg_dispose(&m);
    if (taken->type == yajl_t_string && strlen(taken->u.string) > size)
        abort();
    yajl_tree_free(taken);
    return 0;
}
