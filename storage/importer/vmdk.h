/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* streamOptimized vmdk (VMware's format for OVA/OVF exports, and
 * qemu-img's subformat=streamOptimized) read in one pass: after the header
 * and descriptor, each grain comes as a marker — its LBA, its compressed
 * size — and its zlib-compressed bytes; metadata markers (grain tables,
 * directory, footer) are skipped; the end-of-stream marker ends it.  Each
 * grain is written where its marker says, zero blocks skipped.  Other vmdk
 * subformats (monolithicSparse, flat, split) need their grain tables or
 * other files: qemu-img's. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct VmdkHeader {
        uint64_t capacity;              /* virtual size, bytes */
        uint64_t grain;                 /* grain size, bytes */
        uint64_t data_offset;           /* where the markers begin, bytes */
        uint64_t gd_offset;             /* the grain directory before the markers (qemu), bytes;
                                         * 0: at the end (VMware) */
        uint32_t gt_entries;            /* grains per grain table */
} VmdkHeader;

/* From the first bytes (header and embedded descriptor).  0: a
 * streamOptimized vmdk, h filled.  1: another vmdk, for qemu-img (*error
 * says which).  -1: refused, *error says why. */
int vmdk_header_parse(const unsigned char *buf, size_t n, VmdkHeader *h, char **error);

typedef struct VmdkStream VmdkStream;

/* Grains go into target_fd, which reads as zeros where nothing is
 * written.  The stream may not run past max_bytes. */
VmdkStream *vmdk_stream_new(const VmdkHeader *h, int target_fd, uint64_t max_bytes);
/* The image's next n bytes.  0, or -1 with *error. */
int vmdk_stream_feed(VmdkStream *s, const unsigned char *buf, size_t n, char **error);
/* At the end: the end-of-stream marker must have come — or, for qemu's
 * images, which end without one but keep their grain tables up front,
 * every grain those tables name, the stream ending between markers. */
int vmdk_stream_finish(VmdkStream *s, char **error);
/* The errno of a failed write to the target (ENOSPC: a full file
 * system), 0 when no write failed. */
int vmdk_stream_write_errno(const VmdkStream *s);
VmdkStream *vmdk_stream_free(VmdkStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmdkStream, vmdk_stream_free)
