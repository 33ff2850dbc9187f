/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The one place that knows which libxl API we build against.  Every file
 * that talks to libxl or libxc includes this header instead of libxl.h,
 * so that differences between Xen releases stay here.
 *
 * Built and tested against Xen 4.17 (Debian 12's libxen-dev).  We pin
 * the libxl API to 0x041300, the newest stable level 4.17 offers, so
 * that a newer libxl keeps giving us the same signatures.
 */
#ifndef XLMIG_XEN_COMPAT_H
#define XLMIG_XEN_COMPAT_H

#define LIBXL_API_VERSION 0x041300

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenguest.h>

struct libxlmig_ctx;

/*
 * A libxl context that reaps only libxl's own children (SIGCHLD is
 * shared with our own children, each reaped by its pid).  Logs, and
 * returns LIBXLMIG_ERR_XEN_CALL_FAILED, when libxl cannot be opened.
 */
int xlmig__libxl_open(struct libxlmig_ctx *ctx, libxl_ctx **lctx_r);

#endif /* XLMIG_XEN_COMPAT_H */
