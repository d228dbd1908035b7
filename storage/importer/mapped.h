/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Images whose block table comes before their data, read in one pass:
 * vdi (VirtualBox), dynamic vhd (Virtual PC, Azure, Xen) and vhdx
 * (Hyper-V).  The tables sit in the first bytes of the file (its
 * "front"); once the front has arrived it is turned into extents — this
 * stretch of the file is the guest's bytes from that offset — and the rest
 * of the stream is written where they say, in the order it arrives, zero
 * blocks skipped.  No random access, no scratch copy, no qemu-img.
 *
 * The readers take what qemu's drivers (block/vdi.c, vpc.c, vhdx.c) read:
 * the same virtual size, the same blocks.  Left to qemu-img (1): layouts
 * whose tables are not in the first MAPPED_MAX_FRONT bytes or come after
 * the data, blocks that share bytes, and variants these readers do not do
 * (a vhdx with a log, 4 KiB sectors; vdi blocks other than 1 MiB; vhd
 * blocks under 64 KiB).  Refused (-1, the reason in *error): differencing
 * images (they need their parent), tables that make no sense. */

#include <stddef.h>
#include <stdint.h>
#include <glib.h>

#include "format.h"

#define MAPPED_MAX_FRONT (8u << 20)     /* 2 TiB of vdi, 4 TiB of vhd, 1-32 TiB of vhdx */

typedef struct MappedExtent {
        uint64_t file_off, guest_off, len;
} MappedExtent;

typedef struct MappedImage {
        ImageFormat fmt;
        uint64_t size;                  /* virtual size, bytes */
        MappedExtent *extents;          /* sorted by file_off, not overlapping */
        size_t n;
} MappedImage;

/* Whether fmt is read here (vdi, vhd, vhdx), and its name in messages. */
gboolean mapped_format(ImageFormat fmt);
const char *mapped_format_name(ImageFormat fmt);
/* From the first n bytes: 0 and *front, the bytes the tables need (more
 * than n: ask again with that many); 1 for qemu-img; -1 refused. */
int mapped_plan(ImageFormat fmt, const unsigned char *buf, size_t n, uint64_t *front, char **error);
/* With the front (n >= what mapped_plan asked): the image's extents.  0,
 * 1 (for qemu-img) or -1 with *error.  An image larger than max_size gets
 * no extents (m->size says how large: the caller refuses it), so a lying
 * table cannot make it build millions. */
int mapped_map(ImageFormat fmt, const unsigned char *buf, size_t n, uint64_t max_size, MappedImage *m,
               char **error);
void mapped_image_clear(MappedImage *m);

typedef struct MappedStream MappedStream;

/* Takes m's extents.  Writes into target_fd, which reads as zeros where
 * nothing is written.  The stream may not run past max_bytes. */
MappedStream *mapped_stream_new(MappedImage *m, int target_fd, uint64_t max_bytes);
/* The image's next n bytes, from its first.  0, or -1 with *error. */
int mapped_stream_feed(MappedStream *s, const unsigned char *buf, size_t n, char **error);
/* At the end: every extent must have arrived. */
int mapped_stream_finish(MappedStream *s, char **error);
/* The errno of a failed write to the target, 0 when none failed. */
int mapped_stream_write_errno(const MappedStream *s);
MappedStream *mapped_stream_free(MappedStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MappedStream, mapped_stream_free)
