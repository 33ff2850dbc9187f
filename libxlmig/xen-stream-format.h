/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Layouts of the streams that `xl migrate` / `xl save` write, as Xen 4.17
 * defines them (internal).  Our own definitions, written from Xen's
 * specifications, not Xen's headers:
 *
 *  - xl header: xen tools/xl/xl.h (struct save_file_header) and
 *    tools/xl/xl_saverestore.c (save_domain_core_writeconfig);
 *  - libxl stream: xen docs/specs/libxl-migration-stream.pandoc and
 *    tools/libs/light/libxl_sr_stream_format.h;
 *  - libxc stream: xen docs/specs/libxc-migration-stream.pandoc and
 *    tools/libs/guest/xg_sr_stream_format.h (image version 3 since 4.14:
 *    STATIC_DATA_END, X86_CPUID_POLICY, X86_MSR_POLICY).
 *
 * Byte order: the xl header is in the saving host's order (the byteorder
 * field tells which); the libxl header and the libxc image header are
 * big-endian; everything else (libxl and libxc records, the libxc domain
 * header) is in the order the header's options give, little-endian on
 * x86 and Arm, the only order we follow.
 */
#ifndef XLMIG_XEN_STREAM_FORMAT_H
#define XLMIG_XEN_STREAM_FORMAT_H

/* ---- xl header: 48 bytes, then optional_data_len bytes -------------- */
#define XLMIG__XL_MAGIC "Xen saved domain, xl format\n \0 \r"
#define XLMIG__XL_MAGIC_LEN 32
#define XLMIG__XL_HDR_LEN 48            /* magic + 4 x u32 */
#define XLMIG__XL_BYTEORDER 0x01020304u
/* Offsets of the u32 fields after the magic. */
#define XLMIG__XL_OFF_BYTEORDER 32
#define XLMIG__XL_OFF_MANDATORY 36
#define XLMIG__XL_OFF_OPTIONAL 40
#define XLMIG__XL_OFF_OPTDATA_LEN 44
#define XLMIG__XL_FLAG_JSON (1u << 0)   /* config data is JSON */
#define XLMIG__XL_FLAG_STREAMV2 (1u << 1)   /* a libxl v2 stream follows */
/* Optional data: u32 config length, then the config (JSON, NUL-ended). */

/* ---- libxl stream ------------------------------------------------------ */
/* Header, 16 bytes, big-endian: u64 ident, u32 version, u32 options. */
#define XLMIG__LIBXL_HDR_LEN 16
#define XLMIG__LIBXL_IDENT 0x4c6962786c466d74ull     /* "LibxlFmt" */
#define XLMIG__LIBXL_VERSION 2u
#define XLMIG__LIBXL_OPT_BIG_ENDIAN (1u << 0)
#define XLMIG__LIBXL_OPT_LEGACY (1u << 1)
/* Records: u32 type, u32 length, body padded to 8 bytes. */
#define XLMIG__REC_HDR_LEN 8
#define XLMIG__REC_ALIGN 8
#define XLMIG__LIBXL_REC_END 0u
#define XLMIG__LIBXL_REC_LIBXC_CONTEXT 1u       /* length 0; libxc follows */
#define XLMIG__LIBXL_REC_EMULATOR_XENSTORE_DATA 2u
#define XLMIG__LIBXL_REC_EMULATOR_CONTEXT 3u
#define XLMIG__LIBXL_REC_CHECKPOINT_END 4u
#define XLMIG__LIBXL_REC_CHECKPOINT_STATE 5u
/* Emulator records start with u32 id, u32 index. */
#define XLMIG__LIBXL_EMULATOR_QEMU_TRADITIONAL 1u
#define XLMIG__LIBXL_EMULATOR_QEMU_UPSTREAM 2u

/* ---- libxc stream ------------------------------------------------------ */
/*
 * Image header, 24 bytes, big-endian: u64 marker, u32 id, u32 version,
 * u16 options, u16 reserved, u32 reserved.
 */
#define XLMIG__LIBXC_IHDR_LEN 24
#define XLMIG__LIBXC_MARKER 0xffffffffffffffffull
#define XLMIG__LIBXC_ID 0x58454e46u                  /* "XENF" */
#define XLMIG__LIBXC_VERSION 3u                      /* 4.14 and later */
#define XLMIG__LIBXC_OPT_BIG_ENDIAN (1u << 0)
/*
 * Domain header, 16 bytes: u32 type, u16 page_shift, u16 reserved,
 * u32 xen_major, u32 xen_minor.
 */
