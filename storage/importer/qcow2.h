/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* qcow2 read as a stream, in the order its bytes arrive: one pass over
 * the image, no random access, no qemu-img.
 *
 * Clusters arrive in host order.  The header (cluster 0) says where the L1
 * table is; the L1 table says where the L2 tables are; an L2 table says
 * where each guest cluster's data is.  Whatever arrives after the table
 * that names it (the usual layout: qemu allocates an L2 table before the
 * data it maps) is written into the volume as it passes.  Whatever
 * arrives before (or is not known yet) is kept in a spill file at its host
 * offset, and read back from there once a table names it: an image laid
 * out backwards costs what a scratch copy costs, never a wrong byte.
 * Compressed clusters (zlib or zstd) are read back from the spill file
 * once all their bytes have arrived.
 *
 * Refused (qcow2_header_parse returns -1): a backing file, an external data
 * file, a header that makes no sense.  Left to qemu-img (returns 1):
 * valid images this reader does not do — encryption, extended L2 entries,
 * an image marked corrupt, unknown incompatible features — or should not:
 * internal snapshots (their clusters would all be spilled). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

typedef struct Qcow2Header {
        uint32_t version;               /* 2 or 3 */
        uint32_t cluster_bits;          /* 9 .. 21 */
        uint64_t size;                  /* virtual size, bytes */
        uint64_t l1_offset;
        uint32_t l1_size;               /* entries */
        uint32_t compression;           /* 0 zlib (deflate), 1 zstd */
} Qcow2Header;

/* From the first bytes of the image (64 KiB hold every header qemu
 * writes).  0: streamable, h filled.  -1: refused, *error says why.
 * 1: valid qcow2 for qemu-img, *error says what it has. */
int qcow2_header_parse(const unsigned char *buf, size_t n, Qcow2Header *h, char **error);

typedef struct Qcow2Stream Qcow2Stream;

/* Writes guest data into target_fd (which reads as zeros where nothing is
 * written: zero clusters are skipped), keeps what it cannot place yet in
 * spill_fd (an empty file).  The stream may not run past max_bytes. */
Qcow2Stream *qcow2_stream_new(const Qcow2Header *h, int target_fd, int spill_fd, uint64_t max_bytes);
/* The image's next n bytes.  0, or -1 with *error. */
int qcow2_stream_feed(Qcow2Stream *s, const unsigned char *buf, size_t n, char **error);
/* At the end of the image: what is still owed is placed or is an error
 * (a table or a cluster past the end is a truncated image). */
int qcow2_stream_finish(Qcow2Stream *s, char **error);
/* The errno of a failed write to the target (ENOSPC: a full file
 * system), 0 when no write failed. */
int qcow2_stream_write_errno(const Qcow2Stream *s);
/* Bytes kept in the spill file (not zeros), for the record. */
uint64_t qcow2_stream_spilled(const Qcow2Stream *s);
Qcow2Stream *qcow2_stream_free(Qcow2Stream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Qcow2Stream, qcow2_stream_free)
