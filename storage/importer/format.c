/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdint.h>
#include <string.h>

#include "format.h"

static int has(const unsigned char *buf, size_t n, size_t off, const void *magic, size_t len) {
        return n >= off + len && memcmp(buf + off, magic, len) == 0;
}

Compression detect_compression(const unsigned char *buf, size_t n) {
        if (has(buf, n, 0, "\x1f\x8b", 2))
                return COMPRESSION_GZIP;
        if (has(buf, n, 0, "\xfd" "7zXZ\0", 6))
                return COMPRESSION_XZ;
        if (has(buf, n, 0, "\x28\xb5\x2f\xfd", 4))
                return COMPRESSION_ZSTD;
        if (has(buf, n, 0, "BZh", 3) && n >= 4 && buf[3] >= '1' && buf[3] <= '9')
                return COMPRESSION_BZIP2;
        return COMPRESSION_NONE;
}

ImageFormat detect_format(const unsigned char *buf, size_t n) {
        if (has(buf, n, 0, "QFI\xfb", 4)) {
                uint32_t version = n >= 8 ? (uint32_t) buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7] : 0;
                return version >= 2 ? IMAGE_QCOW2 : IMAGE_QCOW;
        }
        if (has(buf, n, 0, "KDMV", 4) || has(buf, n, 0, "# Disk DescriptorFile", 21))
                return IMAGE_VMDK;
        if (has(buf, n, 0, "vhdxfile", 8))
                return IMAGE_VHDX;
        if (has(buf, n, 0, "conectix", 8))
                return IMAGE_VHD;                /* dynamic VHD: footer copy at 0 */
        if (has(buf, n, 0x40, "\x7f\x10\xda\xbe", 4))
                return IMAGE_VDI;                /* signature 0xbeda107f, little endian */
        return IMAGE_RAW;
}

const char *compression_name(Compression c) {
        static const char *const names[] = { "none", "gzip", "xz", "zstd", "bzip2" };
        return names[c];
}

const char *image_format_name(ImageFormat f) {
        static const char *const names[] = { "raw", "qcow2", "vmdk", "vpc", "vhdx", "vdi", "qcow" };
        return names[f];
}

bool all_zero(const unsigned char *buf, size_t n) {
        static const unsigned char zero[4096];
        for (size_t off = 0; off < n; off += sizeof zero)
                if (memcmp(buf + off, zero, n - off < sizeof zero ? n - off : sizeof zero) != 0)
                        return false;
        return true;
}

bool next_data_run(const unsigned char *buf, size_t n, size_t block, size_t *pos, size_t *start, size_t *end) {
        size_t p = *pos;
        while (p < n && all_zero(buf + p, n - p < block ? n - p : block))
                p += n - p < block ? n - p : block;
        if (p >= n) {
                *pos = n;
                return false;
        }
        size_t e = p;
        while (e < n && !all_zero(buf + e, n - e < block ? n - e : block))
                e += n - e < block ? n - e : block;
        *start = p;
        *end = *pos = e;
        return true;
}