#define XLMIG__LIBXC_DHDR_LEN 16
#define XLMIG__LIBXC_DOM_X86_PV 1u
#define XLMIG__LIBXC_DOM_X86_HVM 2u     /* also PVH guests */
#define XLMIG__LIBXC_DOM_X86_PVH 3u     /* reserved in the spec */
#define XLMIG__LIBXC_DOM_ARM 4u
/* Records: like libxl's.  libxc's restore refuses longer ones. */
#define XLMIG__LIBXC_REC_LENGTH_MAX (128u << 20)
#define XLMIG__LIBXC_REC_END 0x00u
#define XLMIG__LIBXC_REC_PAGE_DATA 0x01u
#define XLMIG__LIBXC_REC_X86_PV_INFO 0x02u
#define XLMIG__LIBXC_REC_X86_PV_P2M_FRAMES 0x03u
#define XLMIG__LIBXC_REC_X86_PV_VCPU_BASIC 0x04u
#define XLMIG__LIBXC_REC_X86_PV_VCPU_EXTENDED 0x05u
#define XLMIG__LIBXC_REC_X86_PV_VCPU_XSAVE 0x06u
#define XLMIG__LIBXC_REC_SHARED_INFO 0x07u
#define XLMIG__LIBXC_REC_X86_TSC_INFO 0x08u
#define XLMIG__LIBXC_REC_HVM_CONTEXT 0x09u
#define XLMIG__LIBXC_REC_HVM_PARAMS 0x0au
#define XLMIG__LIBXC_REC_TOOLSTACK 0x0bu
#define XLMIG__LIBXC_REC_X86_PV_VCPU_MSRS 0x0cu
#define XLMIG__LIBXC_REC_VERIFY 0x0du
#define XLMIG__LIBXC_REC_CHECKPOINT 0x0eu
#define XLMIG__LIBXC_REC_CHECKPOINT_DIRTY_PFN_LIST 0x0fu
#define XLMIG__LIBXC_REC_STATIC_DATA_END 0x10u
#define XLMIG__LIBXC_REC_X86_CPUID_POLICY 0x11u  /* u32 x6 per leaf */
#define XLMIG__LIBXC_REC_X86_MSR_POLICY 0x12u    /* u32 idx, u32 flags, u64 */
#define XLMIG__LIBXC_REC_OPTIONAL 0x80000000u

/*
 * PAGE_DATA body: u32 count (> 0), u32 reserved, u64 pfn[count], then
 * 4096 bytes for each pfn whose type carries data, in pfn-array order.
 * pfn bits 63-60: type (XEN_DOMCTL_PFINFO_* >> 28), 59-52 reserved,
 * 51-0 the pfn.  libxc sends at most 1024 pfns per record.
 */
#define XLMIG__PAGE_DATA_HDR_LEN 8
#define XLMIG__PAGE_DATA_PFN_MASK 0x000fffffffffffffull
#define XLMIG__PAGE_DATA_TYPE_SHIFT 60
#define XLMIG__PAGE_DATA_BATCH_MAX 1024u
#define XLMIG__PFINFO_NOTAB 0x0u
#define XLMIG__PFINFO_L1TAB 0x1u
#define XLMIG__PFINFO_L2TAB 0x2u
#define XLMIG__PFINFO_L3TAB 0x3u
#define XLMIG__PFINFO_L4TAB 0x4u
#define XLMIG__PFINFO_LPINTAB 0x8u      /* or-ed into L1TAB..L4TAB */
#define XLMIG__PFINFO_BROKEN 0xdu
#define XLMIG__PFINFO_XALLOC 0xeu
#define XLMIG__PFINFO_XTAB 0xfu

/* Whether a PAGE_DATA type is known, and whether 4 KiB of data follow. */
static inline int xlmig__pfinfo_known(unsigned type)
{
    return type <= 0x4u || (type >= 0x9u && type <= 0xfu);
}

static inline int xlmig__pfinfo_has_data(unsigned type)
{
    return type <= 0x4u || (type >= 0x9u && type <= 0xcu);
}

/* X86_TSC_INFO body: u32 mode, u32 khz, u64 nsec, u32 incarnation, u32 0. */
#define XLMIG__TSC_INFO_LEN 24
/* HVM_PARAMS body: u32 count, u32 0, then count x (u64 index, u64 value). */
#define XLMIG__HVM_PARAMS_HDR_LEN 8

#endif /* XLMIG_XEN_STREAM_FORMAT_H */
