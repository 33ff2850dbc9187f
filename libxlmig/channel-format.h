/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Wire constants of the stream channel.  The format is specified in
 * docs/specs/channel.md; change both together.
 */
#ifndef XLMIG_CHANNEL_FORMAT_H
#define XLMIG_CHANNEL_FORMAT_H

#define XLMIG__CH_MAGIC "XLMIGCHN"
#define XLMIG__CH_VERSION 1
#define XLMIG__CH_HELLO_LEN 48
#define XLMIG__CH_ROLE_SENDER 1
#define XLMIG__CH_ROLE_RECEIVER 2
#define XLMIG__CH_TRANSFORM_PAGE 0x1u

#define XLMIG__FRAME_HDR_LEN 40
#define XLMIG__FRAME_DATA 1
#define XLMIG__FRAME_END 2
#define XLMIG__FRAME_ABORT 3
#define XLMIG__FRAME_FLAG_PAGE 0x1u

/* Hard caps, checked before anything is allocated. */
#define XLMIG__WIRE_MAX (8u << 20)      /* payload on the wire */
#define XLMIG__RAW_MAX (8u << 20)       /* after the codec */
#define XLMIG__OUT_MAX (16u << 20)      /* handed on */
#define XLMIG__ABORT_MAX 1024u          /* ABORT reason */

#define XLMIG__CHUNK_DEFAULT (1u << 20)
#define XLMIG__CHUNK_MAX (4u << 20)

#endif /* XLMIG_CHANNEL_FORMAT_H */
