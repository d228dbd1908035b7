/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* What the first bytes of a stream say it is.  Pure functions, no I/O. */

typedef enum Compression {
        COMPRESSION_NONE,
        COMPRESSION_GZIP,
        COMPRESSION_XZ,
        COMPRESSION_ZSTD,
        COMPRESSION_BZIP2,
} Compression;

typedef enum ImageFormat {
        IMAGE_RAW,              /* also ISO 9660, which is raw bytes */
        IMAGE_QCOW2,
        IMAGE_VMDK,
        IMAGE_VHD,
        IMAGE_VHDX,
        IMAGE_VDI,
        IMAGE_QCOW,             /* qcow version 1: refused */
} ImageFormat;

/* The first 8 bytes are enough. */
Compression detect_compression(const unsigned char *buf, size_t n);
/* Needs up to FORMAT_PROBE_SIZE bytes (fewer: fewer formats recognised). */
#define FORMAT_PROBE_SIZE (64 * 1024)
ImageFormat detect_format(const unsigned char *buf, size_t n);

const char *compression_name(Compression c);
/* qemu-img's name for the format */
const char *image_format_name(ImageFormat f);

/* Whether the n bytes are all zero. */
bool all_zero(const unsigned char *buf, size_t n);
/* The next run of blocks (of block bytes; the last may be shorter) that
 * are not all zero in buf[0, n), from *pos: [*start, *end), *pos moved
 * past it.  false when only zero blocks are left.  What is written of an
 * image: zero blocks stay holes. */
bool next_data_run(const unsigned char *buf, size_t n, size_t block, size_t *pos, size_t *start, size_t *end);
